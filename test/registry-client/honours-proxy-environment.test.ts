/**
 * HTTP_PROXY / HTTPS_PROXY / NO_PROXY reach tsbuild's own registry traffic as they reach docker's, skopeo's and
 * crane's: a push and a pull through a real proxy on loopback (HTTPS by CONNECT, plain HTTP as absolute-form
 * requests), NO_PROXY sending the same registry direct, and loopback never proxied. The registries are reached
 * under non-loopback names (added to /etc/hosts for this test) so that they are proxied at all.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCliAsync } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { startForwardProxy, type ForwardProxy } from '../helpers/forward-proxy.js';
import { RegistryClient, parseReference } from '../../registry-client/index.js';
import { addHostNames } from '../helpers/hosts.js';

const run = promisify(execFile);
const TLS_NAME = 'tsbuild-proxy-tls.test';
const HTTP_NAME = 'tsbuild-proxy-http.test';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let tlsReg: RegistryHandle;
let httpReg: RegistryHandle;
let proxy: ForwardProxy;
let work: string;
let removeHostNames: (() => Promise<void>) | undefined;

before(async () => {
  bb = await busyboxTar();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-proxy-'));
  await run('sh', ['-c', `openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=${TLS_NAME}" -addext "subjectAltName=DNS:${TLS_NAME}" -keyout server.key -out server.pem 2>/dev/null`], { cwd: work });
  removeHostNames = await addHostNames([TLS_NAME, HTTP_NAME], 'proxy');
  tlsReg = await startRegistry({ mode: 'anonymous' }, { tls: { cert: join(work, 'server.pem'), key: join(work, 'server.key') } });
  httpReg = await startRegistry({ mode: 'anonymous' });
  proxy = await startForwardProxy();
});
after(async () => {
  await proxy?.stop();
  await tlsReg?.stop();
  await httpReg?.stop();
  await bb?.cleanup();
  await removeHostNames?.();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The environment of one command: no proxy variables but those given (either case of each is cleared). */
function envWith(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: work };
  for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'ALL_PROXY']) { delete env[k]; delete env[k.toLowerCase()]; }
  delete env.SSL_CERT_FILE;
  return { ...env, ...vars };
}

test('HTTPS registry traffic goes through HTTPS_PROXY by CONNECT; NO_PROXY sends it direct', async () => {
  const root = join(work, 'tls-root');
  const ts = (vars: Record<string, string>, ...a: string[]) => runCliAsync(['--root', root, '--progress', 'quiet', ...a], { env: envWith(vars) });
  assert.equal((await ts({}, 'import', bb.tar, 'busybox:latest')).code, 0);
  const ref = `${TLS_NAME}:${tlsReg.port}/proxied/bb:1`;
  const target = `${TLS_NAME}:${tlsReg.port}`;
  const tunnels = () => proxy.log.filter((e) => e.kind === 'connect' && e.target === target).length;

  const push = await ts({ HTTPS_PROXY: proxy.url }, 'push', '--ca-file', join(work, 'server.pem'), 'busybox:latest', ref);
  assert.equal(push.code, 0, push.stderr);
  const afterPush = tunnels();
  assert.ok(afterPush >= 1, `the push tunnelled through the proxy (log: ${JSON.stringify(proxy.log)})`);

  const pull = await ts({ https_proxy: proxy.url }, 'pull', '--ca-file', join(work, 'server.pem'), ref);
  assert.equal(pull.code, 0, pull.stderr);
  assert.ok(tunnels() > afterPush, 'the pull (lower-case https_proxy) tunnelled through the proxy');
  assert.match(pull.stdout, /sha256:[0-9a-f]{64}/);

  // NO_PROXY, by name, by domain suffix, and by name:port: straight to the registry, the proxy sees nothing.
  for (const noProxy of [TLS_NAME, '.test', `${TLS_NAME}:${tlsReg.port}`]) {
    const before = proxy.log.length;
    const direct = await ts({ HTTPS_PROXY: proxy.url, NO_PROXY: noProxy }, 'pull', '--ca-file', join(work, 'server.pem'), ref);
    assert.equal(direct.code, 0, direct.stderr);
    assert.equal(proxy.log.length, before, `NO_PROXY=${noProxy} bypasses the proxy`);
  }
  // A NO_PROXY entry for another port does not match: proxied again.
  const before = tunnels();
  const other = await ts({ HTTPS_PROXY: proxy.url, NO_PROXY: `${TLS_NAME}:1` }, 'pull', '--ca-file', join(work, 'server.pem'), ref);
  assert.equal(other.code, 0, other.stderr);
  assert.ok(tunnels() > before);
});

test('plain-HTTP registry traffic goes to HTTP_PROXY as absolute-form requests; loopback registries never do', async () => {
  const root = join(work, 'http-root');
  const ts = (vars: Record<string, string>, ...a: string[]) => runCliAsync(['--root', root, '--progress', 'quiet', ...a], { env: envWith(vars) });
  assert.equal((await ts({}, 'import', bb.tar, 'busybox:latest')).code, 0);
  const host = `${HTTP_NAME}:${httpReg.port}`;
  const forwarded = () => proxy.log.filter((e) => e.kind === 'forward' && e.url.startsWith(`http://${host}/v2/`));

  // An insecure registry is tried over HTTPS first (HTTPS_PROXY is unset: direct, and it fails), then plain HTTP.
  const push = await ts({ HTTP_PROXY: proxy.url }, 'push', '--insecure-registry', host, 'busybox:latest', `${host}/fwd/bb:1`);
  assert.equal(push.code, 0, push.stderr);
  const methods = new Set(forwarded().map((e) => e.kind === 'forward' ? e.method : ''));
  for (const m of ['GET', 'HEAD', 'POST', 'PUT']) assert.ok(methods.has(m), `${m} went through the proxy (saw ${[...methods].join(', ')})`);

  // The same registry under its loopback address is never proxied, whatever the environment says.
  const before = proxy.log.length;
  const loop = await ts({ HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url }, 'pull', `127.0.0.1:${httpReg.port}/fwd/bb:1`);
  assert.equal(loop.code, 0, loop.stderr);
  assert.equal(proxy.log.length, before, 'loopback bypasses the proxy');
});

test('a proxy that is not a URL stops a command that would use it, with one line naming the variable; others run', async () => {
  const env = envWith({ HTTPS_PROXY: 'ftp://proxy:21' });
  const r = await runCliAsync(['--root', join(work, 'bad-root'), 'pull', 'registry.invalid/app:1'], { env });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr.trim(), /^error: HTTPS_PROXY=ftp:\/\/proxy:21: unsupported proxy scheme ftp\b.*: set HTTPS_PROXY to a URL/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  // A loopback registry is never proxied, so the bad value is not in its way.
  const ok = await runCliAsync(['--root', join(work, 'bad-root'), '--progress', 'quiet', 'pull', `127.0.0.1:${httpReg.port}/fwd/bb:1`], { env });
  assert.equal(ok.code, 0, ok.stderr);
});

test('the library reads the proxy variables from RegistryClient\'s proxyEnv when given, not from the process', async () => {
  // Pushed by the first test; this one only reads it.
  const ref = parseReference(`${TLS_NAME}:${tlsReg.port}/proxied/bb:1`);
  const tunnels = () => proxy.log.filter((e) => e.kind === 'connect').length;
  const before = tunnels();
  const viaProxy = new RegistryClient({ caFile: join(work, 'server.pem'), proxyEnv: { HTTPS_PROXY: proxy.url } });
  try {
    assert.match((await viaProxy.source(ref).getManifest()).digest, /^sha256:/);
  } finally {
    await viaProxy.close();
  }
  assert.ok(tunnels() > before, 'proxyEnv routed the request through the proxy');
  const mid = proxy.log.length;
  const direct = new RegistryClient({ caFile: join(work, 'server.pem'), proxyEnv: {} });
  try {
    assert.match((await direct.source(ref).getManifest()).digest, /^sha256:/);
  } finally {
    await direct.close();
  }
  assert.equal(proxy.log.length, mid, 'an empty proxyEnv connects directly');
});
