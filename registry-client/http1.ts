/**
 * The direct route of the registry client: HTTP/1.1 over Node's `net`/`tls` sockets (wire.ts speaks the protocol,
 * handing body bytes out as the buffers the socket read), with a keep-alive pool per origin, in the
 * request/response shape of undici's `Dispatcher.request` (the proxy routes still go through undici,
 * dispatchers.ts). Why not undici for these too (issue 22, a small pull or push): undici's modules load Node's
 * `http`, `http2` and `tls` besides their own ~0.5 MB of code, and it parses HTTP with llhttp compiled to
 * WebAssembly in each process. Why not Node's `http` (used until the fourth pass of issue 22): its parser copies
 * every body byte once more (wire.ts).
 *
 * Behaviour kept from the undici route: one pool of kept-alive connections per route and origin, no cap on
 * connections (callers bound their parallelism), a HEAD keeps its connection, the timeout is an idle timeout on
 * the socket while a request waits for its headers or its body, the headers of a response are lowercase with a
 * repeated header as a list, and a body can be iterated, dumped or read as text. A connection that closes before
 * the answer is whole fails the request or its body with Node's `socket hang up` (ECONNRESET).
 */
import type { Socket } from 'node:net';
import { exchange, type Headers, type ResponseBody } from './wire.js';

export type { Headers, ResponseBody } from './wire.js';

/** TLS options of an HTTPS route: extra roots, or no verification. */
export interface Http1Tls { readonly ca?: (string | Buffer)[] | Buffer; readonly rejectUnauthorized?: boolean }

export interface Http1Options {
  /** Idle ms a request may wait for its response headers or the next body bytes. */
  readonly timeoutMs: number;
  /** Ms an idle kept-alive connection stays open. */
  readonly keepAliveTimeoutMs: number;
  /** For https: URLs. */
  readonly tls: () => Promise<Http1Tls>;
  /** Connections per origin at most (default: no cap; callers bound their own parallelism). Not enforced here. */
  readonly maxSockets?: number | undefined;
}

/** A request as the transport sends it (undici's `Dispatcher.RequestOptions` subset it uses). */
export interface Http1Request {
  readonly origin: string;
  readonly path: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  /** One buffer or string, or a list of buffers sent one after another (the caller sets Content-Length). */
  readonly body?: Buffer | string | readonly Buffer[] | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface Http1Response {
  readonly statusCode: number;
  readonly headers: Headers;
  readonly body: ResponseBody;
}

/** The error of a request whose socket stayed idle past the timeout (the code undici gives its own). */
function timeoutError(headers: boolean, ms: number): Error {
  return Object.assign(new Error(`no ${headers ? 'response headers' : 'body bytes'} within ${ms} ms`), { code: headers ? 'UND_ERR_HEADERS_TIMEOUT' : 'UND_ERR_BODY_TIMEOUT' });
}

function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('The operation was aborted', { cause: signal.reason }), { name: 'AbortError', code: 'ABORT_ERR' });
}

/**
 * What an idle kept-alive socket does with bytes: no response is due, so it is dropped (as Go's transport does,
 * "Unsolicited response received on idle HTTP channel"); read and thrown away, they could be the first half of a
 * response whose second half the next request on it would take for its own.
 */
function unsolicited(this: Socket): void {
  this.destroy();
}

/** Bytes of a read slab; a read is given the slab's rest while it is at least READ_MIN bytes. */
const SLAB_BYTES = 1024 * 1024;
const READ_MIN = 64 * 1024;

/**
 * Where a plain socket's reads land: the rest of a 1 MiB slab, a new slab once less than 64 KiB is left. Each
 * chunk handed on is a view of bytes no later read writes over (the next read goes after it), so chunks can be
 * kept and written out later, as the socket's own 64 KiB buffers could.
 */
class ReadSlab {
  #slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  #at = 0;

  /** The buffer the next read goes into. */
  next(): Buffer {
    if (SLAB_BYTES - this.#at < READ_MIN) {
      this.#slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.#at = 0;
    }
    return this.#slab.subarray(this.#at);
  }

  /** The `n` bytes a read put in `buf` (the buffer next() gave it), as a Buffer; the slab moves past them. */
  took(buf: Uint8Array, n: number): Buffer {
    this.#at += n;
    return Buffer.from(buf.buffer, buf.byteOffset, n);
  }
}

/** Keep-alive pools (one per origin) of one route; `net` and `tls` load on first use. */
export class Http1Route {
  readonly #o: Http1Options;
  /** Idle sockets per origin, the most recently used last (LIFO, as Node's agent with scheduling 'lifo'). */
  readonly #idle = new Map<string, Socket[]>();
  /** Every open socket, to close them all. */
  readonly #open = new Set<Socket>();
  /** What a socket's idle timeout does now (one 'timeout' listener per socket: setTimeout's callback would add one per call). */
  readonly #onTimeout = new WeakMap<Socket, () => void>();
  #tls: Promise<Http1Tls> | undefined;
  #closed = false;

  constructor(o: Http1Options) {
    this.#o = o;
  }

  /** Sends `r` and resolves with the response once its headers arrived; its body is the caller's to consume. */
  async request(r: Http1Request): Promise<Http1Response> {
    if (r.signal?.aborted) throw abortError(r.signal);
    const u = new URL(r.origin);
    const https = u.protocol === 'https:';
    const port = Number(u.port || (https ? 443 : 80));
    const hostname = u.hostname.replace(/^\[|\]$/g, '');
    const key = `${u.protocol}//${u.host}`;
    const socket = this.#takeIdle(key) ?? await this.#connect(https, hostname, port);
    // Aborted while connecting: the listener below would never hear of it.
    if (r.signal?.aborted) { socket.destroy(); throw abortError(r.signal); }
    let headersIn = false;
    let released = false;
    const ms = this.#o.timeoutMs;
    const onAbort = (): void => { socket.destroy(abortError(r.signal!)); };
    this.#onTimeout.set(socket, () => socket.destroy(timeoutError(!headersIn, ms)));
    socket.setTimeout(ms);
    r.signal?.addEventListener('abort', onAbort, { once: true });
    socket.ref();
    socket.resume();
    const res = await exchange(socket, { method: r.method, host: u.host, path: r.path, headers: r.headers, body: r.body }, (reusable) => {
      if (released) return;
      released = true;
      socket.setTimeout(0);
      r.signal?.removeEventListener('abort', onAbort);
      if (reusable && !socket.destroyed && !this.#closed) this.#putIdle(key, socket);
      else socket.destroy();
    });
    headersIn = true;
    return res;
  }

  close(): void {
    this.#closed = true;
    for (const s of this.#open) s.destroy();
    this.#open.clear();
    this.#idle.clear();
  }

  #takeIdle(key: string): Socket | undefined {
    const list = this.#idle.get(key);
    while (list && list.length > 0) {
      const s = list.pop()!;
      if (!s.destroyed && s.readyState === 'open') {
        s.off('data', unsolicited);
        s.setTimeout(0);
        return s;
      }
    }
    return undefined;
  }

  #putIdle(key: string, s: Socket): void {
    let list = this.#idle.get(key);
    if (!list) { list = []; this.#idle.set(key, list); }
    list.push(s);
    // An idle connection does not keep the process alive, and is closed after the keep-alive timeout.
    s.unref();
    s.on('data', unsolicited);
    s.resume();
    this.#onTimeout.set(s, () => s.destroy());
    s.setTimeout(this.#o.keepAliveTimeoutMs);
  }

  async #connect(https: boolean, host: string, port: number): Promise<Socket> {
    let s: Socket;
    if (https) {
      this.#tls ??= this.#o.tls();
      const [tls, opts] = await Promise.all([import('node:tls'), this.#tls]);
      const isIp = /^[\d.]+$|:/.test(host);
      s = tls.connect({ host, port, ...(isIp ? {} : { servername: host }), ALPNProtocols: ['http/1.1'], ...opts });
    } else {
      const net = await import('node:net');
      const reads = new ReadSlab();
      // Reads land in a 1 MiB slab (ReadSlab) instead of a new 64 KiB buffer each: a body the process is slower
      // than the sender to take in (a big blob, hashed as it comes) arrives in reads of up to a slab's rest, so
      // each stage behind the socket (framing, verifying, progress, file writer) runs a few times less often.
      // The bytes are still handed on as 'data' events (wire.ts and the idle pool listen to those); pause() and
      // resume() stop and start the reads as without `onread`.
      const conn: Socket = net.connect({
        host, port,
        onread: { buffer: () => reads.next(), callback: (n: number, buf: Uint8Array) => conn.emit('data', reads.took(buf, n)) || true },
      });
      s = conn;
    }
    s.setNoDelay(true);
    this.#open.add(s);
    s.on('timeout', () => (this.#onTimeout.get(s) ?? (() => s.destroy()))());
    // A kept-alive socket can fail or be closed by the server while idle: it leaves the pool, quietly.
    s.on('error', () => undefined);
    s.once('close', () => {
      this.#open.delete(s);
      for (const list of this.#idle.values()) {
        const i = list.indexOf(s);
        if (i >= 0) list.splice(i, 1);
      }
    });
    return s;
  }
}
