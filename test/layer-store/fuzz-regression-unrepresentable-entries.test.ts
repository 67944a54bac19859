// Fuzz findings: entries the filesystem or Node cannot represent escaped as raw errors (Error ENAMETOOLONG,
// TypeError for a NUL in a symlink target, RangeError from lchown for a PAX uid over 32 bits) instead of
// the layer error family. Each is now a TsbuildError naming the entry.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyLayer, encodeHeader, InvalidLayerError, UnsafeLayerEntryError, type TarHeader } from '../../layer-store/layer/index.js';
import { Readable, sandbox } from './layer-test-kit.js';

const base = { mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0 } as const;
const tar = (...hs: TarHeader[]): Buffer => Buffer.concat([...hs.map((h) => encodeHeader(h)), Buffer.alloc(1024)]);

/** A PAX 'x' header carrying `records`, then `h`. */
function withPax(records: Record<string, string>, h: TarHeader): Buffer {
  const body = Buffer.concat(Object.entries(records).map(([k, v]) => {
    const n = Buffer.byteLength(k) + Buffer.byteLength(v) + 3;
    let len = n + String(n).length;
    if (String(len).length !== String(n).length) len = n + String(len).length;
    return Buffer.from(`${len} ${k}=${v}\n`);
  }));
  const head = Buffer.from(encodeHeader({ ...base, name: 'PaxHeader', type: 'file', size: body.length }));
  head[156] = 0x78;
  head.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of head) sum += x;
  head.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return Buffer.concat([head, body, Buffer.alloc((512 - (body.length % 512)) % 512), encodeHeader(h), Buffer.alloc(1024)]);
}

test('a name component over 255 bytes is an InvalidLayerError naming the entry', async (t) => {
  const s = sandbox(t);
  const name = `d/${'y'.repeat(300)}`;
  await assert.rejects(applyLayer(Readable.from([tar({ ...base, name, type: 'file' })]), s.target), (e: unknown) =>
    e instanceof InvalidLayerError && e.message.includes('cannot be created') && e.message.includes('255 bytes'));
});

test('a symlink target with a NUL byte is an UnsafeLayerEntryError (bad-name)', async (t) => {
  const s = sandbox(t);
  await assert.rejects(applyLayer(Readable.from([withPax({ linkpath: 'nul\0x' }, { ...base, name: 'l', type: 'symlink', linkname: 'x' })]), s.target), (e: unknown) =>
    e instanceof UnsafeLayerEntryError && e.reason === 'bad-name' && e.entry === 'l');
});

for (const [k, v] of [['uid', '4294967296'], ['gid', '99999999999999999999'], ['uid', '1.5'], ['size', '0x10'], ['mtime', '1e3'], ['uid', ' 5']] as const) {
  test(`PAX ${k}=${v} is an InvalidLayerError, not a RangeError from lchown`, async (t) => {
    const s = sandbox(t);
    await assert.rejects(applyLayer(Readable.from([withPax({ [k]: v }, { ...base, name: 'f', type: 'file' })]), s.target, { chown: true }), (e: unknown) =>
      e instanceof InvalidLayerError);
  });
}

test('valid PAX numbers (fractional mtime, 32-bit ids) still apply', async (t) => {
  const s = sandbox(t);
  const r = await applyLayer(Readable.from([withPax({ mtime: '1700000000.5', uid: '4000000000', gid: '70000' }, { ...base, name: 'f', type: 'file' })]), s.target, { chown: true });
  assert.equal(r.entries, 1);
});

for (const name of ['bogus.x', 'user.', `user.${'k'.repeat(300)}`]) {
  test(`an xattr named ${JSON.stringify(name.slice(0, 20))} is an InvalidLayerError up front, not a setfattr failure`, async (t) => {
    const s = sandbox(t);
    const h = encodeHeader({ ...base, name: 'f', type: 'file', xattrs: new Map([[name, Buffer.from('v')]]) });
    await assert.rejects(applyLayer(Readable.from([Buffer.concat([h, Buffer.alloc(1024)])]), s.target), (e: unknown) =>
      e instanceof InvalidLayerError && /invalid extended attribute/.test(e.message));
  });
}
