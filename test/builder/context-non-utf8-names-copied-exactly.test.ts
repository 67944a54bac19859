// File names are bytes: context files whose names are not UTF-8 (Latin-1 `caf\xe9.txt`, arbitrary bytes in a
// subdirectory, a symlink whose target is not UTF-8), a file RUN creates with such a name, and an ADDed tar holding
// such names all reach the image with their exact bytes, as GNU tar, umoci and skopeo read it back. Before, one was
// silently left out of `COPY .` (exit 0) and another failed the build with a raw `ENOENT lstat`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';

const run = promisify(execFile);
const B = (s: string): Buffer => Buffer.from(s, 'latin1'); // latin1: each char one byte, so '\xe9' is the byte 0xe9
const at = (...parts: string[]): Buffer => Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [B(p)] : [B('/'), B(p)])));

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let work: string;
let root: string;
let ctx: string;

function tsbuild(args: string[]): CliResult {
  return runCli(['--root', root, '--progress', 'plain', ...args]);
}

/** Every path under `dir` as latin1 strings of its bytes ('/' joined), with a kind and content, sorted. */
function byteTree(dir: Buffer, rel = ''): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir, { encoding: 'buffer' })) {
    const p = Buffer.concat([dir, B('/'), n]);
    const r = rel + n.toString('latin1');
    const st = lstatSync(p);
    if (st.isDirectory()) out.push(`${r}/`, ...byteTree(p, `${r}/`));
    else if (st.isSymbolicLink()) out.push(`${r} -> ${readlinkSync(p, { encoding: 'buffer' }).toString('latin1')}`);
    else out.push(`${r} = ${readFileSync(p).toString('latin1')}`);
  }
  return out.sort();
}

/** The names in a layer blob as GNU tar lists them, raw bytes (--quoting-style=literal), as latin1 strings. */
function gnuTarNames(blob: string): string[] {
  const out = execFileSync('tar', ['-tzf', blob, '--quoting-style=literal'], { maxBuffer: 1 << 26 });
  return out.toString('latin1').split('\n').filter(Boolean);
}

const WANT_C = [
  'Dockerfile = ', // content checked separately
  'caf\xe9.txt = x',
  'd\xff\xfe/',
  'd\xff\xfe/n\x80.bin = y\n',
  'l\xe9 -> caf\xe9.txt',
  'notes.md = md',
  'names.tar = ',
  'x\xe9 = ', // made by RUN
];

before(async () => {
  bb = await busyboxTar();
  work = mkdtempSync(join(tmpdir(), 'tsbuild-names-'));
  root = join(work, 'root');
  ctx = join(work, 'ctx');
  mkdirSync(ctx);
  writeFileSync(at(ctx, 'caf\xe9.txt'), 'x');
  mkdirSync(at(ctx, 'd\xff\xfe'));
  writeFileSync(at(ctx, 'd\xff\xfe', 'n\x80.bin'), 'y\n');
  symlinkSync(B('caf\xe9.txt'), at(ctx, 'l\xe9'));
  writeFileSync(join(ctx, 'notes.md'), 'md');
  // A tar made by GNU tar (raw bytes in the PAX path and ustar name), for ADD to extract.
  const src = join(work, 'tarsrc');
  mkdirSync(at(src, 't\xe9'), { recursive: true });
  writeFileSync(at(src, 't\xe9', 'f\xff'), 'in tar');
  execFileSync('tar', ['--format=posix', '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '-cf', join(ctx, 'names.tar'), '-C', src, '.']);
  writeFileSync(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest',
    'COPY . /c/', // no .dockerignore, no flags: the whole-tree copy
    'COPY --exclude=*.md --exclude=Dockerfile --exclude=names.tar . /e/', // per-file copy, filtered by patterns
    `RUN touch "/c/$(printf 'x\\351')" && mkdir "/r$(printf '\\377')" && echo z > "/r$(printf '\\377')/$(printf 'q\\200')"`,
    'ADD names.tar /a/',
    '',
  ].join('\n'));
  assert.equal(tsbuild(['import', bb.tar, 'busybox:latest']).code, 0);
});
after(async () => {
  await bb?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('COPY, RUN and ADD keep names that are not UTF-8; umoci, skopeo and GNU tar read the same bytes', async () => {
  const r = tsbuild(['build', '-t', 'names:1', ctx]);
  assert.equal(r.code, 0, r.stderr);

  // umoci unpacks the store (an OCI layout) with Go's archive/tar: compare the tree as bytes.
  const bundle = join(work, 'bundle');
  await run('umoci', ['unpack', '--image', `${root}:docker.io/library/names:1`, bundle]);
  const rootfs = Buffer.from(join(bundle, 'rootfs'));
  const c = byteTree(at(rootfs.toString('latin1'), 'c')).map((l) => (l.startsWith('Dockerfile = ') ? 'Dockerfile = ' : l.startsWith('names.tar = ') ? 'names.tar = ' : l));
  assert.deepEqual(c, [...WANT_C].sort());
  assert.deepEqual(byteTree(at(rootfs.toString('latin1'), 'e')), ['caf\xe9.txt = x', 'd\xff\xfe/', 'd\xff\xfe/n\x80.bin = y\n', 'l\xe9 -> caf\xe9.txt']);
  assert.deepEqual(byteTree(at(rootfs.toString('latin1'), 'r\xff')), ['q\x80 = z\n']);
  assert.deepEqual(byteTree(at(rootfs.toString('latin1'), 'a')), ['t\xe9/', 't\xe9/f\xff = in tar']);

  // skopeo copies the image to a dir: transport (digests verified); GNU tar lists each layer's names as raw bytes.
  const dir = join(work, 'skopeo-dir');
  await run('skopeo', ['copy', '--quiet', `oci:${root}:docker.io/library/names:1`, `dir:${dir}`]);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { layers: { digest: string }[] };
  const layers = manifest.layers.map((l) => gnuTarNames(join(dir, l.digest.slice('sha256:'.length))));
  assert.equal(layers.length, 5);
  const [, copyAll, copyFiltered, runLayer, addLayer] = layers as [string[], string[], string[], string[], string[]];
  for (const n of ['c/caf\xe9.txt', 'c/d\xff\xfe/', 'c/d\xff\xfe/n\x80.bin', 'c/l\xe9']) assert.ok(copyAll.includes(n), `${JSON.stringify(n)} in ${JSON.stringify(copyAll)}`);
  assert.deepEqual(copyFiltered.filter((n) => n.startsWith('e/')).sort(), ['e/', 'e/caf\xe9.txt', 'e/d\xff\xfe/', 'e/d\xff\xfe/n\x80.bin', 'e/l\xe9']);
  for (const n of ['c/x\xe9', 'r\xff/', 'r\xff/q\x80']) assert.ok(runLayer.includes(n), `${JSON.stringify(n)} in ${JSON.stringify(runLayer)}`);
  for (const n of ['a/t\xe9/', 'a/t\xe9/f\xff']) assert.ok(addLayer.includes(n), `${JSON.stringify(n)} in ${JSON.stringify(addLayer)}`);
  // GNU tar's verbose listing shows the link target's bytes too
  const v = execFileSync('tar', ['-tvzf', join(dir, manifest.layers[1]!.digest.slice(7)), '--quoting-style=literal']).toString('latin1');
  assert.match(v, /c\/l\xe9 -> caf\xe9\.txt/);

  // skopeo oci: → oci: copy, then umoci again: the same tree.
  const other = join(work, 'other');
  await run('skopeo', ['copy', '--quiet', `oci:${root}:docker.io/library/names:1`, `oci:${other}:names`]);
  const bundle2 = join(work, 'bundle2');
  await run('umoci', ['unpack', '--image', `${other}:names`, bundle2]);
  assert.deepEqual(byteTree(Buffer.from(join(bundle2, 'rootfs'))), byteTree(rootfs));
});

test('an image whose layers hold such names is a base elsewhere: its layers are unpacked with the exact bytes', () => {
  const archive = join(work, 'names.oci.tar');
  assert.equal(tsbuild(['save', 'names:1', '-o', archive]).code, 0);
  const root2 = join(work, 'root2');
  const other = (args: string[]): CliResult => runCli(['--root', root2, '--progress', 'plain', ...args]);
  assert.equal(other(['load', '-i', archive]).code, 0);
  const ctx2 = join(work, 'ctx2');
  mkdirSync(ctx2);
  writeFileSync(join(ctx2, 'Dockerfile'), [
    'FROM names:1',
    `RUN test "$(cat "/c/$(printf 'caf\\351').txt")" = x && test -L "/c/$(printf 'l\\351')" && test "$(cat "/a/$(printf 't\\351/f\\377')")" = "in tar" \\`,
    `  && test -f "/r$(printf '\\377')/$(printf 'q\\200')" && rm "/c/$(printf 'caf\\351').txt"`,
    '',
  ].join('\n'));
  const r = other(['build', '-t', 'child:1', '-o', `type=tar,dest=${join(work, 'child.tar')}`, ctx2]);
  assert.equal(r.code, 0, r.stderr);
  // the RUN's deletion is a whiteout with the exact name; the flattened tree no longer has the file
  const flat = execFileSync('tar', ['-tf', join(work, 'child.tar'), '--quoting-style=literal']).toString('latin1').split('\n');
  assert.ok(flat.includes('./c/d\xff\xfe/n\x80.bin') && !flat.includes('./c/caf\xe9.txt'), JSON.stringify(flat.filter((n) => n.startsWith('./c/'))));
});

test('renaming caf\\xe9.txt to caf\\xe8.txt (same bytes once decoded lossily) is a cache miss with the new name', async () => {
  renameSync(at(ctx, 'caf\xe9.txt'), at(ctx, 'caf\xe8.txt'));
  const r = tsbuild(['build', '-t', 'names:2', '--explain', ctx]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /RAN +\[2\/5\] COPY \. \/c\//);
  const bundle = join(work, 'bundle3');
  await run('umoci', ['unpack', '--image', `${root}:docker.io/library/names:2`, bundle]);
  const c = readdirSync(at(bundle, 'rootfs', 'c'), { encoding: 'buffer' }).map((n) => n.toString('latin1'));
  assert.ok(c.includes('caf\xe8.txt') && !c.includes('caf\xe9.txt'), JSON.stringify(c));
});

test('a name that cannot exist on Linux (a NUL in an ADDed tar) fails with one line naming it escaped', () => {
  const bad = join(work, 'badctx');
  mkdirSync(bad);
  // PAX path "bad\0\xe9": GNU tar cannot write it; build the header by hand.
  const rec = (k: string, v: Buffer): Buffer => {
    const body = k.length + v.length + 3;
    let len = body + String(body).length;
    if (String(len).length !== String(body).length) len = body + String(len).length;
    return Buffer.concat([B(`${len} ${k}=`), v, B('\n')]);
  };
  const header = (name: string, size: number, type: number): Buffer => {
    const h = Buffer.alloc(512);
    h.write(name, 0, 'latin1');
    h.write('0000644\0', 100, 'latin1'); h.write('0000000\0', 108, 'latin1'); h.write('0000000\0', 116, 'latin1');
    h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1'); h.write('00000000000\0', 136, 'latin1');
    h.fill(0x20, 148, 156); h[156] = type; h.write('ustar\u000000', 257, 'latin1');
    let sum = 0; for (const x of h) sum += x;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    return h;
  };
  const pax = rec('path', B('bad\0\xe9'));
  const tar = Buffer.concat([header('PaxHeader', pax.length, 0x78), pax, Buffer.alloc(512 - pax.length), header('bad_', 0, 0x30), Buffer.alloc(1024)]);
  writeFileSync(join(bad, 'bad.tar'), tar);
  writeFileSync(join(bad, 'Dockerfile'), 'FROM busybox:latest\nADD bad.tar /x/\n');
  const r = tsbuild(['build', '-t', 'bad:1', bad]);
  assert.equal(r.code === 0, false);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
  assert.equal(errors.length, 1, r.stderr);
  assert.ok(errors[0]!.includes('"bad\\u0000\\xe9"'), errors[0]);
});
