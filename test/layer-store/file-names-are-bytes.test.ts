/**
 * The name codec (layer-store core/file-names.ts) and the layer code that uses it: a name that is not UTF-8 is
 * a string holding U+DC80-DCFF for each stray byte, converted back to the same bytes at every fs call and in the
 * tar; valid UTF-8 names are their plain strings and encode exactly as before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  applyLayer, compareNameBytes, decodeName, encodeHeader, encodeName, fsPath, isPlainName, packLayer, quoteName, showName,
  TarReader, UnrepresentableNameError,
} from '../../layer-store/index.js';
import { tmp } from './layer-test-kit.js';

const B = (s: string): Buffer => Buffer.from(s, 'latin1');

test('bytes → name → bytes is the identity; valid UTF-8 decodes to its plain string', () => {
  const cases = [B('caf\xe9.txt'), B('d\xff\xfe'), B('\x80'), B('\xc3'), B('\xc0\xaf'), B('\xed\xa0\x80'), B('\xf4\x90\x80\x80'), B('a\xe2\x82'),
    Buffer.from('café ü 😀 \uFFFD', 'utf8'), B('plain'), B('\xef\xbf\xbd\xe9')];
  for (const b of cases) assert.deepEqual(encodeName(decodeName(b)), b, b.toString('hex'));
  assert.equal(decodeName(B('caf\xe9.txt')), 'caf\uDCE9.txt');
  assert.equal(decodeName(Buffer.from('café 😀', 'utf8')), 'café 😀');
  assert.ok(isPlainName('café 😀') && !isPlainName('caf\uDCE9'));
  assert.equal(fsPath('café'), 'café');
  assert.deepEqual(fsPath('caf\uDCE9'), B('caf\xe9'));
  assert.throws(() => encodeName('a\uD800b'), UnrepresentableNameError);
});

test('messages show a stray byte as \\xNN', () => {
  assert.equal(showName('caf\uDCE9.txt'), 'caf\\xe9.txt');
  assert.equal(quoteName('d\uDCFF\uDCFE/n\uDC80.bin'), '"d\\xff\\xfe/n\\x80.bin"');
  assert.equal(quoteName('a\\udce9'), '"a\\\\udce9"'); // a real backslash stays a backslash
  assert.equal(quoteName('café'), '"café"');
});

test('names order by their bytes', () => {
  const bytes = [B('a'), B('caf\xc3\xa9'), B('caf\xe9'), B('caf\xf0\x9f\x98\x80'), B('caf\xef\xbc\xa1'), B('d\xff'), B('\x7f'), B('\x80')];
  const byBytes = [...bytes].sort(Buffer.compare).map((b) => b.toString('hex'));
  assert.deepEqual(bytes.map(decodeName).sort(compareNameBytes).map((s) => encodeName(s).toString('hex')), byBytes);
});

test('valid UTF-8 names give the same header bytes as before (PAX path as UTF-8); others carry their raw bytes', async () => {
  const h = { type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0 } as const;
  const utf = encodeHeader({ ...h, name: 'ünï/😀' });
  assert.ok(utf.includes(Buffer.from('path=ünï/😀\n', 'utf8')));
  assert.ok(!utf.includes(B('hdrcharset')));
  const raw = encodeHeader({ ...h, name: 'caf\uDCE9.txt', type: 'symlink', linkname: 'd\uDCFF' });
  assert.ok(raw.includes(B('path=caf\xe9.txt\n')) && raw.includes(B('linkpath=d\xff\n')));
  const r = new TarReader(Readable.from([Buffer.concat([raw, Buffer.alloc(1024)])]));
  const back = await r.next();
  assert.equal(back?.name, 'caf\uDCE9.txt');
  assert.equal(back?.linkname, 'd\uDCFF');
});

test('pack and apply keep names, link targets and xattrs of non-UTF-8 files; GNU tar agrees both ways', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  mkdirSync(src);
  execFileSync('sh', ['-c', `cd "$1" && printf x > "$(printf 'caf\\351')" && mkdir "$(printf 'd\\377')" && printf y > "$(printf 'd\\377/n\\200')" \
    && ln -s "$(printf 'caf\\351')" "$(printf 'l\\351')" && setfattr -n user.k -v v "$(printf 'caf\\351')" \
    && printf z > "$(printf 'long')$(head -c 120 /dev/zero | tr '\\0' '\\351')"`, 'sh', src]);
  const chunks: Buffer[] = [];
  await packLayer(src, { compression: 'none', sink: async (s) => { for await (const c of s) chunks.push(c as Buffer); } });
  const tar = Buffer.concat(chunks);
  writeFileSync(join(d, 'ours.tar'), tar);
  const longName = `long${'\xe9'.repeat(120)}`;
  const listed = execFileSync('tar', ['-tf', join(d, 'ours.tar'), '--quoting-style=literal']).toString('latin1').split('\n').filter(Boolean).sort();
  assert.deepEqual(listed, ['caf\xe9', 'd\xff/', 'd\xff/n\x80', 'l\xe9', longName].sort());
  // GNU tar extracts the same bytes, and reads the xattr
  const gx = join(d, 'gnu-x');
  mkdirSync(gx);
  execFileSync('tar', ['-xf', join(d, 'ours.tar'), '--xattrs', '--xattrs-include=user.*', '-C', gx]);
  assert.deepEqual(readdirSync(gx, { encoding: 'buffer' }).map((b) => b.toString('latin1')).sort(), ['caf\xe9', 'd\xff', 'l\xe9', longName].sort());
  assert.equal(execFileSync('sh', ['-c', `getfattr --only-values -n user.k "$1/$(printf 'caf\\351')"`, 'sh', gx]).toString(), 'v');
  // our apply of the layer, and of GNU tar's own archive (ustar raw bytes, GNU long names) gives the same tree
  for (const [file, args] of [['ours.tar', []], ['gnu.tar', ['--format=gnu']], ['posix.tar', ['--format=posix']]] as const) {
    if (file !== 'ours.tar') execFileSync('tar', ['-cf', join(d, file), ...args, '--xattrs', '-C', src, '.']);
    const target = join(d, `applied-${file}`);
    mkdirSync(target);
    await applyLayer(Readable.from([readFileSync(join(d, file))]), target, {});
    const names = readdirSync(target, { encoding: 'buffer' }).map((b) => b.toString('latin1')).sort();
    assert.deepEqual(names, ['caf\xe9', 'd\xff', 'l\xe9', longName].sort(), file);
    assert.equal(readFileSync(Buffer.concat([B(`${target}/`), B('d\xff/n\x80')]), 'utf8'), 'y');
    const xattr = execFileSync('sh', ['-c', `getfattr --only-values -n user.k "$1/$(printf 'caf\\351')"`, 'sh', target]).toString();
    assert.equal(xattr, 'v', file);
  }
});
