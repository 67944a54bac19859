import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { BULK_COMMANDS, cacheKey } from '../../cli/chunk-loader.js';
import { decodeRecord, recordFileOf, RUNS_BEFORE_SNAPSHOT, snapshotName } from '../../cli/snapshot.js';
import { installedCopy } from '../helpers/installed-copy.js';
import { repoRoot } from '../helpers/paths.js';

// bin/tsbuild starts a command from a V8 startup snapshot of its chunks when one was made (cli/snapshot.ts).
// These tests run the installed executable with and without snapshots and check that nothing but the start-up
// time differs: the output, the environment, directory and arguments the command sees, and what happens when the
// snapshot no longer matches the chunks, the node or is gone.

const skip = typeof (process as { getBuiltinModule?: unknown }).getBuiltinModule === 'function' && typeof (zlib as { crc32?: unknown }).crc32 === 'function'
  ? false : 'snapshots need process.getBuiltinModule and zlib.crc32 (Node ≥ 20.16)';

interface Out { code: number | null; out: string }

function run(bin: string, args: readonly string[], o: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Out {
  const env: NodeJS.ProcessEnv = { ...process.env, COLUMNS: '100', ...o.env };
  delete env['NODE_OPTIONS'];
  delete env['NODE_V8_COVERAGE']; // either makes the launcher start without a snapshot
  if (o.env?.['NODE_OPTIONS']) env['NODE_OPTIONS'] = o.env['NODE_OPTIONS'];
  const r = spawnSync(bin, args, { encoding: 'utf8', env, ...(o.cwd ? { cwd: o.cwd } : {}) });
  return { code: r.status, out: `${r.stdout}\n--- stderr\n${r.stderr}` };
}

/** The launcher's choose_snapshot, run by sh with snapshot_of replaced by one that prints the name and flag. */
function launcherChoice(args: readonly string[], env: NodeJS.ProcessEnv = {}): string {
  const text = readFileSync(join(repoRoot(), 'bin', 'tsbuild'), 'utf8');
  const fn = /^choose_snapshot\(\) \{\n[\s\S]*?\n\}\n/m.exec(text);
  assert.ok(fn, 'bin/tsbuild defines choose_snapshot');
  const script = `snapshot_of() { echo "\${1##*/} $flag"; }\n${fn[0]}choose_snapshot "$@" || echo none\n`;
  const r = spawnSync('sh', ['-c', script, 'sh', ...args], { encoding: 'utf8', env: { PATH: process.env['PATH'], ...env } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test('the launcher picks the snapshot and V8 flag of the command the chunk loader runs', () => {
  const lines: readonly string[][] = [
    ['build', '-t', 'x', '.'], ['--root', '/r', 'images'], ['--root=/r', '--debug', '--progress', 'quiet', 'pull', 'a'],
    ['--debug', '--root', '/r', 'push', 'a'], ['-t', 'app', '.'], ['.'], [], ['/ctx'], ['Images'], ['manifest', 'create'],
    ['--root'], ['--version'], ['--help'], ['-h'], ['--root', '/r', '--version'], ['generate-key-pair'], ['x'.repeat(40)],
    ...[...BULK_COMMANDS].map((c) => [c]),
  ];
  for (const argv of lines) {
    const key = cacheKey(argv);
    const name = snapshotName(key);
    const want = name === undefined ? 'none' : `tsbuild.${name}.snapshot ${BULK_COMMANDS.has(key) ? '--no-incremental-marking' : ''}`.trim();
    assert.equal(launcherChoice(argv), want, argv.join(' '));
  }
  for (const env of [{ NODE_OPTIONS: '--no-warnings' }, { NODE_V8_COVERAGE: '/tmp/c' }, { TSBUILD_SNAPSHOT: '0' }, { TSBUILD_CODE_CACHE: '0' }]) {
    assert.equal(launcherChoice(['images'], env), 'none', JSON.stringify(env));
  }
});

test('a command started from its snapshot prints what it prints without one, with its own environment, directory and arguments', { skip }, (t) => {
  const { dir, bin, chunks } = installedCopy(t, 'tsb-snapshot-');
  const root = join(dir, 'root');
  const other = join(dir, 'other-root');
  const ctx = join(dir, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
  writeFileSync(join(ctx, 'hello.txt'), 'hello\n');
  const fmt = ['--format', '{{.Repository}} {{.Tag}} {{.ID}} {{.Size}}'];
  const commands: string[][] = [
    ['--root', root, '--progress', 'quiet', 'build', '-q', '-t', 'snap:1', ctx],
    ['--root', root, 'images', ...fmt],
    ['--root', root, 'inspect', 'snap:1'],
    ['--root', root, 'history', 'nothing:here'],
    ['--version'],
  ];
  const off = { TSBUILD_SNAPSHOT: '0' };
  const plain = commands.map((a) => run(bin, a, { env: off }));
  assert.equal(plain[0]!.code, 0, plain[0]!.out);
  assert.match(plain[0]!.out, /^sha256:[0-9a-f]{64}\n/);
  assert.match(plain[1]!.out, /^snap 1 [0-9a-f]{12} /);
  assert.equal(plain[3]!.code, 1, 'history of a missing image fails');
  assert.deepEqual(readdirSync(chunks).filter((f) => /\.(snapshot|blob)$/.test(f)), [], 'TSBUILD_SNAPSHOT=0 makes none');

  // The first run writes the code caches, the next RUNS_BEFORE_SNAPSHOT count (the last makes the snapshot), and
  // the one after starts from it.
  for (let pass = 0; pass < RUNS_BEFORE_SNAPSHOT + 2; pass++) {
    for (const [i, a] of commands.entries()) assert.deepEqual(run(bin, a), plain[i], `${a.join(' ')} (pass ${pass})`);
  }
  for (const name of ['build', 'images', 'inspect', 'history']) {
    const r = decodeRecord(readFileSync(recordFileOf(chunks, name), 'utf8'));
    assert.ok(r && r.blob !== 'none' && existsSync(join(chunks, r.blob)), `a snapshot of ${name}`);
    assert.equal(r.execPath, process.execPath);
    assert.equal(statSync(recordFileOf(chunks, name), { bigint: true }).mtimeNs, statSync(process.execPath, { bigint: true }).mtimeNs, 'the record has node\'s time');
  }
  assert.equal(existsSync(recordFileOf(chunks, 'version')), false, '--version starts without one');

  // Started from the snapshot: main.cjs is not compiled from its file (so its code cache, removed, is not
  // written again), and the output is the same.
  const mainCaches = ['main.cjs.v8-cache', 'main.cjs.bulk.v8-cache'];
  const fromSnapshot = (what: string): void => {
    for (const c of mainCaches) assert.equal(existsSync(join(chunks, c)), false, `${what}: started from the snapshot (${c} not written)`);
  };
  for (const c of mainCaches) rmSync(join(chunks, c), { force: true });
  for (const [i, a] of commands.slice(0, 4).entries()) assert.deepEqual(run(bin, a), plain[i], `${a.join(' ')} from its snapshot`);
  fromSnapshot('build, images, inspect, history');

  // NODE_OPTIONS (it could change V8's flags): no snapshot, same output.
  assert.deepEqual(run(bin, commands[2]!, { env: { NODE_OPTIONS: '--no-warnings' } }), plain[2]);
  assert.ok(existsSync(join(chunks, mainCaches[0]!)), 'NODE_OPTIONS: started from the files');
  for (const c of mainCaches) rmSync(join(chunks, c), { force: true });

  // The run's environment (TSBUILD_ROOT picks the store), directory (a relative context) and arguments.
  assert.deepEqual(run(bin, ['images', ...fmt], { env: { TSBUILD_ROOT: root } }), plain[1]);
  const empty = run(bin, ['images', ...fmt], { env: { TSBUILD_ROOT: other } });
  assert.equal(empty.code, 0, empty.out);
  assert.equal(empty.out, '\n--- stderr\n', 'another TSBUILD_ROOT, another store');
  assert.deepEqual(run(bin, ['--root', root, '--progress', 'quiet', 'build', '-q', '-t', 'snap:1', '.'], { cwd: ctx }), plain[0], 'context . is the run\'s directory');
  const tagged = run(bin, ['--root', root, '--progress', 'quiet', 'build', '-q', '-t', 'snap:2', 'ctx'], { cwd: dir });
  assert.deepEqual(tagged, plain[0]);
  assert.match(run(bin, ['--root', root, 'images', ...fmt]).out, /^snap 1 .*\nsnap 2 /m, 'the arguments are the run\'s');
  fromSnapshot('with another environment and directory');

  for (const c of mainCaches) rmSync(join(chunks, c), { force: true });
  assert.deepEqual(readdirSync(chunks).filter((f) => f.startsWith('.') && f !== '.npmignore'), [], 'no temporary file left');
});

test('a snapshot whose chunks, node, record or blob changed is not used, and is made again', { skip }, (t) => {
  const { dir, bin, chunks } = installedCopy(t, 'tsb-snapshot-stale-');
  const root = join(dir, 'root');
  const ctx = join(dir, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
  writeFileSync(join(ctx, 'hello.txt'), 'hello\n');
  const built = run(bin, ['--root', root, '--progress', 'quiet', 'build', '-q', '-t', 'snap:1', ctx]);
  assert.equal(built.code, 0, built.out);
  const images = ['--root', root, 'images', '--format', '{{.Repository}} {{.Tag}} {{.ID}}'];
  const want = run(bin, images, { env: { TSBUILD_SNAPSHOT: '0' } });
  assert.match(want.out, /^snap 1 /);
  const record = recordFileOf(chunks, 'images');
  const current = (): { blob: string; chunks: readonly { name: string }[] } => {
    const r = decodeRecord(readFileSync(record, 'utf8'));
    assert.ok(r && r.blob !== 'none' && existsSync(join(chunks, r.blob)), 'a snapshot of images');
    return r;
  };
  // (The run above wrote the code caches: each of these has them valid.)
  for (let i = 1; i <= RUNS_BEFORE_SNAPSHOT + 1; i++) {
    assert.deepEqual(run(bin, images), want);
    if (i < RUNS_BEFORE_SNAPSHOT) assert.match(readFileSync(record, 'utf8'), new RegExp(`\\nwait-${i}\\n`), `run ${i} counted`);
  }
  const first = current();

  // A chunk it ran changed, to a text of the same length: the new text runs, and the next run makes a new one.
  const table = run(bin, ['--root', root, 'images']);
  const file = first.chunks.map((c) => join(chunks, c.name)).find((f) => readFileSync(f, 'utf8').includes('"REPOSITORY"'));
  assert.ok(file, 'a chunk of the snapshot prints the REPOSITORY header');
  writeFileSync(file, readFileSync(file, 'utf8').replace('"REPOSITORY"', '"REPOSITORX"'));
  const changed = run(bin, ['--root', root, 'images']);
  const header = (o: Out): string => o.out.split('\n')[0]!.split(/ +/).join(' '); // column widths follow the CREATED text
  assert.equal(changed.code, 0, changed.out);
  assert.equal(header(changed), header(table).replace('REPOSITORY', 'REPOSITORX'), 'the changed chunk ran, not the snapshot of the old one');
  for (let i = 0; i < 2; i++) assert.deepEqual(run(bin, images), want);
  const second = current();
  assert.notEqual(second.blob, first.blob, 'a new snapshot');

  // The record's time is no longer node's (node replaced by a package upgrade): not used, made again.
  utimesSync(record, new Date(2001, 0, 1), new Date(2001, 0, 1));
  assert.deepEqual(run(bin, images), want);
  assert.equal(statSync(record, { bigint: true }).mtimeNs, statSync(process.execPath, { bigint: true }).mtimeNs, 'made again for this node');
  const third = current();
  assert.notEqual(third.blob, second.blob);

  // The blob gone: the command runs without, and makes one again at once.
  rmSync(join(chunks, third.blob));
  assert.deepEqual(run(bin, images), want);
  const fourth = current();
  // A damaged record reads as none: counted again from the start.
  writeFileSync(record, 'tsbuild-snapshot 1\n/no/such/node\n');
  for (let i = 0; i < RUNS_BEFORE_SNAPSHOT; i++) assert.deepEqual(run(bin, images), want);
  assert.notEqual(current().blob, fourth.blob);
  assert.deepEqual(run(bin, images), want);
  assert.deepEqual(readdirSync(chunks).filter((f) => f.startsWith('.') && f !== '.npmignore'), [], 'no temporary file left');
});
