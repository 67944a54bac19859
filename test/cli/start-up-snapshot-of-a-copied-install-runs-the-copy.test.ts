import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { decodeRecord, recordFileOf, RUNS_BEFORE_SNAPSHOT } from '../../cli/snapshot.js';
import { installedCopy } from '../helpers/installed-copy.js';

// A V8 startup snapshot (cli/snapshot.ts) holds the directory it was made from. An install copied with its
// snapshots (`cp -a`, a container layer, a CI cache) starts from the copied blob; when that blob is not for the
// copy's directory, the command must run the copy's own files and remake the copy's snapshot, never run or
// touch the install the blob came from.

const skip = typeof (process as { getBuiltinModule?: unknown }).getBuiltinModule === 'function' && typeof (zlib as { crc32?: unknown }).crc32 === 'function'
  ? false : 'snapshots need process.getBuiltinModule and zlib.crc32 (Node ≥ 20.16)';

function run(bin: string, args: readonly string[]): { code: number | null; out: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, COLUMNS: '100' };
  delete env['NODE_OPTIONS'];
  delete env['NODE_V8_COVERAGE'];
  const r = spawnSync(bin, args, { encoding: 'utf8', env });
  return { code: r.status, out: `${r.stdout}\n--- stderr\n${r.stderr}` };
}

test('a copied install started from a copied snapshot runs its own files and remakes its own snapshot', { skip }, (t) => {
  const a = installedCopy(t, 'tsb-snapshot-a-');
  const b = installedCopy(t, 'tsb-snapshot-b-');
  const images = ['--root', join(a.dir, 'root'), 'images'];
  for (let i = 0; i < RUNS_BEFORE_SNAPSHOT + 1; i++) assert.equal(run(a.bin, images).code, 0);
  const recordA = recordFileOf(a.chunks, 'images');
  const made = decodeRecord(readFileSync(recordA, 'utf8'));
  assert.ok(made && made.blob !== 'none' && existsSync(join(a.chunks, made.blob)), 'install A has a snapshot of images');
  const before = { text: readFileSync(recordA, 'utf8'), mtime: statSync(recordA).mtimeMs, files: readdirSync(a.chunks).sort() };

  // B gets A's record and blob as a copy would (times kept: the launcher takes it), and its images chunk prints
  // another header, of the same length.
  cpSync(recordA, recordFileOf(b.chunks, 'images'), { preserveTimestamps: true });
  cpSync(join(a.chunks, made.blob), join(b.chunks, made.blob), { preserveTimestamps: true });
  const file = made.chunks.map((c) => join(b.chunks, c.name)).find((f) => readFileSync(f, 'utf8').includes('"REPOSITORY"'));
  assert.ok(file, 'a chunk of the snapshot prints the REPOSITORY header');
  writeFileSync(file, readFileSync(file, 'utf8').replace('"REPOSITORY"', '"REPOSITORX"'));

  const fromB = run(b.bin, ['--root', join(b.dir, 'root'), 'images']);
  assert.equal(fromB.code, 0, fromB.out);
  assert.match(fromB.out, /^REPOSITORX /, 'install B ran its own chunk');
  assert.deepEqual({ text: readFileSync(recordA, 'utf8'), mtime: statSync(recordA).mtimeMs, files: readdirSync(a.chunks).sort() }, before, 'install A untouched');
  // Its first run wrote B's code caches; with them valid, the next makes B's own snapshot, which the one after starts from.
  assert.deepEqual(run(b.bin, ['--root', join(b.dir, 'root'), 'images']), fromB);
  const remade = decodeRecord(readFileSync(recordFileOf(b.chunks, 'images'), 'utf8'));
  assert.ok(remade && remade.blob !== made.blob && existsSync(join(b.chunks, remade.blob)), 'B made a snapshot of its own');
  assert.deepEqual(run(b.bin, ['--root', join(b.dir, 'root'), 'images']), fromB, 'and starts from it with the same output');
  assert.deepEqual({ text: readFileSync(recordA, 'utf8'), mtime: statSync(recordA).mtimeMs, files: readdirSync(a.chunks).sort() }, before, 'install A still untouched');
});
