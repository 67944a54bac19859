import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';
import { randomBytesSeeded } from '../../bench/workloads.js';
import { Lease, type Digest } from '../../layer-store/index.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let work: string;
before(async () => {
  bb = await busyboxTar();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-du-'));
});
after(async () => {
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Du { snapshots: { bytes: number } }

// An edit rebuild of a COPY whose previous snapshot another process uses (here: a lease this test holds, as a
// running build's would) hard-links the unchanged files from it: two snapshots, one copy of those files on disk.
// `du` counts each file once. (Without that lease the rebuild takes the old snapshot over instead: one snapshot.)
test('du counts a file shared by two snapshots (a linked COPY) once', async (t) => {
  const root = join(work, 'root');
  const ctx = join(work, 'ctx');
  const files = 200;
  const size = 20_000;
  for (let i = 0; i < files; i++) {
    await mkdir(join(ctx, 'data'), { recursive: true });
    await writeFile(join(ctx, 'data', `f${i}.bin`), randomBytesSeeded(size, i));
  }
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY data/ /data/\n');
  const cli = (args: string[]) => runCli(['--root', root, '--progress', 'quiet', ...args]);
  assert.equal(cli(['import', bb.tar, 'busybox:latest']).code, 0);
  const before = JSON.parse(cli(['du', '--format', 'json']).stdout) as Du;
  assert.equal(cli(['build', '-t', 'du:1', ctx]).code, 0);
  const one = JSON.parse(cli(['du', '--format', 'json']).stdout) as Du;
  const tree = one.snapshots.bytes - before.snapshots.bytes;
  assert.ok(tree >= files * size, `the COPY's snapshot holds the files (${tree} bytes)`);

  const layers = JSON.parse(cli(['inspect', '--format', '{{json .RootFS.Layers}}', 'du:1']).stdout) as Digest[];
  const lease = await Lease.acquire(root);
  t.after(() => lease.release());
  await lease.add({ snapshots: [layers[layers.length - 1]!] });
  await appendFile(join(ctx, 'data', 'f7.bin'), 'edited');
  assert.equal(cli(['build', '-t', 'du:2', ctx]).code, 0);
  const two = JSON.parse(cli(['du', '--format', 'json']).stdout) as Du;
  const added = two.snapshots.bytes - one.snapshots.bytes;
  assert.ok(added < 2 * size, `the second snapshot adds only the edited file, not another ${files * size} bytes (added ${added})`);
  assert.ok(existsSync(join(root, 'snapshots', layers[layers.length - 1]!.slice('sha256:'.length))), 'the leased snapshot stayed');
});
