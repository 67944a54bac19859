/**
 * ADD <url> goes where docker's and BuildKit's go: through HTTP_PROXY / HTTPS_PROXY unless NO_PROXY names the
 * host, and trusting the certificates of NODE_EXTRA_CA_CERTS (which the `tsbuild` launcher hands over to the
 * registry client's routes rather than to Node). The proxy here is a real one on loopback that sends every
 * request, whatever its host, to this test's own origin on 127.0.0.1, so the origin's name needs no DNS entry:
 * a request that bypasses the proxy cannot reach it at all.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer as createHttp, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCliAsync } from '../helpers/cli.js';

const run = promisify(execFile);
const NAME = 'tsbuild-add-origin.test';

let work: string;
let httpOrigin: Server;
let httpsOrigin: Server;
let proxy: Server;
const sockets = new Set<Socket>();
/** What the proxy was asked for: `GET http://…` lines and `CONNECT host:port` lines. */
const proxied: string[] = [];

const portOf = (s: Server): number => (s.address() as AddressInfo).port;
const listen = (s: Server): Promise<void> => new Promise((r) => s.listen(0, '127.0.0.1', () => r()));

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tsbuild-add-proxy-'));
  await run('sh', ['-c', `openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=${NAME}" -addext "subjectAltName=DNS:${NAME}" -keyout o.key -out o.pem 2>/dev/null`], { cwd: work });
  const serve = (scheme: string) => (req: IncomingMessage, res: ServerResponse) => { res.end(`${scheme} body of ${req.url}\n`); };
  httpOrigin = createHttp(serve('http'));
  httpsOrigin = createHttps({ key: await readFile(join(work, 'o.key')), cert: await readFile(join(work, 'o.pem')) }, serve('https'));
  proxy = createHttp((req, res) => {
    proxied.push(`${req.method} ${req.url}`);
    const u = new URL(req.url ?? '/', 'http://invalid');
    const up = httpRequest({ host: '127.0.0.1', port: portOf(httpOrigin), path: u.pathname, method: req.method, headers: { host: u.host } }, (ures) => {
      res.writeHead(ures.statusCode ?? 502, ures.headers);
      ures.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  proxy.on('connect', (req, client: Socket, head: Buffer) => {
    proxied.push(`CONNECT ${req.url}`);
    const up = connect(portOf(httpsOrigin), '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(client).pipe(up);
    });
    for (const s of [up, client]) { sockets.add(s); s.on('error', () => undefined); s.on('close', () => sockets.delete(s)); }
  });
  proxy.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await Promise.all([listen(httpOrigin), listen(httpsOrigin), listen(proxy)]);
});

after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all([httpOrigin, httpsOrigin, proxy].map((s) => new Promise((r) => (s ? s.close(r) : r(undefined)))));
  if (work) await rm(work, { recursive: true, force: true });
});

/** The environment of one command: no proxy or CA variables but those given. */
function envWith(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'ALL_PROXY']) { delete env[k]; delete env[k.toLowerCase()]; }
  delete env.NODE_EXTRA_CA_CERTS; delete env.TSBUILD_EXTRA_CA_CERTS; delete env.SSL_CERT_FILE;
  return { ...env, ...vars };
}

/** Builds `ADD <url> /got` from scratch into a local directory; returns the result and the file's text if any. */
async function addBuild(tag: string, url: string, vars: Record<string, string>): Promise<{ code: number | null; stderr: string; got?: string }> {
  const ctx = join(work, `ctx-${tag}`);
  const out = join(work, `out-${tag}`);
  await run('mkdir', ['-p', ctx]);
  await writeFile(join(ctx, 'Dockerfile'), `FROM scratch\nADD ${url} /got\n`);
  const r = await runCliAsync(['--root', join(work, `root-${tag}`), '--progress', 'quiet', 'build', '-o', `type=local,dest=${out}`, ctx], { env: envWith(vars) });
  const got = await readFile(join(out, 'got'), 'utf8').catch(() => undefined);
  return { code: r.code, stderr: r.stderr, ...(got !== undefined ? { got } : {}) };
}

test('ADD of an http URL goes through HTTP_PROXY as an absolute-form request', async () => {
  const url = `http://${NAME}/files/a.txt`;
  const r = await addBuild('http', url, { HTTP_PROXY: `http://127.0.0.1:${portOf(proxy)}` });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.got, 'http body of /files/a.txt\n');
  assert.ok(proxied.includes(`GET ${url}`), `the proxy saw the download: ${JSON.stringify(proxied)}`);
});

test('NO_PROXY naming the host sends ADD direct (and the name, unknown to DNS, cannot be reached)', async () => {
  const before = proxied.length;
  const r = await addBuild('noproxy', `http://${NAME}/files/b.txt`, { HTTP_PROXY: `http://127.0.0.1:${portOf(proxy)}`, NO_PROXY: `.test` });
  assert.notEqual(r.code, 0, 'the direct download cannot resolve the name');
  assert.equal(proxied.length, before, `nothing went through the proxy: ${JSON.stringify(proxied.slice(before))}`);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
});

test('ADD of an https URL tunnels through HTTPS_PROXY and trusts NODE_EXTRA_CA_CERTS; without the CA it fails', async () => {
  const url = `https://${NAME}/files/c.txt`;
  const proxyUrl = `http://127.0.0.1:${portOf(proxy)}`;
  const ok = await addBuild('https', url, { HTTPS_PROXY: proxyUrl, NODE_EXTRA_CA_CERTS: join(work, 'o.pem') });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.got, 'https body of /files/c.txt\n');
  assert.ok(proxied.includes(`CONNECT ${NAME}:443`), `the proxy tunnelled it: ${JSON.stringify(proxied)}`);

  const untrusted = await addBuild('https-noca', url, { HTTPS_PROXY: proxyUrl });
  assert.notEqual(untrusted.code, 0, 'a self-signed origin is refused without the extra CA');
  assert.equal(untrusted.got, undefined);
});
