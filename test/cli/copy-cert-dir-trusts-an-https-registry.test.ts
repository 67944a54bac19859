/**
 * skopeo's `--dest-cert-dir`/`--src-cert-dir`: the `*.crt` CA certificates of the directory make an HTTPS
 * registry's certificate trusted (one client serves both sides, so both dirs' CAs are trusted for both); without them the copy fails on the certificate; a client
 * certificate in the directory (mutual TLS, which tsbuild does not do) is refused by name.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCliAsync } from '../helpers/cli.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { addHostNames } from '../helpers/hosts.js';

const run = promisify(execFile);
/** A non-loopback name for 127.0.0.1 (loopback is always plain HTTP), added to /etc/hosts and removed after. */
const NAME = 'tsbuild-certdir.test';

let reg: RegistryHandle;
let work: string;
let removeHostNames: (() => Promise<void>) | undefined;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tsbuild-certdir-'));
  const sh = (cmd: string) => run('sh', ['-c', cmd], { cwd: work });
  await sh('openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=tsbuild certdir CA" -keyout ca.key -out ca.pem 2>/dev/null');
  await sh(`openssl req -newkey rsa:2048 -nodes -subj "/CN=${NAME}" -keyout server.key -out server.csr 2>/dev/null`);
  await writeFile(join(work, 'ext.cnf'), `subjectAltName=DNS:${NAME}\n`);
  await sh('openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out server.pem 2>/dev/null');
  removeHostNames = await addHostNames([NAME], 'copy-cert-dir');
  reg = await startRegistry({ mode: 'anonymous' }, { tls: { cert: join(work, 'server.pem'), key: join(work, 'server.key') } });
});
after(async () => {
  await reg?.stop();
  await removeHostNames?.();
  if (work) await rm(work, { recursive: true, force: true });
});

test('--dest-cert-dir and --src-cert-dir make the registry trusted; without them the certificate is refused', async () => {
  const root = join(work, 'root');
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: work };
  delete env.SSL_CERT_FILE;
  const ts = (...a: string[]) => runCliAsync(['--root', root, '--progress', 'quiet', ...a], { env });
  await mkdir(join(work, 'fs', 'etc'), { recursive: true });
  await writeFile(join(work, 'fs', 'etc', 'x'), 'x\n');
  await run('tar', ['-C', join(work, 'fs'), '-cf', join(work, 'fs.tar'), '.']);
  assert.equal((await ts('import', join(work, 'fs.tar'), 'app:1')).code, 0);
  const certs = join(work, 'certs.d');
  await mkdir(certs);
  await copyFile(join(work, 'ca.pem'), join(certs, 'ca.crt'));
  const ref = `docker://${NAME}:${reg.port}/t/app:1`;

  const untrusted = await ts('copy', 'app:1', ref);
  assert.notEqual(untrusted.code, 0);
  assert.match(untrusted.stderr, /certificate/i);
  const pushed = await ts('copy', 'app:1', ref, '--dest-cert-dir', certs);
  assert.equal(pushed.code, 0, pushed.stderr);
  const digest = /sha256:[a-f0-9]{64}/.exec(pushed.stdout)![0];
  const skopeo = JSON.parse((await run('skopeo', ['inspect', '--cert-dir', certs, ref])).stdout) as { Digest: string };
  assert.equal(skopeo.Digest, digest);
  const pulled = await ts('copy', ref, `oci:${join(work, 'lay')}`, '--src-cert-dir', certs);
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.match(pulled.stdout, new RegExp(digest));

  // An unreadable --ca-file beside the directory: one usage line naming the file (was: a raw ENOENT, exit 1).
  const missing = join(work, 'no-such-ca.pem');
  const ownTmp = join(work, 'tmp');
  await mkdir(ownTmp);
  const noCa = await runCliAsync(['--root', root, '--progress', 'quiet', 'copy', 'app:1', ref, '--dest-cert-dir', certs, '--ca-file', missing], { env: { ...env, TMPDIR: ownTmp } });
  assert.equal(noCa.code, 2, noCa.stderr);
  assert.deepEqual(await readdir(ownTmp), [], 'no temp CA bundle left behind');
  assert.equal(noCa.stderr.trim().split('\n').length, 1, noCa.stderr);
  assert.match(noCa.stderr, new RegExp(`cannot read the CA file ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*ENOENT`));

  await writeFile(join(certs, 'client.cert'), 'x');
  const mtls = await ts('copy', 'app:1', ref, '--dest-cert-dir', certs);
  assert.equal(mtls.code, 2);
  assert.match(mtls.stderr, /client certificate \(\*\.cert\/\*\.key\): tsbuild does not present client certificates/);
});
