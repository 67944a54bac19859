import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { decodeRecord, recordFileOf, RUNS_BEFORE_SNAPSHOT } from '../../cli/snapshot.js';
import { installedCopy } from '../helpers/installed-copy.js';

// The snapshot of a bulk command (build, pull, push…) holds node:crypto loaded (cli/snapshot-entry.ts): only
// loaded, so the random names a run draws (the build's scratch dir, the lease's and lock's temporary files) are
// drawn in that run. Two cached builds started from the snapshot, under strace, make scratch dirs of different
// names, and every name in one run is new.

const skip = typeof (process as { getBuiltinModule?: unknown }).getBuiltinModule !== 'function' || typeof (zlib as { crc32?: unknown }).crc32 !== 'function'
  ? 'snapshots need process.getBuiltinModule and zlib.crc32 (Node ≥ 20.16)'
  : spawnSync('strace', ['-V'], { stdio: 'ignore' }).status !== 0 ? 'no strace' : false;

test('a cached build started from its snapshot (node:crypto in the heap) draws its random names in the run', { skip }, (t) => {
  const { dir, bin, chunks } = installedCopy(t, 'tsb-snapshot-crypto-');
  const root = join(dir, 'root');
  const ctx = join(dir, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
  writeFileSync(join(ctx, 'hello.txt'), 'hello\n');
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['NODE_OPTIONS'];
  delete env['NODE_V8_COVERAGE'];
  const args = ['--root', root, '--progress', 'quiet', 'build', '-q', '-t', 'crypto:1', ctx];
  let first: string | undefined;
  for (let i = 0; i < RUNS_BEFORE_SNAPSHOT + 2; i++) {
    const r = spawnSync(bin, args, { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    first ??= r.stdout;
    assert.equal(r.stdout, first);
  }
  const rec = decodeRecord(readFileSync(recordFileOf(chunks, 'build'), 'utf8'));
  assert.ok(rec && rec.blob !== 'none' && existsSync(join(chunks, rec.blob)), 'a snapshot of build');
  const mainCaches = ['main.cjs.v8-cache', 'main.cjs.bulk.v8-cache'];
  for (const c of mainCaches) rmSync(join(chunks, c), { force: true });
  const names = (n: number): string[] => {
    const log = join(dir, `strace-${n}.txt`);
    const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=mkdir,link', '-o', log, bin, ...args], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, first, 'the same image from the snapshot');
    const text = readFileSync(log, 'utf8');
    return [...text.matchAll(/(?:build-\d+-|\.lock\.tmp-\d+-)([0-9a-f-]{36})/g)].map((m) => m[1]!);
  };
  const a = names(1);
  const b = names(2);
  for (const c of mainCaches) assert.equal(existsSync(join(chunks, c)), false, `started from the snapshot (${c} not written)`);
  assert.ok(a.length >= 2 && b.length >= 2, `random names seen: ${a.length}, ${b.length}`);
  assert.equal(new Set([...a, ...b]).size, a.length + b.length, `every random name is new: ${[...a, ...b].join(' ')}`);
});
