// Attack: a device node (e.g. /dev/mem, a disk) smuggled into an image; only created when allowed (root).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyLayer, UnsafeLayerEntryError } from '../../layer-store/layer/index.js';
import { hostileTar, sandbox, Readable } from './layer-test-kit.js';

for (const type of ['character-device', 'block-device'] as const) {
  test(`a ${type} entry is rejected when allowDevices is false`, async (t) => {
    const s = sandbox(t);
    const before = s.outsideState();
    const tar = await hostileTar([{ header: { name: 'dev/mem', type, devmajor: type === 'block-device' ? 8 : 1, devminor: 1, mode: 0o666 } }]);
    await assert.rejects(applyLayer(Readable.from([tar]), s.target, { allowDevices: false }), (e: unknown) =>
      e instanceof UnsafeLayerEntryError && e.reason === 'device');
    assert.equal(existsSync(join(s.target, 'dev/mem')), false);
    assert.deepEqual(s.outsideState(), before);
  });
}

test('with allowDevices (root) the same entry becomes a device node inside the target', { skip: process.getuid?.() !== 0 }, async (t) => {
  const s = sandbox(t);
  const tar = await hostileTar([{ header: { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 } }]);
  await applyLayer(Readable.from([tar]), s.target, { allowDevices: true });
  const { statSync } = await import('node:fs');
  const st = statSync(join(s.target, 'dev/null'));
  assert.ok(st.isCharacterDevice());
  assert.equal(st.rdev, 259);
});
