/**
 * When the direct route (registry-client/http1.ts) reuses a connection: bytes a server sends on an idle kept-alive
 * connection (no request is waiting for them) drop it, as Go's transport does ("Unsolicited response received
 * on idle HTTP channel"), so they can never be read as the next request's response; and a request aborted while
 * its connection was being opened fails with AbortError at once, rather than being sent and waiting to the timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { get, rawServer, testRoute } from './raw-http-server.js';

test('bytes on an idle kept-alive connection drop it: the next request goes on a new one', async (t) => {
  const srv = await rawServer((req, s) => {
    const text = `${req.path} on ${req.connection}`;
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
    // After the first answer, half of a second response nobody asked for.
    if (req.path === '/first') setTimeout(() => s.write('HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nevil'), 30);
  });
  t.after(() => srv.close());
  const r = testRoute();
  t.after(() => r.close());
  assert.equal((await get(r, srv.origin, '/first')).text, '/first on 1');
  await sleep(200);
  assert.equal((await get(r, srv.origin, '/second')).text, '/second on 2');
});

test('a request aborted while its connection opens fails with AbortError at once', async (t) => {
  const srv = await rawServer(() => undefined); // never answers
  t.after(() => srv.close());
  const r = testRoute(3_000);
  t.after(() => r.close());
  const ac = new AbortController();
  const p = r.request({ origin: srv.origin, path: '/x', method: 'GET', headers: {}, signal: ac.signal });
  ac.abort();
  const t0 = Date.now();
  await assert.rejects(p, { name: 'AbortError' });
  assert.ok(Date.now() - t0 < 1_000, 'not after the timeout');
  await sleep(50);
  assert.equal(srv.requests.length, 0, 'nothing was sent');
});
