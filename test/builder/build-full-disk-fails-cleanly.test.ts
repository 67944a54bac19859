import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from '../../builder/index.js';
import { LayerStore, TsbuildError, importRootfs } from '../../layer-store/index.js';
import { findRuntime } from '../../runtime-exec/index.js';
import { busyboxTar, mountPoints } from '../helpers/build-env.js';

const run = promisify(execFile);
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let work: string;
let root: string;
before(async () => {
  bb = await busyboxTar();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-full-'));
  root = join(work, 'root');
  await mkdir(root);
  // A small filesystem for --root: the base image fits, a step's 6 MB of random data does not.
  await run('mount', ['-t', 'tmpfs', '-o', 'size=7m', 'tmpfs', root]);
});
after(async () => {
  if (root) await run('umount', [root]).catch(() => undefined);
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('a full disk fails the step with one clear error, moves no tag and leaves no scratch, temp blob or mount', async () => {
  const store = await LayerStore.open(root);
  await importRootfs(store, bb.tar, 'busybox:latest', { created: '1970-01-01T00:00:00.000Z' });
  await store.tag('app:1', (await store.image('busybox:latest')).descriptor);
  const ctx = join(work, 'ctx');
  await mkdir(ctx);
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nRUN head -c 6000000 /dev/urandom > /big || true\n');
  const index = await readFile(join(root, 'index.json'), 'utf8');
  const mounts = await mountPoints(root);
  const runtime = await findRuntime({ runtime: 'runc' });
  await assert.rejects(build({ context: ctx, tags: ['app:1'], store, runtime }), (e: unknown) => {
    assert.ok(TsbuildError.is(e), String(e));
    assert.match(e.message, /no space left/);
    assert.deepEqual(e.location, { file: 'Dockerfile', line: 2, endLine: 2 });
    return true;
  });
  assert.equal(await readFile(join(root, 'index.json'), 'utf8'), index, 'no tag moved');
  assert.deepEqual(await readdir(join(root, 'tmp')), []);
  assert.deepEqual((await readdir(join(root, 'blobs', 'sha256'))).filter((n) => n.startsWith('.tmp-')), []);
  assert.deepEqual(await mountPoints(root), mounts);
});
