import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayerStore } from '../../layer-store/index.js';
import { makeTestImage } from '../helpers/validate-image.js';

// Snapshots are never synced (overlay mounts are volatile, unpacks are not fsynced): one written in an earlier
// boot may have lost data in a power failure. Its marker says so, and it is unpacked again from its blob.
test('a snapshot written without a sync in an earlier boot is re-created from its blob; fsck reports and repairs it', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await LayerStore.open(root);
  const img = await makeTestImage(store, 'a', [{ 'etc/': '', 'etc/hostname': 'box\n' }], { dir: root });
  const diffId = img.diffIds[0]!;
  const hex = diffId.slice('sha256:'.length);
  const snap = await store.snapshot(diffId);
  const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  const marker = join(root, 'unsynced', hex);
  assert.equal((await readFile(marker, 'utf8')).trim(), boot, 'the marker names this boot');

  // This boot's snapshot is trusted as it is: fsck finds nothing.
  assert.equal((await store.fsck()).findings.filter((f) => f.kind === 'unsynced-snapshot').length, 0);

  // "Reboot": the marker now names another boot, and the power cut truncated a file.
  await writeFile(marker, 'an-earlier-boot\n');
  await writeFile(join(snap, 'etc', 'hostname'), '');
  await writeFile(join(snap, 'stray'), 'left by the lost boot');
  const report = await store.fsck();
  const found = report.findings.filter((f) => f.kind === 'unsynced-snapshot');
  assert.equal(found.length, 1, JSON.stringify(report.findings));
  assert.equal(found[0]!.subject, snap);
  assert.equal(found[0]!.severity, 'leftover');

  // A new process (fresh store object) uses it: unpacked again, content right, marker of this boot.
  const again = await LayerStore.open(root);
  assert.equal(await again.snapshot(diffId), snap);
  assert.equal(await readFile(join(snap, 'etc', 'hostname'), 'utf8'), 'box\n');
  await assert.rejects(stat(join(snap, 'stray')), { code: 'ENOENT' }, 're-created, not reused');
  assert.equal((await readFile(marker, 'utf8')).trim(), boot);

  // fsck --repair removes such a snapshot (and its marker) before anyone uses it.
  await writeFile(marker, 'an-earlier-boot\n');
  const repaired = await again.fsck({ repair: true });
  assert.equal(repaired.findings.filter((f) => f.kind === 'unsynced-snapshot').length, 1);
  await assert.rejects(stat(snap), { code: 'ENOENT' });
  await assert.rejects(stat(marker), { code: 'ENOENT' });
  assert.equal(await (await LayerStore.open(root)).snapshot(diffId), snap, 'and it comes back on demand');
});
