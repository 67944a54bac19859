import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, runCliAsync } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { startFaultyProxy, type FaultyProxy } from '../helpers/faulty-proxy.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let reg: RegistryHandle;
let proxy: FaultyProxy;
let work: string;

before(async () => {
  bb = await busyboxTar();
  reg = await startRegistry();
  proxy = await startFaultyProxy(reg.host);
  work = await mkdtemp(join(tmpdir(), 'tsbuild-xflags-'));
});
after(async () => {
  await proxy?.stop();
  await reg?.stop();
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('--chunk-size sets the PATCH size of a push; bad transfer flags are usage errors (exit 2)', async () => {
  const root = join(work, 'root');
  assert.equal(runCli(['--root', root, 'import', bb.tar, 'busybox:latest']).code, 0);
  // busybox's layer is bigger than 64 KiB: it goes up in PATCH chunks of at most that size.
  const p = await runCliAsync(['--root', root, '--progress', 'quiet', 'push', '--chunk-size', '64KiB', '--max-concurrent-uploads', '2', 'busybox:latest', `${proxy.host}/flags/bb:1`]);
  assert.equal(p.code, 0, p.stderr);
  const patches = proxy.log.filter((e) => e.method === 'PATCH');
  assert.ok(patches.length >= 2, `expected several PATCH chunks, saw ${patches.length}`);
  for (const e of patches) {
    const m = /^(\d+)-(\d+)$/.exec(e.requestRange ?? '');
    assert.ok(m, `PATCH without Content-Range: ${JSON.stringify(e)}`);
    assert.ok(Number(m[2]) - Number(m[1]) + 1 <= 64 * 1024, `chunk ${e.requestRange} is over 64 KiB`);
  }
  // The pushed image pulls back with one download stream.
  const q = await runCliAsync(['--root', join(work, 'root2'), '--progress', 'quiet', 'pull', '--max-concurrent-downloads', '1', `${proxy.host}/flags/bb:1`]);
  assert.equal(q.code, 0, q.stderr);

  for (const [flag, value, msg] of [
    ['--max-concurrent-uploads', '0', /invalid --max-concurrent-uploads 0/],
    ['--max-concurrent-downloads', '1000', /invalid --max-concurrent-downloads 1000/],
    ['--chunk-size', '1k', /invalid --chunk-size 1k/],
    ['--chunk-size', 'lots', /invalid size "lots"/],
    ['--registry-timeout', '0', /invalid --registry-timeout 0/],
  ] as const) {
    const cmd = flag === '--max-concurrent-downloads' ? ['pull', flag, value, `${proxy.host}/flags/bb:1`] : ['push', flag, value, 'busybox:latest', `${proxy.host}/flags/bb:2`];
    const r = await runCliAsync(['--root', root, ...cmd]);
    assert.equal(r.code, 2, `${flag} ${value}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one error line');
  }
});
