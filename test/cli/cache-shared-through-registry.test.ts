import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

const run = promisify(execFile);
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let reg: RegistryHandle;
let work: string;

function tsbuild(root: string, args: string[], env: NodeJS.ProcessEnv = process.env): CliResult {
  return runCli(['--root', root, ...args], { env });
}

before(async () => {
  bb = await busyboxTar();
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-rcache-'));
});
after(async () => {
  await reg?.stop();
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('CI runners share the cache through a registry: an empty root hits every step, gets the same digest and the cache mount', async () => {
  const ctx = join(work, 'ctx');
  await run('mkdir', ['-p', ctx]);
  await writeFile(join(ctx, 'app.txt'), 'app v1\n');
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest',
    'WORKDIR /app',
    'COPY app.txt .',
    'RUN --mount=type=cache,id=pkgs,target=/cache sh -c "echo downloaded >> /cache/pkgs.log; cp app.txt built.txt"',
    'CMD ["cat", "/app/built.txt"]',
    '',
  ].join('\n'));
  const cacheRef = `${reg.host}/ci/app-cache:main`;
  const rootA = join(work, 'runner-a');
  const rootB = join(work, 'runner-b');
  // Both runners get the identical base image (as if pulled from the same registry): same bytes, same created time.
  for (const r of [rootA, rootB]) assert.equal(tsbuild(r, ['import', bb.tar, 'busybox:latest'], { ...process.env, SOURCE_DATE_EPOCH: '0' }).code, 0);
  const metaA = join(work, 'a.json');
  const a = tsbuild(rootA, ['build', '--progress', 'plain', '-t', 'app:1', '--metadata-file', metaA, '--cache-to', `type=registry,ref=${cacheRef},mode=max`, ctx]);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stderr, /exported 3 cache records/);

  const metaB = join(work, 'b.json');
  const b = tsbuild(rootB, ['build', '--progress', 'json', '-t', 'app:1', '--metadata-file', metaB, '--cache-from', `type=registry,ref=${cacheRef}`, ctx]);
  assert.equal(b.code, 0, b.stderr);
  const events = b.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string });
  assert.equal(events.filter((e) => e.type === 'step.miss').length, 0, 'no step ran on the empty runner');
  assert.equal(events.filter((e) => e.type === 'step.cached').length, 3);
  const digest = (f: string) => readFile(f, 'utf8').then((t) => JSON.parse(t)['containerimage.digest'] as string);
  assert.equal(await digest(metaB), await digest(metaA), 'identical image digest from an empty root');
  // The cache mount's contents travelled too (mode=max).
  const { stdout } = await run('sh', ['-c', `cat ${rootB}/cache-mounts/*/pkgs.log`]);
  assert.equal(stdout, 'downloaded\n');

  // A cache registry that is down only costs a warning.
  const c = tsbuild(join(work, 'runner-c'), ['build', '--progress', 'plain', '--cache-from', 'type=registry,ref=127.0.0.1:1/nope:x', '-t', 'x:1', join(work, 'none')]);
  assert.notEqual(c.code, 0); // no context here: the build fails for that reason, not because of the cache
  const ctx2 = join(work, 'ctx2');
  await run('mkdir', ['-p', ctx2]);
  await writeFile(join(ctx2, 'Dockerfile'), 'FROM scratch\nLABEL a=b\n');
  const d = tsbuild(join(work, 'runner-d'), ['build', '--progress', 'plain', '--cache-from', 'type=registry,ref=127.0.0.1:1/nope:x', ctx2]);
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stderr, /WARNING: cannot use --cache-from 127\.0\.0\.1:1\/nope:x/);
});
