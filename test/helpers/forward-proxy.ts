import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';

/** One request the proxy handled: a CONNECT tunnel (`target` host:port) or a forwarded absolute-form request (`url`). */
export type ForwardProxyEntry =
  | { readonly kind: 'connect'; readonly target: string }
  | { readonly kind: 'forward'; readonly method: string; readonly url: string };

export interface ForwardProxy {
  /** `http://127.0.0.1:PORT`, for HTTP_PROXY / HTTPS_PROXY. */
  readonly url: string;
  /** Everything the proxy handled, in order. */
  readonly log: readonly ForwardProxyEntry[];
  /** TCP connections clients opened to the proxy. */
  connections(): number;
  stop(): Promise<void>;
}

/**
 * Starts a real HTTP proxy on 127.0.0.1: CONNECT opens a TCP tunnel to the target (how HTTPS goes through a
 * proxy), and an absolute-form request (`GET http://host/path`) is forwarded to its origin (plain HTTP).
 * Every request is logged; stop() closes the server and every socket it holds.
 */
export async function startForwardProxy(): Promise<ForwardProxy> {
  const log: ForwardProxyEntry[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((req: IncomingMessage, res) => {
    const url = req.url ?? '';
    log.push({ kind: 'forward', method: req.method ?? '', url });
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      res.writeHead(400).end('absolute-form request expected');
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    const up = httpRequest({ host: target.hostname, port: target.port || 80, method: req.method, path: target.pathname + target.search, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      pipeline(r, res).catch(() => undefined);
    });
    up.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
    pipeline(req, up).catch(() => undefined);
  });
  server.on('connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? '';
    log.push({ kind: 'connect', target });
    const i = target.lastIndexOf(':');
    const up = connect(Number(target.slice(i + 1)), target.slice(0, i).replace(/^\[|\]$/g, ''), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      pipeline(client, up).catch(() => undefined);
      pipeline(up, client).catch(() => undefined);
    });
    sockets.add(up);
    up.on('close', () => { sockets.delete(up); client.destroy(); });
    up.on('error', () => { client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n'); });
    client.on('error', () => up.destroy());
    client.on('close', () => up.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    connections: () => connections,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
