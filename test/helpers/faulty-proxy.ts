import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AddressInfo, Socket } from 'node:net';

/** What the proxy does to one request. */
export type Fault =
  /** Answer `status` itself (e.g. 500, 429 with Retry-After, 413); the registry never sees the request. */
  | { readonly kind: 'status'; readonly status: number; readonly headers?: Readonly<Record<string, string>>; readonly body?: string }
  /** Read the request, then close the connection without forwarding or answering. */
  | { readonly kind: 'drop-request' }
  /** Forward, then send the headers and only `afterBytes` of the body before closing the connection. */
  | { readonly kind: 'drop-response'; readonly afterBytes: number }
  /** Forward, and flip the bits of one body byte (same length): a lying registry. */
  | { readonly kind: 'corrupt-body' }
  /** Answer 307 to `to` + the original path (to test Authorization on cross-host redirects). */
  | { readonly kind: 'redirect'; readonly to: string }
  /** Forward without the named request header (e.g. `accept`, to make distribution downgrade to schema 1). */
  | { readonly kind: 'strip-header'; readonly name: string }
  /** Read the request, answer nothing for `ms` (longer than the client's timeout), then close; the registry never sees it. */
  | { readonly kind: 'stall-headers'; readonly ms: number }
  /** Forward, send the headers and `afterBytes` of the body, then go silent for `ms` before closing. */
  | { readonly kind: 'stall-body'; readonly afterBytes: number; readonly ms: number }
  /** Forward, but declare Content-Length `afterBytes` and send only that much: a short body that looks complete. */
  | { readonly kind: 'truncate'; readonly afterBytes: number }
  /** Forward, declaring Content-Length = real length + `delta` (longer: the connection closes early; shorter: extra bytes spill). */
  | { readonly kind: 'wrong-length'; readonly delta: number };

export interface ProxyRequest { readonly method: string; readonly url: string; readonly headers: IncomingMessage['headers'] }
export interface ProxyLogEntry {
  readonly method: string; readonly url: string; readonly status: number | undefined; readonly fault: Fault['kind'] | undefined; readonly authorization: boolean;
  /** The request's Content-Range (upload chunks) or Range (resumed downloads) header. */
  readonly requestRange?: string | undefined;
  /** The response's Range header (upload offset acknowledged by the registry), when forwarded. */
  readonly responseRange?: string | undefined;
  /** Request body bytes forwarded to the registry (0 when the registry never saw the request). */
  readonly bytesForwarded: number;
  /** The fault applied, with its parameters. */
  readonly faultSpec?: Fault | undefined;
}

export interface FaultyProxy {
  /** `127.0.0.1:PORT`: use it as the registry host. */
  readonly host: string;
  /** Every request seen, in order, with the status sent (undefined when dropped). */
  readonly log: ProxyLogEntry[];
  /** Replaces the fault rule. */
  setRule(rule: FaultRule): void;
  stop(): Promise<void>;
}

export type FaultRule = (req: ProxyRequest) => Fault | undefined;

/**
 * Starts a loopback HTTP proxy in front of `upstream` (`127.0.0.1:PORT`) that asks `rule` what to do with each
 * request, as undici's retry tests do with a server that changes behaviour per request. The Host header
 * is kept, so the registry's Location URLs point back at the proxy.
 */
export async function startFaultyProxy(upstream: string, rule: FaultRule = () => undefined): Promise<FaultyProxy> {
  const [uhost, uport] = upstream.split(':');
  const log: ProxyLogEntry[] = [];
  let current = rule;
  const server: Server = createServer((req, res) => {
    void handle(req, res).catch(() => { req.socket.destroy(); });
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const info: ProxyRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers };
    const fault = current(info);
    let forwarded = 0;
    const requestRange = headerOf(req.headers, 'content-range') ?? headerOf(req.headers, 'range');
    const entry = (status: number | undefined, responseRange?: string) => log.push({
      method: info.method, url: info.url, status, fault: fault?.kind, authorization: req.headers.authorization !== undefined,
      requestRange, responseRange, bytesForwarded: forwarded, faultSpec: fault,
    });
    if (fault?.kind === 'status' || fault?.kind === 'drop-request' || fault?.kind === 'redirect' || fault?.kind === 'stall-headers') {
      req.resume();
      await new Promise<void>((r) => req.once('end', () => r()));
      if (fault.kind === 'drop-request') { entry(undefined); req.socket.destroy(); return; }
      if (fault.kind === 'stall-headers') {
        entry(undefined);
        await sleepUnlessClosed(req.socket, fault.ms);
        req.socket.destroy();
        return;
      }
      if (fault.kind === 'redirect') {
        entry(307);
        res.writeHead(307, { location: fault.to + info.url, 'content-length': '0' }).end();
        return;
      }
      entry(fault.status);
      const body = fault.body ?? JSON.stringify({ errors: [{ code: 'UNKNOWN', message: `injected ${fault.status}` }] });
      res.writeHead(fault.status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...(fault.headers ?? {}) }).end(body);
      return;
    }
    const headers = { ...req.headers };
    if (fault?.kind === 'strip-header') delete headers[fault.name.toLowerCase()];
    const up = httpRequest({ host: uhost, port: Number(uport), method: info.method, path: info.url, headers });
    const upRes = await new Promise<IncomingMessage>((resolve, reject) => {
      up.once('response', resolve);
      up.once('error', reject);
      const count = new Transform({ transform(c: Buffer, _e, cb) { forwarded += c.length; cb(null, c); } });
      pipeline(req, count, up).catch(reject);
    });
    entry(upRes.statusCode, headerOf(upRes.headers, 'range'));
    if (fault?.kind === 'truncate' || fault?.kind === 'wrong-length') {
      const chunks: Buffer[] = [];
      for await (const c of upRes) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      const declared = fault.kind === 'truncate' ? Math.min(fault.afterBytes, body.length) : Math.max(0, body.length + fault.delta);
      const sent = fault.kind === 'truncate' ? body.subarray(0, declared) : body;
      const headers = { ...upRes.headers, 'content-length': String(declared) };
      delete headers['transfer-encoding'];
      res.writeHead(upRes.statusCode ?? 502, headers);
      // Raw socket write: node's ServerResponse would refuse to send more than the declared length.
      if (fault.kind === 'wrong-length' && fault.delta < 0) {
        res.flushHeaders();
        res.socket?.write(sent);
      } else {
        res.write(sent);
      }
      await new Promise((r) => setTimeout(r, 20));
      res.socket?.end();
      res.socket?.destroySoon();
      return;
    }
    res.writeHead(upRes.statusCode ?? 502, upRes.headers);
    if (fault?.kind === 'stall-body') {
      await forwardFirst(upRes, res, fault.afterBytes);
      await sleepUnlessClosed(req.socket, fault.ms);
      res.socket?.destroy();
      return;
    }
    if (fault?.kind === 'drop-response') {
      await forwardFirst(upRes, res, fault.afterBytes);
      await new Promise((r) => setTimeout(r, 20));
      res.socket?.destroy();
      return;
    }
    if (fault?.kind === 'corrupt-body') {
      let first = true;
      for await (const c of upRes) {
        const b = Buffer.from(c as Buffer);
        if (first && b.length > 0) { b[b.length >> 1] = b[b.length >> 1]! ^ 0xff; first = false; }
        res.write(b);
      }
      res.end();
      return;
    }
    await pipeline(upRes, res);
  }
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    log,
    setRule: (r) => { current = r; },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function headerOf(h: IncomingMessage['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Waits `ms`, or less when the client closes the connection first (it timed out, as it should). */
async function sleepUnlessClosed(socket: Socket, ms: number): Promise<void> {
  if (socket.destroyed) return;
  await new Promise<void>((r) => {
    const done = () => { clearTimeout(timer); socket.off('close', done); r(); };
    const timer = setTimeout(done, ms);
    socket.once('close', done);
  });
}

/** Returns a rule that applies `fault` to the first `times` requests matching `match`, then passes through. */
export function faultTimes(match: (r: ProxyRequest) => boolean, fault: Fault, times: number): FaultRule {
  let n = 0;
  return (r) => (match(r) && n++ < times ? fault : undefined);
}

/** Returns a rule that asks each rule in turn and uses the first fault. */
export function combine(...rules: FaultRule[]): FaultRule {
  return (r) => { for (const f of rules) { const x = f(r); if (x) return x; } return undefined; };
}

/** Forwards the first `afterBytes` of the upstream body, then stops reading it (the caller ends the connection). */
async function forwardFirst(upRes: IncomingMessage, res: ServerResponse, afterBytes: number): Promise<void> {
  let sent = 0;
  for await (const c of upRes) {
    const b = c as Buffer;
    const n = Math.min(b.length, afterBytes - sent);
    if (n > 0) res.write(b.subarray(0, n));
    sent += n;
    if (sent >= afterBytes) break;
  }
  upRes.destroy();
}
