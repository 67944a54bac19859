import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayerStore } from '../../layer-store/index.js';
import { makeTestImage } from '../helpers/validate-image.js';

/** Returns the pid of a process that has exited. */
function deadPid(): number {
  return Number(spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim());
}

test('a lock file left empty by a process killed while taking it is reported by fsck and broken, not waited on', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-fsck-lock-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await LayerStore.open(root, { lockTimeoutMs: 3_000 });
  const img = await makeTestImage(store, 'x', [{ a: 'a' }], { dir: root });
  // What a kill between creating the lock file and writing its holder left behind (older tsbuild versions),
  // and the temp file of the current two-step take (write, then link) killed before its unlink.
  const lock = join(root, 'index.json.lock');
  await writeFile(lock, '');
  const old = new Date(Date.now() - 60_000);
  await utimes(lock, old, old);
  const tmp = join(root, `index.json.lock.tmp-${deadPid()}-0000`);
  await writeFile(tmp, '1 host time\n');
  await utimes(tmp, old, old);

  const r = await store.fsck();
  assert.equal(r.consistent, true);
  assert.deepEqual(r.findings.map((f) => `${f.kind} ${f.subject}`), [`stale-lock ${lock}`]);
  assert.deepEqual((await readdir(root)).filter((n) => n.startsWith('index.json.lock')), [], 'taking the lock broke it and swept the dead temp file');
  // a later command is not blocked either (before the fix, an empty lock was never judged stale: STORE_LOCKED)
  await writeFile(lock, '');
  await utimes(lock, old, old);
  await store.tag('y', img.descriptor);
  assert.deepEqual((await store.listImages()).flatMap((e) => e.names).sort(), ['docker.io/library/x:latest', 'docker.io/library/y:latest']);
});
