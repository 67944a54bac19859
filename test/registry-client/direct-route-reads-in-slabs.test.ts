/**
 * The direct route's plain sockets read into 1 MiB slabs (registry-client/http1.ts ReadSlab): a body that waited in
 * the socket arrives in chunks bigger than Node's 64 KiB reads, every chunk keeps its bytes after later reads (they
 * go to the slab's rest or a new slab, never over a chunk handed out), and pausing the body stops the reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Http1Route } from '../../registry-client/http1.js';

test('a body that waited in the socket comes in reads over 64 KiB, each chunk intact after later reads', async (t) => {
  const body = randomBytes(24 * 1024 * 1024);
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.once('data', () => {
      s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`);
      s.write(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }));
  const r = new Http1Route({ timeoutMs: 10_000, keepAliveTimeoutMs: 4_000, tls: async () => ({}) });
  t.after(() => r.close());

  const res = await r.request({ origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, path: '/blob', method: 'GET', headers: {} });
  assert.equal(res.statusCode, 200);
  // Nobody reads for a while: the body pauses the socket once its buffer is full, and the kernel's buffers fill up.
  res.body.pause();
  await new Promise((r2) => setTimeout(r2, 300));
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(c as Buffer);
  // Every chunk is checked only at the end, after all later reads: none was written over.
  const got = Buffer.concat(chunks);
  assert.equal(got.length, body.length);
  assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(body).digest('hex'));
  const biggest = Math.max(...chunks.map((c) => c.length));
  assert.ok(biggest > 64 * 1024, `the biggest chunk is ${biggest} bytes: reads are not bigger than Node's own 64 KiB`);
  assert.ok(biggest <= 1024 * 1024, `a chunk of ${biggest} bytes: more than a slab`);
  // Fewer chunks than 64 KiB reads would give.
  assert.ok(chunks.length < body.length / (64 * 1024), `${chunks.length} chunks for ${body.length} bytes`);
});
