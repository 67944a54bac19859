/**
 * The direct route of the registry client: HTTP/1.1 over Node's own `http`/`https` modules with a keep-alive
 * agent, in the request/response shape of undici's `Dispatcher.request` (the proxy routes still go through undici,
 * dispatchers.ts). Why not undici for these too (issue 22, a small pull or push): undici's modules load Node's
 * `http`, `http2` and `tls` besides their own ~0.5 MB of code, and it parses HTTP with llhttp compiled to
 * WebAssembly in each process; Node's `http` carries the same llhttp compiled in, and its module is part of
 * Node's start-up snapshot work already. A W1 pull spent ~25 ms of CPU less (registry-client/README.md).
 *
 * Behaviour kept from the undici route: one pool of kept-alive connections per route, no cap on connections
 * (callers bound their parallelism), a HEAD keeps its connection (Node's client expects no body with one), the
 * timeout is an idle timeout on the socket while a request waits for its headers or its body, the headers of
 * a response are lowercase with a repeated header as a list, and a body can be iterated, dumped or read as text.
 */
import type { Agent as HttpAgent, IncomingMessage, ClientRequest } from 'node:http';
import type { Readable } from 'node:stream';

/** Response headers as undici gives them (a repeated header is a list). */
export type Headers = Record<string, string | string[] | undefined>;

/** TLS options of an HTTPS route: extra roots, or no verification. */
export interface Http1Tls { readonly ca?: (string | Buffer)[] | Buffer; readonly rejectUnauthorized?: boolean }

export interface Http1Options {
  /** Idle ms a request may wait for its response headers or the next body bytes. */
  readonly timeoutMs: number;
  /** Ms an idle kept-alive connection stays open. */
  readonly keepAliveTimeoutMs: number;
  /** For https: URLs. */
  readonly tls: () => Promise<Http1Tls>;
  /** Connections per origin at most (default: no cap; callers bound their own parallelism). */
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

/** A response body: a byte stream to read once, or to discard (`dump`) or read whole (`text`). */
export interface ResponseBody extends Readable {
  dump(): Promise<void>;
  text(): Promise<string>;
}

export interface Http1Response {
  readonly statusCode: number;
  readonly headers: Headers;
  readonly body: ResponseBody;
}

/** What dump() reads before it gives up on a body and closes its connection instead (undici's dump limit). */
const DUMP_LIMIT = 128 * 1024;

/** The error of a request whose socket stayed idle past the timeout (the code undici gives its own). */
function timeoutError(headers: boolean, ms: number): Error {
  return Object.assign(new Error(`no ${headers ? 'response headers' : 'body bytes'} within ${ms} ms`), { code: headers ? 'UND_ERR_HEADERS_TIMEOUT' : 'UND_ERR_BODY_TIMEOUT' });
}

/** Returns `res` as a ResponseBody (the IncomingMessage itself, with dump and text). */
function responseBody(res: IncomingMessage): ResponseBody {
  return Object.assign(res, {
    async dump(): Promise<void> {
      // A body that arrived whole must still be read to its end: only then is the connection free for the next request.
      if (res.readableEnded || res.destroyed) return;
      let n = 0;
      for await (const c of res) {
        n += (c as Buffer).length;
        if (n > DUMP_LIMIT) break; // leaving the loop destroys the body and its connection
      }
    },
    async text(): Promise<string> {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  });
}

/** Returns the response headers as undici gives them: lowercase names, a repeated header as a list. */
function headersOf(res: IncomingMessage): Headers {
  const out: Headers = {};
  for (const [k, v] of Object.entries(res.headersDistinct)) if (v) out[k] = v.length === 1 ? v[0] : v;
  return out;
}

/** Keep-alive pools (one for http:, one for https:) of one route; Node's modules load on first use. */
export class Http1Route {
  readonly #o: Http1Options;
  #http: Promise<{ request: typeof import('node:http').request; agent: HttpAgent }> | undefined;
  #https: Promise<{ request: typeof import('node:https').request; agent: HttpAgent }> | undefined;

  constructor(o: Http1Options) {
    this.#o = o;
  }

  /** Sends `r` and resolves with the response once its headers arrived; its body is the caller's to consume. */
  async request(r: Http1Request): Promise<Http1Response> {
    const https = r.origin.startsWith('https:');
    const { request, agent } = await (https ? this.#httpsPool() : this.#httpPool());
    const u = new URL(r.origin);
    return new Promise<Http1Response>((resolve, reject) => {
      let res: IncomingMessage | undefined;
      const req: ClientRequest = request({
        protocol: u.protocol, hostname: u.hostname.replace(/^\[|\]$/g, ''), port: u.port || (https ? 443 : 80),
        path: r.path, method: r.method, headers: r.headers, agent, ...(r.signal ? { signal: r.signal } : {}),
      });
      req.setTimeout(this.#o.timeoutMs, () => req.destroy(timeoutError(res === undefined, this.#o.timeoutMs)));
      req.on('error', (e) => {
        if (res) res.destroy(e);
        else reject(e);
      });
      req.once('response', (m: IncomingMessage) => {
        res = m;
        resolve({ statusCode: m.statusCode ?? 0, headers: headersOf(m), body: responseBody(m) });
      });
      void sendBody(req, r.body).catch((e: unknown) => req.destroy(e as Error));
    });
  }

  close(): void {
    void this.#http?.then((p) => p.agent.destroy(), () => undefined);
    void this.#https?.then((p) => p.agent.destroy(), () => undefined);
  }

  #httpPool(): Promise<{ request: typeof import('node:http').request; agent: HttpAgent }> {
    this.#http ??= import('node:http').then((m) => ({ request: m.request, agent: new m.Agent(this.#agentOptions()) }));
    return this.#http;
  }

  #httpsPool(): Promise<{ request: typeof import('node:https').request; agent: HttpAgent }> {
    this.#https ??= Promise.all([import('node:https'), this.#o.tls()]).then(([m, tls]) => ({ request: m.request, agent: new m.Agent({ ...this.#agentOptions(), ...tls }) }));
    return this.#https;
  }

  #agentOptions(): { keepAlive: true; timeout: number; scheduling: 'lifo'; maxSockets?: number } {
    // `timeout` is the idle timeout of a connection in the pool; a request sets its own while it is active.
    return { keepAlive: true, timeout: this.#o.keepAliveTimeoutMs, scheduling: 'lifo', ...(this.#o.maxSockets ? { maxSockets: this.#o.maxSockets } : {}) };
  }
}

/** Writes the request body (each buffer of a list in turn, waiting for the socket to drain) and ends it. */
async function sendBody(req: ClientRequest, body: Http1Request['body']): Promise<void> {
  if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
    req.end(body);
    return;
  }
  for (const b of body) {
    if (req.destroyed) return;
    if (!req.write(b)) await drainedOrClosed(req);
  }
  req.end();
}

/**
 * Resolves when `req` drains or closes, and removes both listeners then: a chunk of 16 MiB goes up in many writes
 * that each wait, and listeners left behind piled up ("MaxListenersExceededWarning: 11 close listeners", T1's push).
 */
function drainedOrClosed(req: ClientRequest): Promise<void> {
  return new Promise<void>((res) => {
    const done = (): void => {
      req.off('drain', done);
      req.off('close', done);
      res();
    };
    req.on('drain', done);
    req.on('close', done);
  });
}
