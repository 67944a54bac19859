/**
 * The script a startup snapshot is made from (`dist/bin/snapshot-entry.cjs`, bundled by scripts/bundle.mjs; run
 * by snapshot.ts refreshSnapshot as `node [FLAGS] --snapshot-blob OUT --build-snapshot snapshot-entry.cjs DIR
 * VARIANT CHUNKS_OUT CHUNK…`, with an empty environment), and the start of a command from that snapshot.
 *
 * Made: loads main.cjs and the named chunks of DIR with a chunk loader (their code caches, so their compiled
 * functions are in the heap), which runs their top levels (tsbuild's are free of work, cli/README.md; nothing
 * there may keep the environment's values, the directory, the pid, the time or random state: the tests run
 * commands from a snapshot in other directories and environments), and writes the exact sources it ran to
 * CHUNKS_OUT. No listener, handle or timer is made then, and no vm.Script is kept.
 *
 * Started (`node [FLAGS] --snapshot-blob BLOB -- ARGS`, bin/tsbuild): process.argv and process.execArgv are
 * made what `node dist/bin/tsbuild.cjs ARGS` would have (cli/rootless.ts starts the command again from them).
 * The snapshot runs only when it is for the directory of BLOB, for these flags, and every chunk it ran is the
 * file as it is now; else the command runs from the files (chunk-loader.ts runBundle), as without a snapshot,
 * and its exit makes a new one.
 */
import { realpathSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import * as v8 from 'node:v8';
import { BULK_COMMANDS, BULK_FLAG, cacheKey, cachesOn, ChunkLoader, runBundle } from './chunk-loader.js';
import { snapshotsOn, type SnapshotChunk } from './snapshot.js';

type GetBuiltin = (s: string) => unknown;

/** A Node builtin by name, through process.getBuiltinModule (Node ≥ 20.16): nothing of the making process's module system is kept. */
function builtin(s: string): unknown {
  const get = (process as { getBuiltinModule?: GetBuiltin }).getBuiltinModule;
  const m = get?.(s);
  if (m === undefined) throw new Error(`tsbuild snapshot: ${s} is not a Node builtin`);
  return m;
}

const [dirArg, variant = '', chunksOut, ...names] = process.argv.slice(2);
if (!dirArg || !chunksOut || (variant !== '' && variant !== 'bulk')) throw new Error('usage: snapshot-entry.cjs DIR VARIANT CHUNKS_OUT CHUNK…');
if (typeof (process as { getBuiltinModule?: GetBuiltin }).getBuiltinModule !== 'function') throw new Error('tsbuild snapshot: needs process.getBuiltinModule (Node ≥ 20.16)');
const dir = realpathSync(dirArg);
// Each file's identity is taken before it is read: a file changed after would not match it at a start.
const files = new Map([...new Set(['main.cjs', ...names])].map((n) => [n, identity(join(dir, n))]));
const loader = new ChunkLoader('snapshot', true, variant, builtin);
const { main } = loader.load(join(dir, 'main.cjs')) as { main: () => Promise<void> };
for (const n of names) loader.load(join(dir, n));
const ran: SnapshotChunk[] = loader.sources().map((s) => ({ name: basename(s.file), sourceBytes: s.sourceBytes, sourceCrc: s.sourceCrc }));
const ranFiles = ran.map((c) => [c.name, files.get(c.name)] as const);
if (ranFiles.some(([, id]) => id === undefined)) throw new Error('tsbuild snapshot: a chunk loaded another chunk that was not named');
if (ran.length === 0) throw new Error('tsbuild snapshot: no code cache (zlib.crc32 needs Node ≥ 20.15)');
// The compiled scripts are dropped (V8 cannot put the handles that vm.Script objects hold in a snapshot); their
// functions stay, run.
loader.resume('snapshot', false, variant);
// The bulk commands (build, run, pull, push, copy…: BULK_COMMANDS) hash what they handle, so every run of them
// loads node:crypto (a cached build: at the lease's first temporary name): loaded here, its internal modules are
// in the heap instead of compiled in the run (~1.9 ms CPU of a cached build for 0.2 MB more snapshot; cli/README.md).
// Only loaded: its random pools are made at first use, in the run, as without a snapshot.
if (variant === 'bulk') builtin('crypto');
writeFileSync(chunksOut, JSON.stringify(ran));
v8.startupSnapshot.setDeserializeMainFunction(start);

/**
 * A file's identity: device, inode, size and change time (ns). Any write to the file, or another file put in its
 * place, changes it (the change time cannot be set back), so an unchanged identity means unchanged bytes; ~20
 * stat calls instead of reading and checking 1 MB at every start.
 */
function identity(file: string): string {
  const s = statSync(file, { bigint: true });
  return `${s.dev}:${s.ino}:${s.size}:${s.ctimeNs}`;
}

/**
 * Whether this snapshot (of this directory: start checks that) may run the command `key`: made for the flags
 * this node has and the command needs (as bin/tsbuild picks it), and its chunk files unchanged.
 */
function current(blob: string | undefined, flagsSet: boolean, key: string): boolean {
  const bulk = variant === 'bulk';
  if (!snapshotsOn(process.env) || blob === undefined || flagsSet !== bulk || BULK_COMMANDS.has(key) !== bulk) return false;
  try {
    return ranFiles.every(([n, id]) => identity(join(dir, n)) === id);
  } catch {
    return false;
  }
}

/** The directory of `blob` (symbolic links resolved, as `dir` is); as given when it cannot be resolved. */
function installOf(blob: string): string {
  try { return realpathSync(dirname(blob)); } catch { return resolve(dirname(blob)); }
}

/** The start of a command from the snapshot. */
function start(): void {
  const args = process.argv.slice(1);
  const at = process.execArgv.indexOf('--snapshot-blob');
  const blob = at >= 0 ? process.execArgv[at + 1] : undefined;
  const flagsSet = process.execArgv.includes(BULK_FLAG);
  // The install started is the blob's: a copy of an install (its blobs copied too) runs its own files, never
  // those of the directory the snapshot was made in.
  const here = blob === undefined ? dir : installOf(blob);
  process.execArgv = process.execArgv.filter((a, i) => a !== BULK_FLAG && i !== at && i !== at + 1);
  process.argv = [process.execPath, join(here, 'tsbuild.cjs'), ...args];
  const key = cacheKey(args);
  if (here !== dir || !current(blob, flagsSet, key)) { runBundle(here, 'main.cjs', flagsSet, true); return; }
  // Chunks the snapshot did not run load as without it, with their code caches.
  loader.resume(key, cachesOn(process.env), variant);
  process.once('exit', () => loader.saveCaches());
  void main();
}
