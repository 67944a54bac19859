import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli, runCliAsync } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { startFaultyProxy, type FaultyProxy } from '../helpers/faulty-proxy.js';

const run = promisify(execFile);
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let reg: RegistryHandle;
let proxy: FaultyProxy;
let work: string;

before(async () => {
  bb = await busyboxTar();
  reg = await startRegistry();
  proxy = await startFaultyProxy(reg.host);
  work = await mkdtemp(join(tmpdir(), 'tsbuild-lostup-'));
});
after(async () => {
  await proxy?.stop();
  await reg?.stop();
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('tsbuild push restarts an upload the registry lost, reading the blob again from the store', async () => {
  const root = join(work, 'root');
  assert.equal(runCli(['--root', root, 'import', bb.tar, 'busybox:latest']).code, 0);
  // The third PATCH answers 404 BLOB_UPLOAD_UNKNOWN (the session is gone): no resume point exists, so the
  // upload must start over with a new POST and the bytes from the beginning.
  let patches = 0;
  proxy.setRule((r) => (r.method === 'PATCH' && ++patches === 3
    ? { kind: 'status', status: 404, headers: { 'content-type': 'application/json' }, body: '{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"blob upload unknown"}]}' }
    : undefined));
  const p = await runCliAsync(['--root', root, '--progress', 'quiet', 'push', '--chunk-size', '64KiB', 'busybox:latest', `${proxy.host}/lost/bb:1`]);
  assert.equal(p.code, 0, p.stderr);
  const layerPosts = proxy.log.filter((e) => e.method === 'POST' && e.url.includes('/blobs/uploads/'));
  assert.ok(layerPosts.length >= 3, `config + layer + restarted layer upload: ${layerPosts.length} POSTs`);
  const lost = proxy.log.findIndex((e) => e.method === 'PATCH' && e.status === 404);
  assert.ok(lost > 0, 'the fault was injected');
  const after404 = proxy.log.slice(lost + 1);
  assert.ok(after404.some((e) => e.method === 'POST'), 'a new upload session was started after the loss');
  assert.ok(after404.some((e) => e.method === 'PATCH' && /^0-/.test(e.requestRange ?? '')), 'the restarted upload sent the blob from byte 0');
  // skopeo reads back exactly what the store holds.
  const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${proxy.host}/lost/bb:1`]);
  const { stdout: local } = await run('skopeo', ['inspect', '--raw', `oci:${root}:docker.io/library/busybox:latest`]);
  assert.equal(stdout, local);
});
