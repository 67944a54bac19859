/**
 * The direct route's request writer (registry-client/wire-head.ts) refuses, before writing a byte, whatever would
 * let the server read our request differently from how we meant it: CR, LF, NUL or a character past latin1 in a
 * header value (a token from a token server goes into Authorization), a header name that is not a token, a space
 * or CR/LF in the path or the method, and a Content-Length that is not the body's length. A list of buffers
 * without a Content-Length is sent with its total length (before: with none, so the server read the body as the
 * next request). A refused request leaves its kept-alive connection usable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rawServer, testRoute } from './raw-http-server.js';

test('request heads: injected lines refused, Content-Length always the body\'s', async (t) => {
  const srv = await rawServer((req, s) => {
    const text = `${req.method} ${req.path} ${req.body.length}`;
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
  });
  t.after(() => srv.close());
  const r = testRoute(3_000);
  t.after(() => r.close());
  const origin = srv.origin;
  const ok = async (): Promise<string> => (await r.request({ origin, path: '/ok', method: 'GET', headers: {} })).body.text();
  assert.equal(await ok(), 'GET /ok 0');

  const bad: { what: string; path?: string; method?: string; headers?: Record<string, string>; body?: string | Buffer[] }[] = [
    { what: 'CRLF in a value', headers: { authorization: 'Bearer x\r\nX-Injected: 1' } },
    { what: 'bare LF in a value', headers: { authorization: 'Bearer x\nX-Injected: 1' } },
    { what: 'NUL in a value', headers: { authorization: 'Bearer x\0y' } },
    { what: 'a character past latin1', headers: { authorization: 'Bearer \u0100' } },
    { what: 'space in a name', headers: { 'x a': '1' } },
    { what: 'colon in a name', headers: { 'x:a': '1' } },
    { what: 'CRLF in the path', path: '/a HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET /b' },
    { what: 'space in the path', path: '/a b' },
    { what: 'space in the method', method: 'GET /x HTTP/1.1\r\n\r\nGET' },
    { what: 'a length that is not the body\'s', method: 'PUT', headers: { 'content-length': '10' }, body: 'abc' },
    { what: 'a length for no body', method: 'PUT', headers: { 'content-length': '3' } },
    { what: 'a list shorter than its length', method: 'PATCH', headers: { 'content-length': '7' }, body: [Buffer.from('abc')] },
    { what: 'transfer-encoding', method: 'PUT', headers: { 'transfer-encoding': 'chunked' }, body: 'abc' },
  ];
  for (const b of bad) {
    const before = srv.requests.length;
    await assert.rejects(r.request({ origin, path: b.path ?? '/x', method: b.method ?? 'GET', headers: b.headers ?? {}, body: b.body }), TypeError, b.what);
    assert.equal(srv.requests.length, before, `${b.what}: nothing reached the server`);
    assert.equal(await ok(), 'GET /ok 0', `${b.what}: the route still works`);
  }
  assert.equal(srv.requests.every((q) => !q.head.includes('X-Injected')), true);
  assert.equal(srv.connections, 1, 'a refused request leaves its kept-alive connection in the pool');

  const list = await r.request({ origin, path: '/list', method: 'PATCH', headers: {}, body: [Buffer.from('abc'), Buffer.from('defg')] });
  assert.equal(await list.body.text(), 'PATCH /list 7', 'a list of buffers goes with its total length');
  assert.equal(await ok(), 'GET /ok 0');
  const latin1 = await r.request({ origin, path: '/l', method: 'GET', headers: { 'x-name': 'caf\u00e9\tok' } });
  assert.equal(await latin1.body.text(), 'GET /l 0', 'latin1 and HTAB in a value are fine');
});
