// Finding (fuzz sandbox review): directory mtimes and xattrs are applied after the last entry, by path. A later
// entry that replaced a parent directory with a symlink (`d/`, `d/x/`, then `d -> /host/dir`) redirected
// that deferred utimes/setfattr to the host: a hostile layer could stamp times on, or set xattrs (even
// security.capability) on, existing files outside the target. Deferred work now re-checks its path.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyLayer, encodeHeader, type TarHeader } from '../../layer-store/layer/index.js';
import { Readable, sandbox } from './layer-test-kit.js';

const h = (name: string, type: TarHeader['type'], extra: Partial<TarHeader> = {}): Buffer =>
  encodeHeader({ name, type, mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 12345, ...extra });

test('a deferred directory mtime does not follow a parent later replaced by a symlink', async (t) => {
  const s = sandbox(t);
  const victim = join(s.outside, 'canary');
  const before = statSync(victim).mtimeMs;
  const outside = s.outsideState();
  const tar = Buffer.concat([h('d/', 'dir'), h('d/canary/', 'dir'), h('d', 'symlink', { linkname: s.outside }), Buffer.alloc(1024)]);
  await applyLayer(Readable.from([tar]), s.target);
  assert.equal(statSync(victim).mtimeMs, before);
  assert.deepEqual(s.outsideState(), outside);
});

test('deferred xattrs do not follow a parent later replaced by a symlink', async (t) => {
  const s = sandbox(t);
  const victim = join(s.outside, 'victim');
  writeFileSync(victim, 'host file');
  const tar = Buffer.concat([
    h('d/', 'dir'),
    h('d/victim', 'file', { mode: 0o644, xattrs: new Map([['user.pwned', Buffer.from('yes')]]) }),
    h('d', 'symlink', { linkname: s.outside }),
    Buffer.alloc(1024),
  ]);
  await applyLayer(Readable.from([tar]), s.target);
  const attrs = execFileSync('getfattr', ['-h', '-d', '-m', '-', '--absolute-names', victim], { encoding: 'utf8' });
  assert.doesNotMatch(attrs, /pwned/);
});

test('directory mtimes and xattrs of entries that stay in place are still applied', async (t) => {
  const s = sandbox(t);
  const tar = Buffer.concat([h('d/', 'dir'), h('d/f', 'file', { mode: 0o644, xattrs: new Map([['user.k', Buffer.from('v')]]) }), Buffer.alloc(1024)]);
  await applyLayer(Readable.from([tar]), s.target);
  assert.equal(statSync(join(s.target, 'd')).mtimeMs, 12345000);
  assert.match(execFileSync('getfattr', ['-d', '-m', '-', '--absolute-names', join(s.target, 'd', 'f')], { encoding: 'utf8' }), /user\.k="v"/);
});
