/**
 * V8 startup snapshots of the bundled executable (see cli/README.md, Start-up): a heap with the chunks a command
 * needs already compiled and run, which `node --snapshot-blob FILE` starts from instead of loading them.
 *
 * Beside the chunks in dist/bin, per set of V8 flags (`variant`: '' or `bulk`, as the code caches):
 * - `tsbuild[.bulk].N.blob`, the snapshot (made by `node --build-snapshot dist/bin/snapshot-entry.cjs`, written
 *   under a new name each time and never changed after);
 * - `tsbuild[.bulk].snapshot`, which says which blob is current and what it was made from, replaced as a whole
 *   (temporary file, rename):
 *
 *     tsbuild-snapshot 1 | node's path (process.execPath) | blob file name | node's version | `CHUNK BYTES CRC`…
 *
 *   and whose modification time is node's (copied to the nanosecond). bin/tsbuild reads its first three lines
 *   (no process started) and uses the blob only when the `node` it would run is that file with that time, and
 *   NODE_OPTIONS is unset; Node itself refuses a blob of another
 *   version or other V8 flags by exiting, so those checks come first. The chunk lines are the exact sources
 *   (wrapper included) the snapshot ran: the snapshot's own start checks them against the files and runs the
 *   chunks from the files when one differs (snapshot-entry.ts).
 *
 * Made at the exit of a command whose chunks all had a valid code cache (so the snapshot holds their compiled
 * functions) when the current record does not cover the chunks this run loaded; it then covers them and the
 * ones it covered. `TSBUILD_SNAPSHOT=0` (or `TSBUILD_CODE_CACHE=0`) neither uses nor makes one.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';

const MAGIC = 'tsbuild-snapshot 1';
/** A blob no record names is removed once older than this (a command may have just read the record naming it). */
const STALE_BLOB_MS = 60_000;
/** At most this long to make a snapshot (~0.3 s of CPU on its own; more on a loaded machine). */
const BUILD_TIMEOUT_MS = 60_000;

/** The exact source of one chunk a snapshot ran: its file name in dist/bin, length and CRC-32 (of the wrapped source, as the code caches). */
export interface SnapshotChunk {
  readonly name: string;
  readonly sourceBytes: number;
  readonly sourceCrc: number;
}

/** What a record file says. */
export interface SnapshotRecord {
  readonly execPath: string;
  readonly blob: string;
  readonly version: string;
  readonly chunks: readonly SnapshotChunk[];
}

/**
 * The name of the snapshot of a command (chunk-loader.ts cacheKey: its word, `default` for the default
 * command), or undefined when none is made for it (`--version`, `--help`: bin/tsbuild starts them without one).
 */
export function snapshotName(key: string): string | undefined {
  if (key === '.') return 'default';
  return /^[a-z][a-z-]{0,31}$/.test(key) ? key : undefined;
}

/** The record file of the snapshot `name`, in dist/bin. */
export const recordFileOf = (dir: string, name: string): string => join(dir, `tsbuild.${name}.snapshot`);

/** Whether `TSBUILD_SNAPSHOT` allows snapshots. */
export const snapshotsOn = (env: NodeJS.ProcessEnv): boolean => env['TSBUILD_SNAPSHOT'] !== '0' && env['TSBUILD_CODE_CACHE'] !== '0';

export function encodeRecord(r: SnapshotRecord): string {
  return [MAGIC, r.execPath, r.blob, r.version, ...r.chunks.map((c) => `${c.name} ${c.sourceBytes} ${c.sourceCrc}`)].join('\n') + '\n';
}

/** A record file's text, or undefined when it is not one (never throws). */
export function decodeRecord(text: string): SnapshotRecord | undefined {
  const lines = text.split('\n');
  if (lines.at(-1) !== '') return undefined;
  const [magic, execPath, blob, version, ...rest] = lines.slice(0, -1);
  if (magic !== MAGIC || !execPath || !blob || !version || !/^tsbuild[.\w-]*\.blob$/.test(blob)) return undefined;
  const chunks: SnapshotChunk[] = [];
  for (const l of rest) {
    const m = /^([\w.-]+\.cjs) (\d+) (\d+)$/.exec(l);
    if (!m) return undefined;
    chunks.push({ name: m[1]!, sourceBytes: Number(m[2]), sourceCrc: Number(m[3]) });
  }
  return { execPath, blob, version, chunks };
}

/** The current record of snapshot `name`, or undefined (never throws). */
export function readRecord(dir: string, name: string): SnapshotRecord | undefined {
  try { return decodeRecord(readFileSync(recordFileOf(dir, name), 'utf8')); } catch { return undefined; }
}

/**
 * Whether `r` still serves: made by this node, its blob there, every chunk it ran still a file, and the same
 * source as in `sources` (the chunks this run compiled) for those this run compiled too.
 */
export function stillServes(dir: string, r: SnapshotRecord | undefined, sources: readonly SnapshotChunk[]): boolean {
  if (!r || r.execPath !== process.execPath || r.version !== process.version || !existsSync(join(dir, r.blob))) return false;
  const now = new Map(sources.map((c) => [c.name, c]));
  return r.chunks.every((c) => {
    const s = now.get(c.name);
    return s === undefined ? existsSync(join(dir, c.name)) : s.sourceBytes === c.sourceBytes && s.sourceCrc === c.sourceCrc;
  });
}

/**
 * At the exit of command `key` run from the chunk files, with every code cache valid: makes a snapshot of the
 * chunks it ran (`sources`, files of `dir`) under the node flags `flags` (those of `variant`, chunk-loader.ts),
 * unless the command's current one still serves. Any failure (a read-only install, no snapshot support) just
 * leaves no new snapshot; never throws.
 */
export function refreshSnapshot(dir: string, key: string, variant: string, flags: readonly string[], sources: readonly { file: string; sourceBytes: number; sourceCrc: number }[]): void {
  const name = snapshotName(key);
  if (name === undefined || !snapshotsOn(process.env) || process.env['NODE_OPTIONS'] || process.execArgv.length > 0) return;
  const entry = join(dir, 'snapshot-entry.cjs');
  const ran = sources.map((s) => ({ name: basename(s.file), sourceBytes: s.sourceBytes, sourceCrc: s.sourceCrc }));
  if (ran.length === 0 || stillServes(dir, readRecord(dir, name), ran) || !existsSync(entry)) return;
  const stem = `tsbuild.${name}`;
  const tmp = join(dir, `.${stem}.${process.pid}`);
  try {
    // A child of this node with exactly the flags the launcher will give it, and an empty environment: nothing
    // of this command's environment can be captured in the heap (snapshot-entry.ts).
    const { spawnSync } = createRequire(entry)('node:child_process') as typeof import('node:child_process');
    const r = spawnSync(process.execPath, [...flags, '--snapshot-blob', `${tmp}.blob`, '--build-snapshot', entry, dir, variant, `${tmp}.chunks`, ...ran.map((c) => c.name)],
      { stdio: 'ignore', env: {}, timeout: BUILD_TIMEOUT_MS });
    if (r.status !== 0 || statSync(`${tmp}.blob`).size === 0) return;
    const chunks = JSON.parse(readFileSync(`${tmp}.chunks`, 'utf8')) as SnapshotChunk[];
    const blob = `${stem}.${Date.now().toString(36)}${process.pid.toString(36)}.blob`;
    renameSync(`${tmp}.blob`, join(dir, blob));
    const fd = openSync(`${tmp}.record`, 'w', 0o644);
    try { writeFileSync(fd, encodeRecord({ execPath: process.execPath, blob, version: process.version, chunks })); } finally { closeSync(fd); }
    // The record's modification time is node's, to the nanosecond: the launcher's test that node is unchanged
    // (a package upgrade replaces the file, with the package's time).
    if (spawnSync('touch', ['-r', process.execPath, `${tmp}.record`], { stdio: 'ignore', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } }).status !== 0) return;
    renameSync(`${tmp}.record`, recordFileOf(dir, name));
    removeOldBlobs(dir, stem, blob);
  } catch {
    // no snapshot this time
  } finally {
    for (const f of ['blob', 'chunks', 'record']) rmSync(`${tmp}.${f}`, { force: true });
  }
}

/** Removes the blobs of `stem` other than `keep` that are old enough that no command can be about to start from them. */
function removeOldBlobs(dir: string, stem: string, keep: string): void {
  const now = Date.now();
  for (const f of readdirSync(dir)) {
    if (f === keep || !f.startsWith(`${stem}.`) || !f.endsWith('.blob') || f.slice(stem.length + 1, -5).includes('.')) continue;
    try { if (now - statSync(join(dir, f)).mtimeMs > STALE_BLOB_MS) rmSync(join(dir, f), { force: true }); } catch { /* gone already */ }
  }
}
