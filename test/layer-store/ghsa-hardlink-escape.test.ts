// Attack: a hardlink whose target is outside the target dir, so a later write (or the link itself) reaches it.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyLayer, UnsafeLayerEntryError } from '../../layer-store/layer/index.js';
import { hostileTar, sandbox, Readable } from './layer-test-kit.js';

function cases(outside: string): { what: string; entries: Parameters<typeof hostileTar>[0] }[] {
  return [
    { what: "'..' in the link target", entries: [{ header: { name: 'h', type: 'link', linkname: '../outside/canary' } }] },
    { what: 'an absolute link target', entries: [{ header: { name: 'h', type: 'link', linkname: join(outside, 'canary') } }] },
    {
      what: 'a link target reached through a planted symlink',
      entries: [
        { header: { name: 'esc', type: 'symlink', linkname: '../outside' } },
        { header: { name: 'h', type: 'link', linkname: 'esc/canary' } },
      ],
    },
  ];
}

for (const i of [0, 1, 2]) {
  test(`a hardlink to outside the target is rejected (${cases('/x')[i]!.what})`, async (t) => {
    const s = sandbox(t);
    const before = s.outsideState();
    const c = cases(s.outside)[i]!;
    const tar = await hostileTar([...c.entries, { header: { name: 'h', type: 'file' }, body: 'overwrite through the link' }]);
    await assert.rejects(applyLayer(Readable.from([tar]), s.target), (e: unknown) =>
      e instanceof UnsafeLayerEntryError && e.reason === 'hardlink-escape' && e.entry === 'h');
    assert.equal(existsSync(join(s.target, 'h')), false);
    assert.equal(readFileSync(join(s.outside, 'canary'), 'utf8'), 'canary\n');
    assert.deepEqual(s.outsideState(), before);
  });
}
