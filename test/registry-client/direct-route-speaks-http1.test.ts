/**
 * The direct route's own HTTP/1.1 (registry-client/wire.ts, http1.ts) against real servers on loopback: Node's
 * http server for chunked bodies, 100 Continue and HEAD, and a raw TCP server for what Node's server never sends
 * (a body delimited by the close, a response cut short). Each body arrives whole and in order, a kept-alive
 * connection is reused only after a response ended cleanly, and a connection that closes early fails the body
 * with `socket hang up`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Http1Route } from '../../registry-client/http1.js';

const route = (): Http1Route => new Http1Route({ timeoutMs: 10_000, keepAliveTimeoutMs: 4_000, tls: async () => ({}) });

test('chunked bodies, 100 Continue, HEAD and keep-alive against Node\'s http server', async (t) => {
  const ports = new Set<number>();
  const big = Buffer.alloc(300_000, 7);
  const server = createHttpServer((req, res) => {
    ports.add(req.socket.remotePort!);
    if (req.url === '/chunked') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('hello ');
      res.write(big);
      setTimeout(() => res.end(' world'), 5);
    } else if (req.url === '/continue') {
      res.writeContinue();
      res.end('after continue');
    } else if (req.url === '/upload') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(`got ${Buffer.concat(chunks).length}`));
    } else {
      res.writeHead(200, { 'content-length': '5' });
      res.end(req.method === 'HEAD' ? undefined : 'plain');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const r = route();
  t.after(() => r.close());

  const c = await r.request({ origin, path: '/chunked', method: 'GET', headers: {} });
  assert.equal(c.statusCode, 200);
  assert.equal(c.headers['transfer-encoding'], 'chunked');
  const text = await c.body.text();
  assert.equal(text.length, 6 + big.length + 6);
  assert.ok(text.startsWith('hello ') && text.endsWith(' world'));

  const k = await r.request({ origin, path: '/continue', method: 'GET', headers: {} });
  assert.equal(k.statusCode, 200);
  assert.equal(await k.body.text(), 'after continue');

  const h = await r.request({ origin, path: '/x', method: 'HEAD', headers: {} });
  assert.equal(h.headers['content-length'], '5');
  await h.body.dump();

  const up = await r.request({ origin, path: '/upload', method: 'PUT', headers: { 'content-length': String(3 * 100_000) }, body: [Buffer.alloc(100_000, 1), Buffer.alloc(100_000, 2), Buffer.alloc(100_000, 3)] });
  assert.equal(await up.body.text(), 'got 300000');

  const p = await r.request({ origin, path: '/x', method: 'GET', headers: {} });
  assert.equal(await p.body.text(), 'plain');
  assert.equal(ports.size, 1, 'one kept-alive connection for five sequential requests');
});

test('a body delimited by the close arrives whole; a body cut short fails with socket hang up', async (t) => {
  const server = createTcpServer((s: Socket) => {
    s.once('data', (d: Buffer) => {
      const path = d.toString('latin1').split(' ')[1];
      if (path === '/close') {
        s.end('HTTP/1.1 200 OK\r\nX-Repeated: a\r\nX-Repeated: b\r\n\r\nuntil the end');
      } else {
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part');
        setTimeout(() => s.destroy(), 10);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const r = route();
  t.after(() => r.close());

  const c = await r.request({ origin, path: '/close', method: 'GET', headers: {} });
  assert.deepEqual(c.headers['x-repeated'], ['a', 'b']);
  assert.equal(await c.body.text(), 'until the end');

  const s = await r.request({ origin, path: '/short', method: 'GET', headers: {} });
  assert.equal(s.statusCode, 200);
  await assert.rejects(s.body.text(), /socket hang up/);
});
