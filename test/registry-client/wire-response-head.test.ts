/**
 * The direct route's HTTP/1.1 (registry-client/wire-head.ts) reads a response head as strictly as llhttp and Go:
 * a space before a header's colon, a NUL or a bare CR in a value, a bare LF as a line end (refused at once, not
 * waited on until the timeout) and a head past 64 KiB are refused; an obs-fold continues the value with a space
 * (RFC 9112 section 5.2); a header named like an Object.prototype member is an ordinary header.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get, rawServer, testRoute } from './raw-http-server.js';

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

const answers: Record<string, string> = {
  '/space-before-colon': 'HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello',
  '/nul': 'HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 5\r\n\r\nhello',
  '/bare-cr': 'HTTP/1.1 200 OK\r\nX-A: a\rContent-Length: 1\r\nContent-Length: 5\r\n\r\nhello',
  '/bare-lf-inside': 'HTTP/1.1 200 OK\r\nX-A: a\nContent-Length: 1\r\nContent-Length: 5\r\n\r\nhello',
  '/bare-lf-head': 'HTTP/1.1 200 OK\nContent-Length: 5\n\nhello',
  '/status-junk': 'HTTP/1.1 2000 OK\r\nContent-Length: 5\r\n\r\nhello',
  '/huge-head': `HTTP/1.1 200 OK\r\n${'X-Big: 0123456789012345678901234567890123456789\r\n'.repeat(2000)}Content-Length: 5\r\n\r\nhello`,
  '/fold': 'HTTP/1.1 200 OK\r\nX-Folded: a\r\n  b\r\n\tc\r\nContent-Length: 5\r\n\r\nhello',
  '/proto': 'HTTP/1.1 200 OK\r\nConstructor: x\r\n__proto__: y\r\nContent-Length: 5\r\n\r\nhello',
};

test('response heads: bad lines refused at once, obs-fold joined, no prototype in the headers', async (t) => {
  const srv = await rawServer((req, s) => { s.write(answers[req.path] ?? OK); });
  t.after(() => srv.close());
  const r = testRoute(3_000);
  t.after(() => r.close());

  for (const p of ['/space-before-colon', '/nul', '/bare-cr', '/bare-lf-inside', '/bare-lf-head', '/status-junk', '/huge-head']) {
    const t0 = Date.now();
    await assert.rejects(get(r, srv.origin, p), /bad HTTP response/, p);
    assert.ok(Date.now() - t0 < 2_000, `${p} is refused at once, not after the timeout`);
    assert.equal((await get(r, srv.origin, '/ok')).text, 'ok', `a good answer after ${p}`);
  }

  const f = await get(r, srv.origin, '/fold');
  assert.deepEqual([f.headers['x-folded'], f.text], ['a b c', 'hello']);

  const o = await get(r, srv.origin, '/proto');
  assert.equal(o.headers['constructor'], 'x');
  assert.equal(o.headers['__proto__'], 'y');
  assert.equal(o.text, 'hello');
});
