import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCliAsync } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { addHostNames } from '../helpers/hosts.js';

const run = promisify(execFile);
/**
 * A name for 127.0.0.1 that is not loopback-looking, so tsbuild speaks HTTPS to it (loopback addresses are
 * always plain HTTP). It is added to /etc/hosts for this test and removed after.
 */
const NAME = 'tsbuild-tls.test';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let reg: RegistryHandle;
let work: string;
let removeHostNames: (() => Promise<void>) | undefined;

before(async () => {
  bb = await busyboxTar();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-tls-'));
  // A test CA and a server certificate for NAME signed by it.
  const sh = (cmd: string) => run('sh', ['-c', cmd], { cwd: work });
  await sh('openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=tsbuild test CA" -keyout ca.key -out ca.pem 2>/dev/null');
  await sh(`openssl req -newkey rsa:2048 -nodes -subj "/CN=${NAME}" -keyout server.key -out server.csr 2>/dev/null`);
  await writeFile(join(work, 'ext.cnf'), `subjectAltName=DNS:${NAME}\n`);
  await sh('openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out server.pem 2>/dev/null');
  removeHostNames = await addHostNames([NAME], 'https-with-ca-file');
  reg = await startRegistry({ mode: 'anonymous' }, { tls: { cert: join(work, 'server.pem'), key: join(work, 'server.key') } });
});
after(async () => {
  await reg?.stop();
  await bb?.cleanup();
  await removeHostNames?.();
  if (work) await rm(work, { recursive: true, force: true });
});

test('HTTPS registry: --ca-file (or SSL_CERT_FILE) makes its certificate trusted; without it, one clear error', async () => {
  const root = join(work, 'root');
  const env = { ...process.env };
  delete env.SSL_CERT_FILE;
  assert.equal((await runCliAsync(['--root', root, 'import', bb.tar, 'busybox:latest'], { env })).code, 0);
  const ref = `${NAME}:${reg.port}/tls/bb:1`;

  const push = await runCliAsync(['--root', root, '--progress', 'quiet', 'push', '--ca-file', join(work, 'ca.pem'), 'busybox:latest', ref], { env });
  assert.equal(push.code, 0, push.stderr);
  assert.match(push.stdout, /sha256:[0-9a-f]{64}/);

  // Without the CA the certificate is not trusted: one error line that names the registry and the fix.
  const bad = await runCliAsync(['--root', join(work, 'root2'), '--progress', 'quiet', 'pull', ref], { env });
  assert.equal(bad.code, 1);
  const lines = bad.stderr.trim().split('\n');
  assert.equal(lines.length, 1, bad.stderr);
  assert.match(lines[0]!, /^error: .*certificate/i);
  assert.match(lines[0]!, /--ca-file/);

  // The CA file is read at the first TLS connection (not when the client is made): an unreadable one fails the
  // pull there, as a usage error (exit 2) with one line that names it.
  const unreadable = await runCliAsync(['--root', join(work, 'root2'), '--progress', 'quiet', 'pull', '--ca-file', join(work, 'missing.pem'), ref], { env });
  assert.equal(unreadable.code, 2, unreadable.stderr);
  assert.equal(unreadable.stderr.trim().split('\n').length, 1, unreadable.stderr);
  assert.match(unreadable.stderr, /^error: cannot read the CA file .*missing\.pem .*ENOENT/);

  // SSL_CERT_FILE is the flag's default, as for Docker and curl.
  const good = await runCliAsync(['--root', join(work, 'root3'), '--progress', 'quiet', 'pull', ref], { env: { ...env, SSL_CERT_FILE: join(work, 'ca.pem') } });
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, new RegExp(`${NAME.replace('.', '\\.')}:${reg.port}/tls/bb:1: sha256:`));

  // NODE_EXTRA_CA_CERTS adds to the default roots, as in any Node program, although the launcher keeps Node from
  // loading it at start-up (bin/tsbuild): the registry client adds it when it connects.
  const extra = await runCliAsync(['--root', join(work, 'root4'), '--progress', 'quiet', 'pull', ref], { env: { ...env, NODE_EXTRA_CA_CERTS: join(work, 'ca.pem') } });
  assert.equal(extra.code, 0, extra.stderr);
  const none = await runCliAsync(['--root', join(work, 'root5'), '--progress', 'quiet', 'pull', ref], { env: { ...env, NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt' } });
  assert.equal(none.code, 1, 'a bundle without the test CA does not trust it');
});
