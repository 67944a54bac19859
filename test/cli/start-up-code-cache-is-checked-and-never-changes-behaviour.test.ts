import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { ChunkLoader, cacheFileOf, cacheKey, WRAPPER_HEAD, WRAPPER_TAIL } from '../../cli/chunk-loader.js';
import { decodeCodeCache, encodeCodeCache, sourceCrc, type Crc32 } from '../../cli/code-cache.js';
import { installedCopy } from '../helpers/installed-copy.js';

// The executable (dist/bin/tsbuild.cjs) compiles its chunks with a V8 code cache beside each one. V8 itself, in
// release builds, only checks that cached data is for a source of the same length and has no checksum: stale or
// damaged data would run wrong code, or crash. These tests damage caches in every way and check that the command
// does exactly what it does without any cache.

const crc32 = (zlib as { crc32?: Crc32 }).crc32;
const skip = typeof crc32 === 'function' ? false : 'zlib.crc32 needs Node ≥ 20.15 (without it there is no code cache)';
const HEADER = 28;

/** A copy of the installed layout: its caches are this test's own. */
function install(t: { after: (fn: () => void) => void }): { dir: string; bin: string; chunks: string } {
  return installedCopy(t, 'tsb-codecache-');
}

function run(bin: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): { code: number | null; out: string } {
  const r = spawnSync(bin, args, { encoding: 'utf8', env: { ...process.env, COLUMNS: '100', ...env } });
  return { code: r.status, out: `${r.stdout}\n--- stderr\n${r.stderr}` };
}

const caches = (chunks: string): string[] => readdirSync(chunks).filter((f) => f.endsWith('.v8-cache')).sort();

/** Whether `chunk`'s cache file is whole and made for the chunk as it is now (what the loader accepts). */
function cacheIsValid(chunk: string): boolean {
  const body = readFileSync(chunk);
  const head = Buffer.from(WRAPPER_HEAD);
  const tail = Buffer.from(WRAPPER_TAIL);
  const size = head.length + body.length + tail.length;
  return decodeCodeCache(readFileSync(cacheFileOf(chunk)), size, sourceCrc([head, body, tail], crc32!), crc32!) !== undefined;
}

test('the cache file format refuses whatever is not whole and made for this exact source', { skip }, () => {
  const c = crc32!;
  const data = Buffer.from('pretend V8 data: any bytes at all');
  const file = encodeCodeCache(1234, 0xdeadbeef, data, ['images', '--version'], c);
  const ok = decodeCodeCache(file, 1234, 0xdeadbeef, c);
  assert.deepEqual(ok && { data: ok.data.toString(), keys: ok.keys }, { data: data.toString(), keys: ['images', '--version'] });
  assert.equal(decodeCodeCache(file, 1235, 0xdeadbeef, c), undefined, 'another source length');
  assert.equal(decodeCodeCache(file, 1234, 0xdeadbeee, c), undefined, 'another source (CRC)');
  for (let i = 0; i < file.length; i++) {
    const bad = Buffer.from(file);
    bad[i] = bad[i]! ^ 0x01;
    assert.equal(decodeCodeCache(bad, 1234, 0xdeadbeef, c), undefined, `one bit flipped at byte ${i}`);
  }
  for (const n of [0, 4, HEADER - 1, HEADER, file.length - 1]) {
    assert.equal(decodeCodeCache(file.subarray(0, n), 1234, 0xdeadbeef, c), undefined, `cut at ${n} bytes`);
  }
  assert.equal(decodeCodeCache(Buffer.concat([file, Buffer.from([0])]), 1234, 0xdeadbeef, c), undefined, 'a byte too many');
});

test('the cache key is the command word, else the flag, else the default command', () => {
  assert.equal(cacheKey(['--version']), '--version');
  assert.equal(cacheKey(['--root', '/x', '--progress', 'quiet', 'build', '-t', 'a', '.']), 'build');
  assert.equal(cacheKey(['--root=/x', '--debug', 'images']), 'images');
  assert.equal(cacheKey(['-t', 'app', '.']), '.');
  assert.equal(cacheKey(['/some/context']), '.');
  assert.equal(cacheKey([]), '.');
});

test('a chunk runs the same with a fresh, a reused, a damaged and an unwritable cache', { skip }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsb-codecache-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const chunk = join(dir, 'c.cjs');
  writeFileSync(chunk, 'const f = (x) => x * 6; module.exports = { answer: f(7), name: __filename, strict: (function () { return this; })() === undefined };');
  const runOnce = (key = 'k'): unknown => {
    const l = new ChunkLoader(key, true);
    const e = l.load(chunk);
    l.saveCaches();
    return e;
  };
  const want = { answer: 42, name: chunk, strict: true };
  assert.deepEqual(runOnce(), want);
  assert.ok(cacheIsValid(chunk), 'a cache was written after the first run');
  const first = readFileSync(cacheFileOf(chunk));
  assert.deepEqual(runOnce(), want);
  assert.ok(readFileSync(cacheFileOf(chunk)).equals(first), 'a valid cache that knows the command is not written again');
  assert.deepEqual(runOnce('other'), want);
  assert.deepEqual(decodeCodeCache(readFileSync(cacheFileOf(chunk)), ...sizeAndCrc(chunk), crc32!)?.keys, ['k', 'other'], 'a new command adds its key');

  // Damaged V8 data with a correct header (as a bad disk or an interrupted copy would leave): ignored, rewritten.
  const damaged = Buffer.from(readFileSync(cacheFileOf(chunk)));
  for (let i = damaged.length - 1; i > damaged.length - 200 && i > HEADER; i -= 7) damaged[i] = damaged[i]! ^ 0xff;
  writeFileSync(cacheFileOf(chunk), damaged);
  assert.deepEqual(runOnce(), want);
  assert.ok(cacheIsValid(chunk), 'the damaged cache was replaced');

  // Garbage, empty, and another chunk's cache.
  for (const junk of [Buffer.alloc(0), Buffer.from('not a cache at all'), Buffer.alloc(5000, 0xab)]) {
    writeFileSync(cacheFileOf(chunk), junk);
    assert.deepEqual(runOnce(), want);
  }
  const other = join(dir, 'd.cjs');
  writeFileSync(other, 'module.exports = { answer: 1 };');
  runOnce();
  new ChunkLoader('k', true).load(other);
  cpSync(cacheFileOf(chunk), cacheFileOf(other));
  const l = new ChunkLoader('k', true);
  assert.deepEqual(l.load(other), { answer: 1 });

  // A cache that cannot be written (here: a directory in its place) is no error and leaves nothing behind.
  rmSync(cacheFileOf(chunk));
  mkdirSync(cacheFileOf(chunk));
  assert.deepEqual(runOnce(), want);
  assert.deepEqual(readdirSync(dir).sort(), ['c.cjs', 'c.cjs.v8-cache', 'd.cjs', 'd.cjs.v8-cache']);
  assert.ok(statSync(cacheFileOf(chunk)).isDirectory());

  // TSBUILD_CODE_CACHE=0 (useCache false): neither read nor written.
  rmSync(cacheFileOf(chunk), { recursive: true });
  const off = new ChunkLoader('k', false);
  assert.deepEqual(off.load(chunk), want);
  off.saveCaches();
  assert.equal(existsSync(cacheFileOf(chunk)), false);
});

function sizeAndCrc(chunk: string): [number, number] {
  const body = readFileSync(chunk);
  const head = Buffer.from(WRAPPER_HEAD);
  const tail = Buffer.from(WRAPPER_TAIL);
  return [head.length + body.length + tail.length, sourceCrc([head, body, tail], crc32!)];
}

test('the installed executable prints the same with no cache, its own caches, damaged ones and stale ones', { skip }, (t) => {
  const { dir, bin, chunks } = install(t);
  const root = join(dir, 'root');
  const commands: string[][] = [['--version'], ['--help'], ['--root', root, 'images'], ['--root', root, 'images', '--help'], ['--root', root, 'history', 'nothing:here']];
  const plain = commands.map((a) => run(bin, a, { TSBUILD_CODE_CACHE: '0' }));
  assert.equal(plain[0]!.code, 0, plain[0]!.out);
  assert.equal(plain[4]!.code, 1, 'history of a missing image fails');
  assert.deepEqual(caches(chunks), [], 'TSBUILD_CODE_CACHE=0 writes no cache');

  const main = join(chunks, 'main.cjs');
  for (let pass = 0; pass < 2; pass++) {
    for (const [i, a] of commands.entries()) assert.deepEqual(run(bin, a), plain[i], `${a.join(' ')} (pass ${pass})`);
  }
  assert.ok(caches(chunks).includes('main.cjs.v8-cache') && cacheIsValid(main), 'the runs wrote a valid cache for main.cjs');
  const trained = readFileSync(cacheFileOf(main));

  // Every cache damaged in its V8 data (the header still right): same output, caches replaced by valid ones.
  for (const f of caches(chunks)) {
    const b = Buffer.from(readFileSync(join(chunks, f)));
    for (let i = HEADER + 64; i < b.length; i += 97) b[i] = b[i]! ^ 0x5a;
    writeFileSync(join(chunks, f), b);
  }
  for (const [i, a] of commands.entries()) assert.deepEqual(run(bin, a), plain[i], `${a.join(' ')} with damaged caches`);
  assert.ok(cacheIsValid(main), 'the damaged cache of main.cjs was replaced');

  // Stale: main.cjs changed after its cache was made, to a text of the same length (V8 alone would take the old
  // bytecode: it compares lengths only). The change shows, and the command works.
  writeFileSync(cacheFileOf(main), trained);
  const text = readFileSync(main, 'utf8');
  const from = 'Daemonless OCI image builder and registry toolkit'; // top-level help's usage line (main.ts, in main.cjs)
  assert.ok(text.includes(from));
  writeFileSync(main, text.replace(from, from.toUpperCase()));
  const help = run(bin, ['--help']);
  assert.equal(help.code, 0, help.out);
  assert.ok(help.out.includes(from.toUpperCase()), help.out);
  assert.equal(help.out.replace(from.toUpperCase(), from), plain[1]!.out);
  assert.deepEqual(run(bin, ['--version']), plain[0]);
  assert.deepEqual(readdirSync(chunks).filter((f) => f.includes('.tmp')), [], 'no temporary cache file left');
});
