import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { WORKLOAD_NAMES, applyEdit, generateWorkload, type WorkloadName } from '../../bench/workloads.js';

/** sha256 over every file's relative path and bytes, in sorted order. */
async function treeDigest(root: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else { h.update(relative(root, p) + '\0'); h.update(await readFile(p)); }
    }
  };
  await walk(root);
  return h.digest('hex');
}

test('every workload generator writes the same bytes twice, and the edit changes its edit file deterministically', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-workloads-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // W2 is checked with 500 files to keep the test fast (the generator is the same at any size).
  for (const name of WORKLOAD_NAMES as readonly WorkloadName[]) {
    const a = await generateWorkload(name, join(dir, `${name}-a`), { quick: true, baseImage: 'busybox:latest', w2Files: 500 });
    const b = await generateWorkload(name, join(dir, `${name}-b`), { quick: true, baseImage: 'busybox:latest', w2Files: 500 });
    assert.equal(await treeDigest(a.dir), await treeDigest(b.dir), `${name} differs between two generations`);
    assert.match(await readFile(join(a.dir, 'Dockerfile'), 'utf8'), /^FROM busybox:latest/);
    const before = await readFile(join(a.dir, a.editFile));
    await applyEdit(a.dir, a, 0);
    await applyEdit(b.dir, b, 0);
    assert.notDeepEqual(await readFile(join(a.dir, a.editFile)), before, `${name}: the edit did not change ${a.editFile}`);
    assert.equal(await treeDigest(a.dir), await treeDigest(b.dir), `${name} differs after the same edit`);
    await rm(a.dir, { recursive: true, force: true });
    await rm(b.dir, { recursive: true, force: true });
  }
});
