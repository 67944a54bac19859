/**
 * The direct route's HTTP/1.1 (registry-client/wire.ts, wire-head.ts) reads a response body's length as RFC 9112
 * section 6.3 says, against a raw TCP server sending exact bytes: Transfer-Encoding wins over Content-Length and
 * the connection is not reused after such a response; differing Content-Lengths, codings other than chunked and
 * malformed chunk framing (a size with 0x or junk, data not followed by CRLF, a bare LF, oversized trailers) are
 * refused rather than read some way; a stream of 1xx heads is bounded. Each case also shows that a good answer
 * on the same route still works.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get, rawServer, testRoute } from './raw-http-server.js';

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

const answers: Record<string, string> = {
  '/te-and-cl': 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  '/cl-differ': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello!!',
  '/cl-list-differ': 'HTTP/1.1 200 OK\r\nContent-Length: 5, 7\r\n\r\nhello!!',
  '/cl-same': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5, 5\r\n\r\nhello',
  '/cl-negative': 'HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello',
  '/cl-huge': 'HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nhello',
  '/te-gzip': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello',
  '/te-chunked-gzip': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  '/chunk-0x': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n',
  '/chunk-junk': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5zz\r\nhello\r\n0\r\n\r\n',
  '/chunk-overflow': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20000000000000\r\nhello\r\n0\r\n\r\n',
  '/chunk-no-crlf': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n',
  '/chunk-bare-lf': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n',
  '/chunk-ext-trailer': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n0\r\nX-Checksum: 1\r\n\r\n',
  '/trailer-flood': `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n${'X-T: 1234567890\r\n'.repeat(5000)}\r\n`,
  '/early-hints': 'HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
  '/1xx-flood': `${'HTTP/1.1 100 Continue\r\n\r\n'.repeat(5000)}${OK}`,
  '/101': 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nanything',
  '/204-with-bytes': 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello',
  '/http10': 'HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello',
  '/close': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello',
};

test('response framing: TE over CL without reuse, agreeing lengths, strict chunks, bounded 1xx and trailers', async (t) => {
  const srv = await rawServer((req, s) => { s.write(answers[req.path] ?? OK); });
  t.after(() => srv.close());
  const r = testRoute();
  t.after(() => r.close());
  const conn = (): number => srv.requests[srv.requests.length - 1]!.connection;

  // Transfer-Encoding wins, and the connection is not trusted for the next request (RFC 9112 section 6.3).
  assert.equal((await get(r, srv.origin, '/te-and-cl')).text, 'hello');
  const first = conn();
  assert.equal((await get(r, srv.origin, '/ok')).text, 'ok');
  assert.notEqual(conn(), first, 'a response with both Transfer-Encoding and Content-Length closes its connection');

  for (const p of ['/cl-differ', '/cl-list-differ', '/cl-negative', '/cl-huge', '/te-gzip', '/te-chunked-gzip',
    '/chunk-0x', '/chunk-junk', '/chunk-overflow', '/chunk-no-crlf', '/chunk-bare-lf', '/trailer-flood', '/1xx-flood', '/101']) {
    await assert.rejects(get(r, srv.origin, p), /bad HTTP response/, p);
    assert.equal((await get(r, srv.origin, '/ok')).text, 'ok', `a good answer after ${p}`);
  }

  assert.equal((await get(r, srv.origin, '/cl-same')).text, 'hello', 'repeated equal lengths are one length');
  const ext = await get(r, srv.origin, '/chunk-ext-trailer');
  assert.equal(ext.text, 'hello', 'chunk extensions and trailers are read past');
  const afterTrailer = conn();
  assert.equal((await get(r, srv.origin, '/ok')).text, 'ok');
  assert.equal(conn(), afterTrailer, 'a clean chunked response with trailers keeps its connection');

  const hints = await get(r, srv.origin, '/early-hints');
  assert.deepEqual([hints.status, hints.text], [200, 'hello'], '103 and 100 are skipped');

  const nc = await get(r, srv.origin, '/204-with-bytes');
  assert.deepEqual([nc.status, nc.text], [204, ''], 'a 204 has no body');
  const after204 = conn();
  assert.equal((await get(r, srv.origin, '/ok')).text, 'ok');
  assert.notEqual(conn(), after204, 'bytes after a 204 drop its connection');

  for (const p of ['/http10', '/close']) {
    assert.equal((await get(r, srv.origin, p)).text, 'hello');
    const c = conn();
    assert.equal((await get(r, srv.origin, '/ok')).text, 'ok');
    assert.notEqual(conn(), c, `${p}: the connection is not reused`);
  }
});

test('a body that fails before its reader attaches fails that reader, not the process', async (t) => {
  // The head and a broken chunk in one write: the body fails in the very tick its response is handed out.
  const srv = await rawServer((req, s) => {
    if (req.path === '/reset') {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart');
      setTimeout(() => s.resetAndDestroy(), 10);
    } else {
      s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
    }
  });
  t.after(() => srv.close());
  const r = testRoute();
  t.after(() => r.close());

  const a = await r.request({ origin: srv.origin, path: '/bad', method: 'GET', headers: {} });
  await new Promise((res) => setTimeout(res, 50));
  await assert.rejects(a.body.text(), /bad HTTP response: chunk size/);

  // A reader by events (as forwardBlob reads a blob) attaching after the connection was reset still hears of it.
  const b = await r.request({ origin: srv.origin, path: '/reset', method: 'GET', headers: {} });
  await new Promise((res) => setTimeout(res, 100));
  const got = await new Promise<string>((res) => {
    let n = 0;
    b.body.on('data', (c: Buffer) => { n += c.length; });
    b.body.once('end', () => res(`end after ${n}`));
    b.body.once('error', (e: Error) => res(`error: ${(e as Error & { code?: string }).code ?? e.message}`));
  });
  assert.match(got, /^error: /);
});
