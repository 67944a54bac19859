import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayerStore } from '../../layer-store/index.js';
import { runCli } from '../helpers/cli.js';
import { makeTestImage } from '../helpers/validate-image.js';

/** Returns the pid of a process that has exited (so a name carrying it belongs to a dead process). */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(r.stdout.toString().trim());
}

test('tsbuild fsck finds a corrupt blob, a tag missing a layer and an incomplete snapshot; --repair fixes them', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-fsck-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await LayerStore.open(root);
  const good = await makeTestImage(store, 'good', [{ g: 'good' }], { dir: root });
  const corrupt = await makeTestImage(store, 'corrupt', [{ c: 'corrupt' }], { dir: root });
  const lacking = await makeTestImage(store, 'lacking', [{ l1: 'one' }, { l2: 'two' }], { dir: root });
  assert.equal(runCli(['--root', root, 'fsck']).code, 0);

  // (a) a corrupt blob, (b) a tag whose manifest lacks a layer blob, (c) an incomplete snapshot (the temp dir of
  // an unpack whose process died) and a snapshot entry that is not a directory
  await appendFile(store.blobPath(corrupt.layers[0]!.digest), 'bitrot');
  await unlink(store.blobPath(lacking.layers[1]!.digest));
  const tmpSnap = join(store.snapshotsDir, `.tmp-${deadPid()}-${good.diffIds[0]!.slice(7, 19)}-0000`);
  await mkdir(join(tmpSnap, 'half'), { recursive: true });
  const notDir = join(store.snapshotsDir, good.diffIds[0]!.slice(7));
  await writeFile(notDir, 'half');

  const r1 = runCli(['--root', root, 'fsck']);
  assert.equal(r1.code, 1, r1.stdout + r1.stderr);
  const lines = r1.stdout.trim().split('\n');
  const has = (re: RegExp): boolean => lines.some((l) => re.test(l));
  assert.ok(has(new RegExp(`^problem corrupt-blob ${corrupt.layers[0]!.digest}: content hashes to sha256:`)), r1.stdout);
  assert.ok(has(new RegExp(`^problem broken-image docker.io/library/corrupt:latest: tag points at ${corrupt.descriptor.digest}`)), r1.stdout);
  assert.ok(has(new RegExp(`^problem missing-blob ${lacking.layers[1]!.digest}: layer blob is not stored`)), r1.stdout);
  assert.ok(has(/^problem broken-image docker.io\/library\/lacking:latest: /), r1.stdout);
  assert.ok(has(new RegExp(`^problem bad-snapshot ${notDir}: not a directory`)), r1.stdout);
  assert.ok(has(new RegExp(`^leftover incomplete-snapshot ${tmpSnap}: unpack by process \\d+, which is gone`)), r1.stdout);
  assert.match(lines.at(-1)!, /^fsck: 9 blobs checked, 3 index entries, 1 snapshots: inconsistent: 6 problems \(1 leftover of killed processes\)$/);

  const json = JSON.parse(runCli(['--root', root, 'fsck', '--json']).stdout) as { consistent: boolean; corrupt: string[]; missing: string[] };
  assert.equal(json.consistent, false);
  assert.deepEqual(json.corrupt, [corrupt.layers[0]!.digest]);
  assert.deepEqual(json.missing.sort(), [corrupt.layers[0]!.digest, lacking.layers[1]!.digest].sort());

  const r2 = runCli(['--root', root, 'fsck', '--repair']);
  assert.equal(r2.code, 0, r2.stdout + r2.stderr);
  assert.match(r2.stdout, /corrupt-blob .*\(repaired: deleted\)/);
  assert.match(r2.stdout, /broken-image docker.io\/library\/lacking:latest: .*\(repaired: removed from index.json\)/);
  assert.match(r2.stdout, /incomplete-snapshot .*\(repaired: removed\)/);
  assert.equal(existsSync(store.blobPath(corrupt.layers[0]!.digest)), false);
  assert.equal(existsSync(tmpSnap), false);
  assert.equal(existsSync(notDir), false);
  // no tag points at an image with missing blobs; the intact image keeps its tag
  assert.deepEqual((await store.listImages()).flatMap((e) => e.names), ['docker.io/library/good:latest']);

  const r3 = runCli(['--root', root, 'fsck']);
  assert.equal(r3.code, 0, r3.stdout + r3.stderr);
  assert.match(r3.stdout, /^fsck: \d+ blobs checked, 1 index entries, 0 snapshots: consistent\n$/);
  // the snapshot is re-created on demand after repair
  assert.equal(await store.snapshot(good.diffIds[0]!), notDir);
});
