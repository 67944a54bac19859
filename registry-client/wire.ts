/**
 * One HTTP/1.1 exchange on a connected socket (http1.ts keeps the sockets): the request head and body written,
 * the response head parsed, and the body handed out as the very buffers the socket read, not copies. Why not
 * Node's `http` client (issue 22, T1's 1 GiB pull): its llhttp binding copies every body chunk into a new Buffer
 * (`Parser::on_body`, ~12 % of a T1 pull's CPU in memmove, all on the main thread), and a request goes through
 * ClientRequest, IncomingMessage and the agent's bookkeeping. The registry protocol needs little of HTTP/1.1:
 * Content-Length and chunked bodies, bodies read to the close, no body for HEAD/204/304, 1xx skipped, keep-alive
 * unless `Connection: close`; no pipelining (one exchange at a time per socket), no upgrades.
 *
 * Limits: a response head is at most 64 KiB (Node's is 16 KiB), the 1xx heads before it included, and so are the
 * trailers of a chunked body; a chunk-size line at most 4 KiB. Lines end in CRLF (a bare LF is refused, as llhttp
 * does). A connection is reused only after a response that ended cleanly with nothing after it, and a request body
 * written whole; bytes that arrive while no response is due drop it (Go: "Unsolicited response received on idle
 * HTTP channel").
 */
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { chunkSize, fieldLine, parseResponseHead, protocolError, requestHead, type Framing, type Headers, type WireRequest } from './wire-head.js';

export type { Headers, WireRequest } from './wire-head.js';

/** A response body: a byte stream to read once, or to discard (`dump`) or read whole (`text`). */
export interface ResponseBody extends Readable {
  dump(): Promise<void>;
  text(): Promise<string>;
}

export interface WireResponse {
  readonly statusCode: number;
  readonly headers: Headers;
  readonly body: ResponseBody;
}

const MAX_HEAD = 64 * 1024;
const MAX_CHUNK_LINE = 4096;
/** What dump() reads before it gives up on a body and closes its connection instead (undici's dump limit). */
const DUMP_LIMIT = 128 * 1024;

/** The error of a connection that closed before the response was whole (the message Node's client gives). */
export function hangUp(): Error {
  return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}

/**
 * Runs one exchange on `socket`: writes the request, resolves with the response once its head arrived. `done`
 * is called once, when the socket is free again (`reusable`: the response ended cleanly and may be followed by
 * another request) or must be dropped (an error, a close-delimited body, `Connection: close`, a body given up).
 * The body is a Readable with backpressure (the socket pauses while it is full).
 */
export function exchange(socket: Socket, r: WireRequest, done: (reusable: boolean) => void): Promise<WireResponse> {
  return new Promise<WireResponse>((resolve, reject) => {
    let h: string;
    try {
      h = requestHead(r);
    } catch (e) {
      done(true); // nothing was written: the socket is as it was
      reject(e as Error);
      return;
    }
    let buf: Buffer | undefined; // bytes of the head read so far, or of a chunk-size or trailer line
    let scanned = 0; // bytes of `buf` searched for the head's end
    let headBytes = 0; // bytes of the 1xx heads skipped, then of the trailers
    let body: (Readable & ResponseBody) | undefined;
    let failBody: (e: Error) => void = () => undefined;
    let framing: Framing = { kind: 'none' };
    let keepAlive = true;
    let finished = false;
    // Chunked decoding: 'size' reads a size line, 'data' `left` bytes, 'cr' and 'lf' the CRLF after them, 'trailer' lines to an empty one.
    let chunk: 'size' | 'data' | 'cr' | 'lf' | 'trailer' = 'size';
    let left = 0;

    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.off('end', onEnd);
    };
    // The request body is written (a list of buffers asynchronously): a socket is reused only after that, so an
    // answer that came early (a 401 or 413 to an upload) cannot let the next request's bytes mix with the rest.
    let sent = false;
    let finishedReusable: boolean | undefined;
    // Bytes after the response while the body is still being written: no response is due, so the socket is dropped.
    const stray = (): void => { socket.destroy(); };
    const finish = (reusable: boolean): void => {
      if (finished) return;
      finished = true;
      cleanup();
      if (reusable && !sent) {
        finishedReusable = true;
        socket.on('data', stray);
        return; // done() when the writes end
      }
      done(reusable);
    };
    const onSent = (ok: boolean): void => {
      sent = true;
      socket.off('data', stray);
      if (finishedReusable) done(ok && !socket.destroyed);
    };
    const fail = (e: Error): void => {
      if (finished) return;
      finish(false);
      socket.destroy();
      if (body) failBody(e);
      else reject(e);
    };
    const endBody = (rest: Buffer | undefined): void => {
      const b = body!;
      // Bytes after the response are a protocol error (no pipelining here): the socket is not reused.
      finish(keepAlive && (rest === undefined || rest.length === 0));
      if (!keepAlive || (rest !== undefined && rest.length > 0)) socket.destroy();
      b.push(null);
    };
    const deliver = (c: Buffer): void => {
      if (c.length === 0) return;
      if (!body!.push(c)) socket.pause();
    };

    /**
     * Adds `d[i..]` to the line in `buf` up to and including its LF; returns the line without its CRLF once
     * whole (undefined while it is not). A line longer than `max` or ending in a bare LF is refused.
     */
    let lineEnd = 0;
    const line = (d: Buffer, i: number, max: number): string | undefined => {
      const nl = d.indexOf(10, i);
      const part = d.subarray(i, nl < 0 ? d.length : nl + 1);
      buf = buf ? Buffer.concat([buf, part]) : Buffer.from(part);
      lineEnd = i + part.length;
      if (buf.length > max) throw protocolError(chunk === 'trailer' ? `trailers over ${MAX_HEAD} bytes` : 'chunk-size line too long');
      if (nl < 0) return undefined;
      if (buf.length < 2 || buf[buf.length - 2] !== 13) throw protocolError('line ends in a bare LF');
      const l = buf.toString('latin1', 0, buf.length - 2);
      buf = undefined;
      return l;
    };

    /** Feeds body bytes `d` (a view of what the socket read) through the framing. */
    const onBody = (d: Buffer): void => {
      if (framing.kind === 'length') {
        const n = Math.min(framing.left, d.length);
        framing.left -= n;
        deliver(n === d.length ? d : d.subarray(0, n));
        if (framing.left === 0) endBody(d.subarray(n));
        return;
      }
      if (framing.kind === 'close') {
        deliver(d);
        return;
      }
      // chunked
      let i = 0;
      while (i < d.length) {
        if (chunk === 'data') {
          const n = Math.min(left, d.length - i);
          deliver(d.subarray(i, i + n));
          i += n;
          left -= n;
          if (left === 0) chunk = 'cr';
        } else if (chunk === 'cr' || chunk === 'lf') {
          if (d[i++] !== (chunk === 'cr' ? 13 : 10)) throw protocolError('chunk data not followed by CRLF');
          chunk = chunk === 'cr' ? 'lf' : 'size';
        } else if (chunk === 'size') {
          const l = line(d, i, MAX_CHUNK_LINE);
          i = lineEnd;
          if (l === undefined) return;
          const size = chunkSize(l);
          if (size === 0) { chunk = 'trailer'; headBytes = 0; }
          else { chunk = 'data'; left = size; }
        } else {
          const l = line(d, i, MAX_HEAD);
          headBytes += lineEnd - i;
          i = lineEnd;
          if (headBytes > MAX_HEAD) throw protocolError(`trailers over ${MAX_HEAD} bytes`);
          if (l === undefined) return;
          if (l === '') return endBody(d.subarray(i));
          fieldLine(l); // trailers are read and dropped, but must be well formed
        }
      }
    };

    const onData = (d: Buffer): void => {
      try {
        if (body) { onBody(d); return; }
        buf = buf ? Buffer.concat([buf, d]) : d;
        for (;;) {
          // Searched from where the last read left off: a head dribbled a byte at a time costs no rescans.
          const end = buf.indexOf('\r\n\r\n', Math.max(0, scanned - 3));
          const headEnd = end < 0 ? buf.length : end + 4;
          if (headBytes + headEnd > MAX_HEAD) throw protocolError(`head over ${MAX_HEAD} bytes`);
          // Every LF of a head ends a CRLF: a bare one is refused at once rather than waited on to the timeout.
          for (let j = buf.indexOf(10, scanned); j >= 0 && j < headEnd; j = buf.indexOf(10, j + 1)) {
            if (j === 0 || buf[j - 1] !== 13) throw protocolError('head line ends in a bare LF');
          }
          scanned = headEnd;
          if (end < 0) return;
          scanned = 0;
          const head = parseResponseHead(buf.toString('latin1', 0, end), r.method);
          const rest = buf.subarray(end + 4);
          buf = undefined;
          if (!head) {
            // A 1xx: skipped, and counted against the head limit (a stream of them must not go on forever).
            headBytes += headEnd;
            buf = rest.length > 0 ? rest : undefined;
            if (!buf) return;
            continue;
          }
          framing = head.framing;
          keepAlive = head.keepAlive;
          ({ body, fail: failBody } = responseBody(() => { if (!finished) socket.resume(); }, () => {
            // Given up before its end (destroyed by its reader): the connection is dropped with it.
            if (!finished) { finish(false); socket.destroy(); }
          }));
          resolve({ statusCode: head.statusCode, headers: head.headers, body });
          if (framing.kind === 'none') endBody(rest);
          else if (rest.length > 0) onBody(rest);
          return;
        }
      } catch (e) {
        fail(e as Error);
      }
    };
    const onError = (e: Error): void => fail(e);
    const onClose = (): void => {
      if (body && framing.kind === 'close') { finish(false); body.push(null); return; }
      fail(hangUp());
    };
    const onEnd = (): void => {
      if (body && framing.kind === 'close') { finish(false); body.push(null); socket.destroy(); return; }
      fail(hangUp());
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.on('end', onEnd);
    try {
      writeRequest(socket, h, r.body, onSent);
    } catch (e) {
      fail(e as Error);
    }
  });
}

/** Writes the head and body; a list of buffers is written one after another, waiting for drains. */
function writeRequest(socket: Socket, h: string, body: WireRequest['body'], sent: (ok: boolean) => void): void {
  if (body === undefined) { socket.write(h, 'latin1'); sent(true); return; }
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    socket.cork();
    socket.write(h, 'latin1');
    socket.write(body);
    socket.uncork();
    sent(true);
    return;
  }
  socket.write(h, 'latin1');
  void (async () => {
    for (const b of body) {
      if (socket.destroyed) return sent(false);
      if (!socket.write(b)) await drainedOrClosed(socket);
    }
    sent(!socket.destroyed);
  })();
}

/** Resolves when `s` drains or closes, removing both listeners then. */
function drainedOrClosed(s: Socket): Promise<void> {
  return new Promise<void>((res) => {
    const done = (): void => {
      s.off('drain', done);
      s.off('close', done);
      res();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}

/**
 * A body stream fed by push(); `read` resumes the socket, `destroyed` drops the connection. `fail` destroys it
 * with an error once someone listens to it: a body can fail before its reader has attached (bad framing in the
 * packet that carried the head, a reset before the caller got to the body), and destroying it then would throw
 * the error as uncaught (a server could end the process) and leave a reader that attaches later waiting forever.
 */
function responseBody(read: () => void, destroyed: (e: Error | null) => void): { body: Readable & ResponseBody; fail: (e: Error) => void } {
  let pending: Error | undefined;
  const b = new Readable({
    highWaterMark: 64 * 1024,
    read,
    destroy(e, cb) {
      destroyed(e);
      cb(e);
    },
  }) as Readable & ResponseBody;
  const onListener = (ev: string | symbol): void => {
    if (ev !== 'error' && ev !== 'data' && ev !== 'readable' && ev !== 'end' && ev !== 'close') return;
    b.off('newListener', onListener);
    process.nextTick(() => b.destroy(pending)); // once the reader has attached all its listeners
  };
  const fail = (e: Error): void => {
    if (b.destroyed || pending) return;
    if (b.listenerCount('error') + b.listenerCount('data') + b.listenerCount('readable') > 0) { b.destroy(e); return; }
    pending = e;
    b.on('newListener', onListener);
  };
  b.dump = async (): Promise<void> => {
    if (b.readableEnded || b.destroyed) return;
    if (pending) { b.off('newListener', onListener); b.destroy(); return; } // nothing left to discard
    let n = 0;
    for await (const c of b) {
      n += (c as Buffer).length;
      if (n > DUMP_LIMIT) break; // leaving the loop destroys the body and its connection
    }
  };
  b.text = async (): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const c of b) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  return { body: b, fail };
}
