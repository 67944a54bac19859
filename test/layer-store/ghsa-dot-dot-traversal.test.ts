// Attack: entry names with '..' components climbing out of the target (CVE-2018-1000805 class, "zip slip").
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyLayer, UnsafeLayerEntryError } from '../../layer-store/layer/index.js';
import { hostileTar, sandbox, Readable } from './layer-test-kit.js';

for (const name of ['../outside/pwned', 'a/../../outside/pwned', './../outside/pwned']) {
  test(`a '..' entry name (${name}) is rejected and nothing is written outside the target`, async (t) => {
    const s = sandbox(t);
    const before = s.outsideState();
    const tar = await hostileTar([
      { header: { name: 'ok.txt', type: 'file' }, body: 'fine' },
      { header: { name, type: 'file', mode: 0o644 }, body: 'pwned' },
    ], { gzip: true });
    await assert.rejects(applyLayer(Readable.from([tar]), s.target), (e: unknown) =>
      e instanceof UnsafeLayerEntryError && e.code === 'UNSAFE_LAYER_ENTRY' && e.reason === 'dot-dot' && e.entry === name);
    assert.equal(existsSync(join(s.outside, 'pwned')), false);
    assert.deepEqual(s.outsideState(), before);
  });
}
