/**
 * One HTTP/1.1 exchange on a connected socket (http1.ts keeps the sockets): the request head and body written,
 * the response head parsed, and the body handed out as the very buffers the socket read, not copies. Why not
 * Node's `http` client (issue 22, T1's 1 GiB pull): its llhttp binding copies every body chunk into a new Buffer
 * (`Parser::on_body`, ~12 % of a T1 pull's CPU in memmove, all on the main thread), and a request goes through
 * ClientRequest, IncomingMessage and the agent's bookkeeping. The registry protocol needs little of HTTP/1.1:
 * Content-Length and chunked bodies, bodies read to the close, no body for HEAD/204/304, 1xx skipped, keep-alive
 * unless `Connection: close`; no pipelining (one exchange at a time per socket), no upgrades.
 *
 * Limits: a response head is at most 64 KiB (Node's is 16 KiB); a chunk-size line at most 4 KiB.
 */
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';

/** Response headers as undici gives them (a repeated header is a list). */
export type Headers = Record<string, string | string[] | undefined>;

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

/** What an exchange needs to know of its request. */
export interface WireRequest {
  readonly method: string;
  /** `host[:port]` for the Host header. */
  readonly host: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer | string | readonly Buffer[] | undefined;
}

const MAX_HEAD = 64 * 1024;
const MAX_CHUNK_LINE = 4096;
/** What dump() reads before it gives up on a body and closes its connection instead (undici's dump limit). */
const DUMP_LIMIT = 128 * 1024;

/** The error of a connection that closed before the response was whole (the message Node's client gives). */
export function hangUp(): Error {
  return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}

function protocolError(message: string): Error {
  return Object.assign(new Error(`bad HTTP response: ${message}`), { code: 'HPE_INVALID' });
}

/** Returns the request head (and the body's Content-Length when the caller gave none and the body is one buffer or string). */
function head(r: WireRequest): string {
  let s = `${r.method} ${r.path} HTTP/1.1\r\nhost: ${r.host}\r\n`;
  let hasLength = false;
  for (const [k, v] of Object.entries(r.headers)) {
    if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) throw Object.assign(new TypeError(`invalid character in header ${k}`), { code: 'ERR_INVALID_CHAR' });
    if (k.toLowerCase() === 'content-length') hasLength = true;
    s += `${k}: ${v}\r\n`;
  }
  if (!hasLength) {
    const b = r.body;
    if (typeof b === 'string') s += `content-length: ${Buffer.byteLength(b)}\r\n`;
    else if (Buffer.isBuffer(b)) s += `content-length: ${b.length}\r\n`;
    else if (b === undefined && (r.method === 'PUT' || r.method === 'POST' || r.method === 'PATCH')) s += 'content-length: 0\r\n';
  }
  return `${s}\r\n`;
}

/** How the response body is delimited. */
type Framing = { kind: 'none' } | { kind: 'length'; left: number } | { kind: 'chunked' } | { kind: 'close' };

/**
 * Runs one exchange on `socket`: writes the request, resolves with the response once its head arrived. `done`
 * is called once, when the socket is free again (`reusable`: the response ended cleanly and may be followed by
 * another request) or must be dropped (an error, a close-delimited body, `Connection: close`, a body given up).
 * The body is a Readable with backpressure (the socket pauses while it is full).
 */
export function exchange(socket: Socket, r: WireRequest, done: (reusable: boolean) => void): Promise<WireResponse> {
  return new Promise<WireResponse>((resolve, reject) => {
    let buf: Buffer | undefined; // bytes of the head read so far, or of a chunk-size line
    let body: (Readable & ResponseBody) | undefined;
    let framing: Framing = { kind: 'none' };
    let keepAlive = true;
    let finished = false;
    // Chunked decoding: 'size' reads a size line, 'data' `left` bytes, 'crlf' the CRLF after them, 'trailer' lines to an empty one.
    let chunk: 'size' | 'data' | 'crlf' | 'trailer' = 'size';
    let left = 0;
    let crlfLeft = 2;

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
    const finish = (reusable: boolean): void => {
      if (finished) return;
      finished = true;
      cleanup();
      if (reusable && !sent) {
        finishedReusable = true;
        return; // done() when the writes end
      }
      done(reusable);
    };
    const onSent = (ok: boolean): void => {
      sent = true;
      if (finishedReusable) done(ok && !socket.destroyed);
    };
    const fail = (e: Error): void => {
      if (finished) return;
      finish(false);
      socket.destroy();
      if (body) body.destroy(e);
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
          if (left === 0) { chunk = 'crlf'; crlfLeft = 2; }
        } else if (chunk === 'crlf') {
          i++;
          if (--crlfLeft === 0) chunk = 'size';
        } else {
          const nl = d.indexOf(10, i);
          const part = d.subarray(i, nl < 0 ? d.length : nl + 1);
          buf = buf ? Buffer.concat([buf, part]) : Buffer.from(part);
          if (buf.length > MAX_CHUNK_LINE) return fail(protocolError('chunk line too long'));
          i += part.length;
          if (nl < 0) return;
          const line = buf.toString('latin1').trim();
          buf = undefined;
          if (chunk === 'trailer') {
            if (line === '') return endBody(d.subarray(i));
            continue;
          }
          const size = parseInt(line.split(';')[0]!, 16);
          if (!/^[0-9a-fA-F]+/.test(line) || !Number.isSafeInteger(size)) return fail(protocolError(`chunk size "${line.slice(0, 40)}"`));
          if (size === 0) chunk = 'trailer';
          else { chunk = 'data'; left = size; }
        }
      }
    };

    /** Parses the response head in `h` (without its blank line); returns false when it was a 1xx to skip. */
    const onHead = (h: string): boolean => {
      const lines = h.split('\r\n');
      const m = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0]!);
      if (!m) throw protocolError(`status line "${lines[0]!.slice(0, 60)}"`);
      const status = Number(m[2]);
      if (status >= 100 && status < 200) return false;
      const headers: Headers = {};
      for (let i = 1; i < lines.length; i++) {
        const l = lines[i]!;
        const c = l.indexOf(':');
        if (c <= 0) throw protocolError(`header line "${l.slice(0, 60)}"`);
        const k = l.slice(0, c).trim().toLowerCase();
        const v = l.slice(c + 1).trim();
        const had = headers[k];
        headers[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
      }
      const one = (k: string): string | undefined => { const v = headers[k]; return Array.isArray(v) ? v.join(', ') : v; };
      const conn = (one('connection') ?? '').toLowerCase();
      keepAlive = m[1] === '1' ? !/\bclose\b/.test(conn) : /\bkeep-alive\b/.test(conn);
      const te = one('transfer-encoding');
      const cl = one('content-length');
      if (r.method === 'HEAD' || status === 204 || status === 304) framing = { kind: 'none' };
      else if (te !== undefined && /\bchunked\b/i.test(te)) framing = { kind: 'chunked' };
      else if (cl !== undefined) {
        const n = Number(cl.split(',')[0]!.trim());
        if (!/^\d+$/.test(cl.split(',')[0]!.trim()) || !Number.isSafeInteger(n)) throw protocolError(`content-length "${cl}"`);
        framing = n === 0 ? { kind: 'none' } : { kind: 'length', left: n };
      } else {
        framing = { kind: 'close' };
        keepAlive = false;
      }
      body = responseBody(() => { if (!finished) socket.resume(); }, (e) => {
        // Given up before its end (destroyed by its reader): the connection is dropped with it.
        if (!finished) { finish(false); socket.destroy(); }
        void e;
      });
      resolve({ statusCode: status, headers, body });
      return true;
    };

    const onData = (d: Buffer): void => {
      try {
        if (body) { onBody(d); return; }
        buf = buf ? Buffer.concat([buf, d]) : d;
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) {
            if (buf.length > MAX_HEAD) throw protocolError(`head over ${MAX_HEAD} bytes`);
            return;
          }
          const h = buf.toString('latin1', 0, end);
          const rest = buf.subarray(end + 4);
          buf = undefined;
          if (!onHead(h)) {
            buf = rest.length > 0 ? rest : undefined;
            if (!buf) return;
            continue;
          }
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
      writeRequest(socket, head(r), r.body, onSent);
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

/** A body stream fed by push(); `read` resumes the socket, `destroyed` drops the connection. */
function responseBody(read: () => void, destroyed: (e: Error | null) => void): Readable & ResponseBody {
  const b = new Readable({
    highWaterMark: 64 * 1024,
    read,
    destroy(e, cb) {
      destroyed(e);
      cb(e);
    },
  }) as Readable & ResponseBody;
  b.dump = async (): Promise<void> => {
    if (b.readableEnded || b.destroyed) return;
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
  return b;
}
