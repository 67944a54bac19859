import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, symlinkSync, chownSync, chmodSync, utimesSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyLayer } from '../../layer-store/layer/index.js';
import { packToFile, tmp, sh, open, listTree } from './layer-test-kit.js';

function makeTree(src: string): void {
  mkdirSync(join(src, 'usr/bin'), { recursive: true });
  mkdirSync(join(src, 'var/empty'), { recursive: true });
  mkdirSync(join(src, 'tmp'));
  chmodSync(join(src, 'tmp'), 0o1777);
  writeFileSync(join(src, 'usr/bin/ping'), Buffer.alloc(700_000, 1));
  chmodSync(join(src, 'usr/bin/ping'), 0o2755);
  chownSync(join(src, 'usr/bin/ping'), 0, 42);
  sh(`setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 ${join(src, 'usr/bin/ping')}`);
  writeFileSync(join(src, 'usr/bin/big'), Buffer.alloc(5 * 1024 * 1024 + 3, 9));
  sh(`ln ${join(src, 'usr/bin/big')} ${join(src, 'usr/bin/big2')}`);
  symlinkSync('/usr/bin/ping', join(src, 'ping'));
  sh(`mkfifo ${join(src, 'var/fifo')} && mknod ${join(src, 'var/null')} c 1 3`);
  writeFileSync(join(src, `${'n'.repeat(200)}`), 'long');
  for (const p of ['usr/bin', 'usr', 'var/empty', 'var', 'tmp', 'usr/bin/ping']) utimesSync(join(src, p), 1_650_000_000, 1_650_000_000);
}

for (const compression of ['gzip', 'zstd', 'none'] as const) {
  test(`apply → pack round trip (${compression}) gives the same diffID and the same tree`, async (t) => {
    const d = tmp(t);
    const src = join(d, 'src');
    const dst = join(d, 'dst');
    mkdirSync(src);
    mkdirSync(dst);
    makeTree(src);
    const a = await packToFile(src, join(d, 'a'), { compression });
    const applied = await applyLayer(open(join(d, 'a')), dst, { expectDiffId: a.diffId });
    assert.equal(applied.diffId, a.diffId);
    const b = await packToFile(dst, join(d, 'b'), { compression });
    assert.equal(b.diffId, a.diffId);
    assert.equal(b.digest, a.digest);
    assert.deepEqual(listTree(dst), listTree(src));
    assert.match(sh(`getfattr -n security.capability -e hex ${join(dst, 'usr/bin/ping')}`), /0x01000002002/);
    assert.equal(statSync(join(dst, 'usr/bin/big')).ino, statSync(join(dst, 'usr/bin/big2')).ino, 'hardlink kept');
    assert.equal(statSync(join(dst, 'usr/bin')).mtimeMs, 1_650_000_000_000, 'directory mtime restored after its children');
    assert.ok(statSync(join(dst, 'var/null')).isCharacterDevice());
  });
}

test('apply reads a layer written by GNU tar (independent producer) like GNU tar extracts it', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  mkdirSync(src);
  makeTree(src);
  const ours = join(d, 'ours');
  const theirs = join(d, 'theirs');
  mkdirSync(ours);
  mkdirSync(theirs);
  sh(`tar --xattrs --xattrs-include='*' --format=pax -C ${src} -czf ${join(d, 'gnu.tgz')} .`);
  sh(`tar --xattrs --xattrs-include='*' -C ${theirs} -xzpf ${join(d, 'gnu.tgz')}`);
  const r = await applyLayer(open(join(d, 'gnu.tgz')), ours);
  assert.equal(r.diffId, `sha256:${sh(`gzip -dc ${join(d, 'gnu.tgz')} | sha256sum`).slice(0, 64)}`);
  assert.deepEqual(listTree(ours), listTree(theirs));
  assert.match(sh(`getfattr -n security.capability -e hex ${join(ours, 'usr/bin/ping')}`), /0x01000002002/);
});
