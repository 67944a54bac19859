/**
 * A raw TCP server on loopback that answers each HTTP request with exact bytes (for what no real HTTP server would
 * send: malformed framing, bad header lines, unsolicited bytes). It reads requests itself (head, then a
 * Content-Length body) and counts connections and requests.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Http1Route } from '../../registry-client/http1.js';

export interface RawRequest {
  readonly method: string;
  readonly path: string;
  /** The head as received, request line included. */
  readonly head: string;
  readonly body: Buffer;
  /** Which connection (1, 2, ...) it came on. */
  readonly connection: number;
}

export interface RawServer {
  readonly origin: string;
  readonly requests: RawRequest[];
  connections: number;
  close(): Promise<void>;
}

/** Starts a server calling `answer` for each request; `answer` writes to the socket whatever it likes. */
export async function rawServer(answer: (req: RawRequest, s: Socket) => void): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const srv: RawServer = { origin: '', requests: [], connections: 0, close: async () => undefined };
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    const connection = ++srv.connections;
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.toString('latin1', 0, end);
        const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        const [method = '', path = ''] = head.split(' ');
        const req: RawRequest = { method, path, head, body: buf.subarray(end + 4, end + 4 + len), connection };
        buf = buf.subarray(end + 4 + len);
        srv.requests.push(req);
        answer(req, s);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(srv, {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  });
}

/** A direct route with short timeouts, for tests. */
export function testRoute(timeoutMs = 5_000): Http1Route {
  return new Http1Route({ timeoutMs, keepAliveTimeoutMs: 4_000, tls: async () => ({}) });
}

/** GETs `path` and reads the body whole: its status and text. */
export async function get(r: Http1Route, origin: string, path: string): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  const res = await r.request({ origin, path, method: 'GET', headers: {} });
  return { status: res.statusCode, text: await res.body.text(), headers: res.headers };
}
