// Attack: a layer whose pax extended header (or a GNU long name) claims megabytes, to exhaust memory before any entry.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { applyLayer, InvalidLayerError } from '../../layer-store/layer/index.js';
import { hostileTar, sandbox, Readable } from '../layer-store/layer-test-kit.js';

const HUGE = 3 * 1024 * 1024;

test('a pax extended header of several MiB is refused before it is buffered, nothing is written', async (t) => {
  const s = sandbox(t);
  const before = s.outsideState();
  const tar = await hostileTar([
    { header: { name: 'big-pax', type: 'file', pax: { comment: 'x'.repeat(HUGE) } }, body: 'hi' },
    { header: { name: 'after', type: 'file' }, body: 'never' },
  ]);
  await assert.rejects(applyLayer(Readable.from([tar]), s.target, {}), (e: unknown) => e instanceof InvalidLayerError && /too large/.test(e.message));
  assert.deepEqual(readdirSync(s.target), []);
  assert.deepEqual(s.outsideState(), before);
});

test('a GNU long name of several MiB is refused the same way', async (t) => {
  const s = sandbox(t);
  // tar-stream writes a name longer than 100 bytes as a pax `path` record; a raw GNU 'L' entry is hand-built here.
  const name = Buffer.from('a/'.repeat(HUGE / 2));
  const header = Buffer.alloc(512);
  header.write('././@LongLink', 0, 'latin1');
  header.write('0000644\0', 100, 'latin1');
  header.write('0000000\0', 108, 'latin1');
  header.write('0000000\0', 116, 'latin1');
  header.write(name.length.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
  header.write('00000000000\0', 136, 'latin1');
  header.write('L', 156, 'latin1');
  header.write('ustar  \0', 257, 'latin1');
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  const pad = Buffer.alloc((512 - (name.length % 512)) % 512);
  const rest = await hostileTar([{ header: { name: 'x', type: 'file' }, body: 'x' }]);
  const tar = Buffer.concat([header, name, pad, rest]);
  await assert.rejects(applyLayer(Readable.from([tar]), s.target, {}), (e: unknown) => e instanceof InvalidLayerError && /too large|long/.test(e.message));
  assert.deepEqual(readdirSync(s.target), []);
});
