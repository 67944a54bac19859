import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountOverlay, unmount } from '../../runtime-exec/index.js';
import { mountsUsing } from '../helpers/owned.js';

// Two identical COPY steps give one diffID, so the same snapshot dir twice in a chain (BuildKit's
// TestCopyOverrideFiles): the mount must work, and show what the stack means (the top copy over the middle layer).
test('a layer dir repeated in the lower chain mounts once, at its topmost place', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'tsbuild-test-overlay-dup-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const [same, middle, upper, work, merged] = ['same', 'middle', 'upper', 'work', 'merged'].map((d) => join(base, d)) as [string, string, string, string, string];
  for (const d of [same, middle, upper, work, merged]) await mkdir(d);
  await writeFile(join(same, 'f'), 'from the repeated layer\n');
  await writeFile(join(middle, 'f'), 'from the middle layer\n');
  await writeFile(join(middle, 'm'), 'middle only\n');
  await mountOverlay({ lower: [same, middle, same], upper, work, target: merged, emptyLower: join(base, 'empty') });
  try {
    assert.equal(await readFile(join(merged, 'f'), 'utf8'), 'from the repeated layer\n');
    assert.deepEqual((await readdir(merged)).sort(), ['f', 'm']);
  } finally {
    await unmount(merged);
  }
  assert.deepEqual(await mountsUsing(base), []);
});
