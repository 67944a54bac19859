import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, symlinkSync, chownSync, chmodSync, lchownSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { packToFile, tmp, sh, gnuTarList } from './layer-test-kit.js';

test('GNU tar lists a packed layer with the right ownership, modes, links, devices, long names and xattrs', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  const long = `${'l'.repeat(150)}/${'m'.repeat(150)}`;
  mkdirSync(join(src, 'bin'), { recursive: true });
  mkdirSync(join(src, 'tmp'));
  mkdirSync(join(src, long), { recursive: true });
  writeFileSync(join(src, 'bin/tool'), '#!/bin/sh\necho hi\n');
  chownSync(join(src, 'bin/tool'), 1000, 1001);
  chmodSync(join(src, 'bin/tool'), 0o4755);
  chmodSync(join(src, 'tmp'), 0o1777);
  writeFileSync(join(src, 'bigid'), 'id');
  chownSync(join(src, 'bigid'), 3_000_000, 4_000_000);
  symlinkSync('tool', join(src, 'bin/alias'));
  lchownSync(join(src, 'bin/alias'), 7, 8);
  sh(`ln ${join(src, 'bin/tool')} ${join(src, 'bin/tool2')}`);
  sh(`mknod ${join(src, 'null')} c 1 3 && mknod ${join(src, 'blk')} b 7 200`);
  writeFileSync(join(src, long, 'f.txt'), 'long');
  writeFileSync(join(src, 'ünïcödé'), 'u');
  sh(`setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 ${join(src, 'bin/tool')}`);
  sh(`setfattr -n user.comment -v 0x00ff7f80 ${join(src, 'bigid')}`);
  for (const p of ['bin', 'bin/tool', 'tmp', 'bigid', 'null', 'blk', 'ünïcödé']) utimesSync(join(src, p), 1_700_000_000, 1_700_000_000);

  const layer = join(d, 'layer.tar.gz');
  await packToFile(src, layer, { compression: 'gzip' });
  const lines = gnuTarList(layer, ['-z', '--numeric-owner', '--full-time']).trim().split('\n');
  const line = (name: string): string => {
    const l = lines.find((x) => x.endsWith(` ${name}`) || x.includes(` ${name} `));
    assert.ok(l, `no line for ${name} in\n${lines.join('\n')}`);
    return l;
  };
  assert.match(line('bin/tool'), /^-rwsr-xr-x 1000\/1001 +18 2023-11-14 22:13:20 bin\/tool$/);
  assert.match(line('tmp/'), /^drwxrwxrwt 0\/0 /);
  assert.match(line('bigid'), /^-rw-r--r-- 3000000\/4000000 +2 /);
  assert.match(line('bin/alias'), /^lrwxrwxrwx 7\/8 .* bin\/alias -> tool$/);
  assert.match(line('bin/tool2'), /^hrwsr-xr-x 1000\/1001 .* bin\/tool2 link to bin\/tool$/);
  assert.match(line('null'), /^crw-r--r-- 0\/0 +1,3 /);
  assert.match(line('blk'), /^brw-r--r-- 0\/0 +7,200 /);
  assert.ok(lines.some((l) => l.endsWith(`${long}/f.txt`)), 'long name via PAX path');
  assert.ok(lines.some((l) => l.endsWith('ünïcödé')), 'UTF-8 name via PAX path');
  // No user or group names (uname/gname empty): GNU tar prints the numeric ids even without --numeric-owner.
  assert.match(gnuTarList(layer, ['-z']), /1000\/1001/);

  // GNU tar reads the PAX SCHILY.xattr records back, binary values intact.
  const out = join(d, 'out');
  mkdirSync(out);
  sh(`tar --xattrs --xattrs-include='*' -xzf ${layer} -C ${out}`);
  assert.match(sh(`getfattr -n security.capability -e hex ${join(out, 'bin/tool')}`), /0x0100000200200000000000000000000000000000/);
  assert.match(sh(`getfattr -n user.comment -e hex ${join(out, 'bigid')}`), /0x00ff7f80/);
});
