/**
 * skopeo's `--src-tls-verify=false`/`--dest-tls-verify=false` and docker's `--insecure-registry`: HTTPS without
 * certificate verification, and plain HTTP when the registry does not speak HTTPS (containers/image's
 * detectProperties). Checked against a real HTTPS registry with a self-signed certificate and a plain-HTTP one,
 * each under a non-loopback name (loopback is always plain HTTP), with skopeo reading what tsbuild pushed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCliAsync } from '../helpers/cli.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { addHostNames } from '../helpers/hosts.js';

const run = promisify(execFile);
const TLS_NAME = 'tsbuild-tlsverify-https.test';
const HTTP_NAME = 'tsbuild-tlsverify-http.test';

let tlsReg: RegistryHandle;
let httpReg: RegistryHandle;
let work: string;
let removeHostNames: (() => Promise<void>) | undefined;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tsbuild-tlsverify-'));
  await run('sh', ['-c', `openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=${TLS_NAME}" -addext "subjectAltName=DNS:${TLS_NAME}" -keyout server.key -out server.pem 2>/dev/null`], { cwd: work });
  removeHostNames = await addHostNames([TLS_NAME, HTTP_NAME], 'tls-verify');
  tlsReg = await startRegistry({ mode: 'anonymous' }, { tls: { cert: join(work, 'server.pem'), key: join(work, 'server.key') } });
  httpReg = await startRegistry({ mode: 'anonymous' });
});
after(async () => {
  await tlsReg?.stop();
  await httpReg?.stop();
  await removeHostNames?.();
  if (work) await rm(work, { recursive: true, force: true });
});

test('--dest-tls-verify=false pushes to a self-signed HTTPS registry and to a plain-HTTP one; without it both fail', async () => {
  const root = join(work, 'root');
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: work };
  delete env.SSL_CERT_FILE;
  delete env.NODE_EXTRA_CA_CERTS;
  const ts = (...a: string[]) => runCliAsync(['--root', root, '--progress', 'quiet', ...a], { env });
  await mkdir(join(work, 'fs', 'etc'), { recursive: true });
  await writeFile(join(work, 'fs', 'etc', 'x'), 'x\n');
  await run('tar', ['-C', join(work, 'fs'), '-cf', join(work, 'fs.tar'), '.']);
  assert.equal((await ts('import', join(work, 'fs.tar'), 'app:1')).code, 0);

  for (const [name, reg, refusal] of [[TLS_NAME, tlsReg, /certificate/i], [HTTP_NAME, httpReg, /ping registry|EPROTO|wrong version|ECONNRESET|no response/i]] as const) {
    const ref = `docker://${name}:${reg.port}/t/app:1`;
    const strict = await ts('copy', 'app:1', ref);
    assert.notEqual(strict.code, 0, `${name}: verified TLS must fail`);
    assert.match(strict.stderr, refusal);
    const pushed = await ts('copy', 'app:1', ref, '--dest-tls-verify=false');
    assert.equal(pushed.code, 0, pushed.stderr);
    const digest = /sha256:[a-f0-9]{64}/.exec(pushed.stdout)![0];
    const skopeo = JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', ref])).stdout) as { Digest: string };
    assert.equal(skopeo.Digest, digest, `${name}: skopeo reads what tsbuild pushed`);
    const pulled = await ts('copy', ref, `oci:${join(work, `lay-${name}`)}`, '--src-tls-verify=false');
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.match(pulled.stdout, new RegExp(digest));
    const viaInsecure = await ts('pull', '--insecure-registry', `${name}:${reg.port}`, `${name}:${reg.port}/t/app:1`);
    assert.equal(viaInsecure.code, 0, viaInsecure.stderr);
  }
});
