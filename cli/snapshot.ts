/**
 * V8 startup snapshots of the bundled executable (cli/README.md, Start-up): a heap in which the chunks a command
 * runs are already compiled (from their code caches) and their top levels already run, which
 * `node --snapshot-blob FILE` starts from instead of loading them.
 *
 * One per command (`NAME`: snapshotName of its cacheKey), beside the chunks in dist/bin:
 * - `tsbuild.NAME.ID.blob`, the snapshot, made by `node [FLAGS] --build-snapshot dist/bin/snapshot-entry.cjs`
 *   under the V8 flags of the command (BULK_COMMANDS': `--no-incremental-marking`), written under a new name
 *   each time and never changed after;
 * - `tsbuild.NAME.snapshot`, the record of the current one, replaced as a whole (temporary file, rename):
 *
 *     tsbuild-snapshot 1 | node's path (process.execPath) | blob file name, or `none` | node's version | `CHUNK BYTES CRC`…
 *
 *   with node's modification time (copied to the nanosecond). bin/tsbuild reads its first three lines (no
 *   process started) and uses the blob only when the `node` it would run is that file with that time and
 *   NODE_OPTIONS is unset: Node exits, rather than start, with a blob of another version or other V8 flags, and
 *   a damaged blob makes V8 stop on its checksum. The chunk lines are the sources (wrapper included, as the
 *   code caches) the snapshot ran; its own start checks the files against it (snapshot-entry.ts) and runs the
 *   command from the files when one changed. `none`: no snapshot could be made from these chunks with this node
 *   (not tried again until they change, or a run of the command compiles another set of chunks).
 *
 * Made at the exit of a command run from the files whose chunks all had a valid code cache: for a command that
 * never had one with this node, at its RUNS_BEFORE_SNAPSHOT-th such run (a record `wait-N` counts them); for
 * one whose snapshot no longer serves (a chunk changed, the blob is gone), at once. It adds that exit ~0.45 s.
 * `TSBUILD_SNAPSHOT=0` (or `TSBUILD_CODE_CACHE=0`) neither uses nor makes one.
 */
import { accessSync, closeSync, constants, existsSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';

const MAGIC = 'tsbuild-snapshot 1';
/** The blob of a record that says none could be made from its chunks with its node: not tried again until they change. */
const NONE = 'none';
/** The blob of a record that counts a command's runs before its first snapshot (`wait-N`: N runs so far). */
const WAIT = /^wait-(\d+)$/;
/**
 * A command's first snapshot is made at the exit of its RUNS_BEFORE_SNAPSHOT-th run with valid code caches: making
 * one costs ~0.45 s once and saves ~5-20 ms a start, so a command run only a few times in a fresh install (a CI
 * job) never pays for it. A command that had one (a chunk or node changed since) gets its next at once.
 */
export const RUNS_BEFORE_SNAPSHOT = 5;
/** A blob no record names is removed once older than this (a command may have just read the record naming it). */
const STALE_BLOB_MS = 60_000;
/** A temporary file of a snapshot being made is removed once older than this (its maker was killed). */
const STALE_TMP_MS = 10 * 60_000;
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
  if (magic !== MAGIC || !execPath || !blob || !version || !(blob === NONE || WAIT.test(blob) || /^tsbuild[.\w-]*\.blob$/.test(blob))) return undefined;
  const chunks: SnapshotChunk[] = [];
  for (const l of rest) {
    const m = /^([\w.-]+\.cjs) (\d+) (\d+)$/.exec(l);
    if (!m) return undefined;
    chunks.push({ name: m[1]!, sourceBytes: Number(m[2]), sourceCrc: Number(m[3]) });
  }
  return { execPath, blob, version, chunks };
}

/** The record of snapshot `name`, or undefined (never throws). */
function readRecord(dir: string, name: string): SnapshotRecord | undefined {
  try { return decodeRecord(readFileSync(recordFileOf(dir, name), 'utf8')); } catch { return undefined; }
}

/**
 * Whether the record of snapshot `name` still serves: made by this node (same file, same modification time, as
 * the launcher checks), its blob there, every chunk it ran still a file, and the same source as in `sources`
 * (the chunks this run compiled) for those this run compiled too. Never throws.
 */
export function stillServes(dir: string, name: string, sources: readonly SnapshotChunk[]): boolean {
  const file = recordFileOf(dir, name);
  let r: SnapshotRecord | undefined;
  try {
    r = decodeRecord(readFileSync(file, 'utf8'));
    if (!r || r.execPath !== process.execPath || r.version !== process.version) return false;
    if (statSync(file, { bigint: true }).mtimeNs !== statSync(process.execPath, { bigint: true }).mtimeNs) return false;
  } catch {
    return false;
  }
  if (WAIT.test(r.blob) || (r.blob !== NONE && !existsSync(join(dir, r.blob)))) return false;
  const now = new Map(sources.map((c) => [c.name, c]));
  // `none` holds for exactly the chunks it was tried with: a run that compiled another set (a pull without the
  // proxy route's undici chunk, after one through a proxy failed to snapshot) tries again.
  if (r.blob === NONE && (r.chunks.length !== now.size || r.chunks.some((c) => !now.has(c.name)))) return false;
  return r.chunks.every((c) => {
    const s = now.get(c.name);
    return s === undefined ? existsSync(join(dir, c.name)) : s.sourceBytes === c.sourceBytes && s.sourceCrc === c.sourceCrc;
  });
}

/**
 * At the exit of command `key` run from the chunk files, with every code cache valid: makes a snapshot of the
 * chunks it ran (`sources`, files of `dir`) under the node flags `flags` (those of `variant`, chunk-loader.ts),
 * unless the command's current one still serves (`stale`: the command started from it and found a chunk file
 * changed, if only its change time). Any failure (a read-only install, no snapshot support) just leaves no new
 * snapshot; never throws.
 */
export function refreshSnapshot(dir: string, key: string, variant: string, flags: readonly string[], sources: readonly { file: string; sourceBytes: number; sourceCrc: number }[], stale = false): void {
  const name = snapshotName(key);
  if (name === undefined || !snapshotsOn(process.env) || process.env['NODE_OPTIONS'] || process.execArgv.length > 0) return;
  const entry = join(dir, 'snapshot-entry.cjs');
  const ran = sources.map((s) => ({ name: basename(s.file), sourceBytes: s.sourceBytes, sourceCrc: s.sourceCrc }));
  if (ran.length === 0 || (!stale && stillServes(dir, name, ran)) || !existsSync(entry)) return;
  const stem = `tsbuild.${name}`;
  const tmp = join(dir, `.${stem}.${process.pid}`);
  try {
    accessSync(dir, constants.W_OK); // a read-only install: none, and nothing tried at every exit
    const base = { execPath: process.execPath, version: process.version, chunks: ran };
    const current = readRecord(dir, name);
    const mine = current?.execPath === process.execPath && current.version === process.version;
    const runs = (mine ? Number(WAIT.exec(current.blob)?.[1] ?? RUNS_BEFORE_SNAPSHOT) : 0) + 1;
    if (!stale && runs < RUNS_BEFORE_SNAPSHOT) { writeRecord(dir, name, tmp, { ...base, blob: `wait-${runs}` }); return; }
    // A child of this node with exactly the flags the launcher will give it, and an empty environment: nothing
    // of this command's environment can be captured in the heap (snapshot-entry.ts).
    const { spawnSync } = createRequire(entry)('node:child_process') as typeof import('node:child_process');
    const r = spawnSync(process.execPath, [...flags, '--snapshot-blob', `${tmp}.blob`, '--build-snapshot', entry, dir, variant, `${tmp}.chunks`, ...ran.map((c) => c.name)],
      { stdio: 'ignore', env: {}, timeout: BUILD_TIMEOUT_MS });
    // Stopped by a signal (Ctrl-C reaches the whole process group) or the timeout: tried again at a later exit.
    if (r.status === null) return;
    let record: SnapshotRecord = { ...base, blob: NONE };
    // The blob must start (a blob V8 cannot read stops node before any code runs): `--version` from it.
    const check = r.status === 0 && statSync(`${tmp}.blob`).size > 0
      ? spawnSync(process.execPath, [...flags, '--snapshot-blob', `${tmp}.blob`, '--', '--version'], { stdio: 'ignore', env: {}, timeout: BUILD_TIMEOUT_MS }) : undefined;
    if (check && check.status === null) return;
    if (check?.status === 0) {
      const blob = `${stem}.${Date.now().toString(36)}${process.pid.toString(36)}.blob`;
      renameSync(`${tmp}.blob`, join(dir, blob));
      record = { ...record, blob, chunks: JSON.parse(readFileSync(`${tmp}.chunks`, 'utf8')) as SnapshotChunk[] };
    }
    // The record's modification time is node's, to the nanosecond: the launcher's test that node is unchanged
    // (a package upgrade replaces the file, with the package's time). Without it, the launcher never uses it.
    writeRecord(dir, name, tmp, record, () => spawnSync('touch', ['-r', process.execPath, `${tmp}.record`], { stdio: 'ignore', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } }));
    removeOldBlobs(dir, stem, record.blob);
  } catch {
    // no snapshot this time
  } finally {
    for (const f of ['blob', 'chunks', 'record']) rmSync(`${tmp}.${f}`, { force: true });
  }
}

/** Replaces the record of snapshot `name` (temporary file `TMP.record`, `before` run on it, rename). */
function writeRecord(dir: string, name: string, tmp: string, r: SnapshotRecord, before?: () => void): void {
  const fd = openSync(`${tmp}.record`, 'w', 0o644);
  try { writeFileSync(fd, encodeRecord(r)); } finally { closeSync(fd); }
  before?.();
  renameSync(`${tmp}.record`, recordFileOf(dir, name));
}

/**
 * Removes the blobs of `stem` other than `keep` that are old enough that no command can be about to start from
 * them, and temporary files of `stem` as old (left by a command killed while it made a snapshot).
 */
function removeOldBlobs(dir: string, stem: string, keep: string): void {
  const now = Date.now();
  for (const f of readdirSync(dir)) {
    const blob = f !== keep && f.startsWith(`${stem}.`) && f.endsWith('.blob') && !f.slice(stem.length + 1, -5).includes('.');
    if (!blob && !/^\.tsbuild\.[\w-]+\.\d+\.(blob|chunks|record)$/.test(f)) continue;
    try { if (now - statSync(join(dir, f)).mtimeMs > (blob ? STALE_BLOB_MS : STALE_TMP_MS)) rmSync(join(dir, f), { force: true }); } catch { /* gone already */ }
  }
}
