/**
 * The direct route's TLS (registry-client/http1.ts): SNI names the host for a host name and is not sent for an IP
 * literal; the certificate is checked against the roots given and the host (a certificate for `localhost` does
 * not pass for 127.0.0.1); only the unverified route (an insecure registry's HTTPS host) takes any certificate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { Http1Route } from '../../registry-client/http1.js';

test('TLS: SNI for names not IPs, certificates checked unless the route is the unverified one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbuild-wire-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const cert = readFileSync(join(dir, 'cert.pem'));
  const names: (string | false)[] = [];
  const server = createServer({ cert, key: readFileSync(join(dir, 'key.pem')) }, (s: TLSSocket) => {
    names.push(s.servername ?? false);
    s.on('error', () => undefined);
    s.once('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
  });
  await new Promise<void>((r) => server.listen(0, r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;
  const route = (tls: { ca?: Buffer; rejectUnauthorized?: boolean }): Http1Route => {
    const r = new Http1Route({ timeoutMs: 5_000, keepAliveTimeoutMs: 1_000, tls: async () => tls });
    t.after(() => r.close());
    return r;
  };
  const get = async (r: Http1Route, host: string): Promise<string> => (await r.request({ origin: `https://${host}:${port}`, path: '/', method: 'GET', headers: {} })).body.text();

  assert.equal(await get(route({ ca: cert }), 'localhost'), 'ok');
  assert.equal(names.pop(), 'localhost', 'SNI names the host');
  await assert.rejects(get(route({ ca: cert }), '127.0.0.1'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  await assert.rejects(get(route({}), 'localhost'), /self[- ]signed/i);
  assert.equal(await get(route({ rejectUnauthorized: false }), '127.0.0.1'), 'ok', 'the unverified route takes any certificate');
  assert.equal(names.pop(), false, 'no SNI for an IP literal');
  assert.equal(names.length, 0, 'the refused handshakes served nothing');
});
