// Fuzz finding: a GNU long-name/long-link ('L'/'K') or PAX header with an empty body as the last block of
// the stream crashed the reader with a TypeError (reading past an empty buffer) instead of a clean result.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyLayer, encodeHeader, InvalidLayerError } from '../../layer-store/layer/index.js';
import { Readable, sandbox } from './layer-test-kit.js';

/** A header block of type `flag` with size 0 (name and checksum valid). */
function emptyExtended(flag: string): Buffer {
  const b = Buffer.from(encodeHeader({ name: '././@LongLink', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0 }));
  b[156] = flag.charCodeAt(0);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return b;
}

for (const flag of ['K', 'L', 'x']) {
  test(`an empty '${flag}' header at the end of the stream is reported as a truncated layer`, async (t) => {
    const s = sandbox(t);
    await assert.rejects(applyLayer(Readable.from([emptyExtended(flag)]), s.target), (e: unknown) =>
      e instanceof InvalidLayerError && /after an extended header/.test(e.message));
    await assert.rejects(applyLayer(Readable.from([Buffer.concat([emptyExtended(flag), Buffer.alloc(1024)])]), s.target), (e: unknown) =>
      e instanceof InvalidLayerError);
  });
}

test("an empty global 'g' header alone is an empty layer", async (t) => {
  const s = sandbox(t);
  const r = await applyLayer(Readable.from([emptyExtended('g')]), s.target);
  assert.equal(r.entries, 0);
});

test("an empty 'K' header followed by a real entry applies the entry", async (t) => {
  const s = sandbox(t);
  const tar = Buffer.concat([emptyExtended('K'), encodeHeader({ name: 'f', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0 }), Buffer.alloc(1024)]);
  const r = await applyLayer(Readable.from([tar]), s.target);
  assert.equal(r.entries, 1);
});
