import assert from 'node:assert/strict';
import { utimesSync, writeFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { packToFile, tmp, sh } from './layer-test-kit.js';

function makeTree(root: string): void {
  mkdirSync(join(root, 'etc/deep/er'), { recursive: true });
  writeFileSync(join(root, 'etc/hosts'), '127.0.0.1 localhost\n');
  writeFileSync(join(root, 'etc/deep/er/big'), Buffer.alloc(3 * 1024 * 1024, 7));
  writeFileSync(join(root, 'B-upper'), 'x');
  writeFileSync(join(root, 'a-lower'), 'y');
  symlinkSync('etc/hosts', join(root, 'link'));
  sh(`ln ${join(root, 'etc/hosts')} ${join(root, 'hard')}; mkdir ${join(root, 'empty')}; mkfifo ${join(root, 'fifo')}`);
}

for (const compression of ['gzip', 'zstd', 'none'] as const) {
  test(`pack (${compression}) gives identical digests on two runs, and SOURCE_DATE_EPOCH clamps mtimes`, async (t) => {
    const d = tmp(t);
    const src = join(d, 'src');
    mkdirSync(src);
    makeTree(src);
    const a = await packToFile(src, join(d, 'a'), { compression });
    const b = await packToFile(src, join(d, 'b'), { compression });
    assert.equal(a.digest, b.digest);
    assert.equal(a.diffId, b.diffId);
    assert.equal(a.size, b.size);
    assert.equal(sh(`sha256sum < ${join(d, 'a')}`).slice(0, 64), a.digest.slice(7), 'digest is the sha256 of what the sink received');

    // With an epoch in the past, touching files (newer mtimes) does not change the digests.
    const epoch = 1_600_000_000;
    const c = await packToFile(src, join(d, 'c'), { compression, sourceDateEpoch: epoch });
    utimesSync(join(src, 'etc/hosts'), new Date(), new Date(Date.now() + 86_400_000));
    sh(`touch ${join(src, 'etc')} ${join(src, 'a-lower')}`);
    const e = await packToFile(src, join(d, 'e'), { compression, sourceDateEpoch: epoch });
    assert.equal(c.diffId, e.diffId);
    assert.equal(c.digest, e.digest);
    assert.notEqual(c.diffId, a.diffId, 'clamping changed the timestamps');
    const listing = sh(`tar --full-time ${compression === 'gzip' ? '-z' : compression === 'zstd' ? '--zstd' : ''} -tvf ${join(d, 'e')}`);
    for (const line of listing.trim().split('\n')) assert.match(line, /2020-09-13 12:26:40/, line);
    // ...while without it the digest follows the tree.
    const f = await packToFile(src, join(d, 'f'), { compression });
    assert.notEqual(f.diffId, a.diffId);
  });
}

test('pack orders entries bytewise and depth first, without the root entry', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  mkdirSync(src);
  makeTree(src);
  await packToFile(src, join(d, 'l'), { compression: 'none' });
  const names = sh(`tar -tf ${join(d, 'l')}`).trim().split('\n');
  assert.deepEqual(names, ['B-upper', 'a-lower', 'empty/', 'etc/', 'etc/deep/', 'etc/deep/er/', 'etc/deep/er/big', 'etc/hosts', 'fifo', 'hard', 'link']);
});
