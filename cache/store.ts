import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, utimesSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHex, isDigest, noopLogger, type Digest, type Layer, type Logger } from '../layer-store/core/index.js';
import { CacheIoError } from './errors.js';
import { frame, unframe, writeFileAtomic } from './fsutil.js';
import { stepKey, type StepInputs } from './keys.js';
import { stepCacheLayout, type SegmentIndex, type StepCacheLayout } from '../layer-store/index.js';

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [k: string]: JsonValue };

/** The layer a step produced: layer-store/core's Layer (the name stays for builder/execute until it says Layer). */
export type CachedLayer = Layer;

/** What a step produced: its layer (unless it only changed the config) and its config/history change, opaque to the cache. */
export interface CacheResult {
  readonly layer?: CachedLayer;
  readonly emptyLayer: boolean;
  readonly configPatch?: JsonValue;
  readonly history?: JsonValue;
}

export interface CacheRecord {
  readonly key: Digest;
  readonly inputs: StepInputs;
  readonly result: CacheResult;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms of the last hit (kept as the record file's mtime by touch()). */
  readonly lastUsedAt: number;
}

export interface PruneOptions {
  /** Keep at most this many bytes (record files plus the distinct layers they reference), dropping least recently used first. */
  readonly keepBytes?: number;
  /** Drop records not used for this long. */
  readonly olderThanMs?: number;
  /** Clock for tests. Default Date.now. */
  readonly now?: number;
  /** Keys never removed (e.g. the cache keys of live leases: records a running build is writing or about to read). */
  readonly keep?: ReadonlySet<Digest>;
}

export interface PruneReport {
  readonly removed: readonly Digest[];
  readonly kept: number;
  /** Bytes the kept records account for. */
  readonly keptBytes: number;
  readonly freedBytes: number;
  /** Layer blobs no kept record references any more (the store's GC may delete them if no image does). */
  readonly releasedLayers: readonly Digest[];
}

export interface CacheUsage {
  readonly records: number;
  readonly recordBytes: number;
  /** Distinct layers referenced by records: GC roots for the layer store. */
  readonly layers: ReadonlyMap<Digest, number>;
  readonly layerBytes: number;
}

export interface CacheStoreOptions {
  readonly logger?: Logger;
}

interface Listed {
  readonly rec: CacheRecord;
  readonly bytes: number;
}

function isRecordShape(r: unknown, key: Digest): r is CacheRecord {
  if (typeof r !== 'object' || r === null) return false;
  const x = r as Record<string, unknown>;
  const inputs = x.inputs as Record<string, unknown> | undefined;
  const result = x.result as Record<string, unknown> | undefined;
  if (x.key !== key || typeof x.createdAt !== 'number' || typeof x.lastUsedAt !== 'number') return false;
  if (!inputs || inputs.v !== 1 || typeof inputs.instruction !== 'string' || !Array.isArray(inputs.env) || !Array.isArray(inputs.mounts)) return false;
  if (!result || typeof result.emptyLayer !== 'boolean') return false;
  const layer = result.layer as Record<string, unknown> | undefined;
  if (layer !== undefined && (!isDigest(layer.digest) || !isDigest(layer.diffId) || typeof layer.size !== 'number')) return false;
  return stepKey(inputs as unknown as StepInputs) === key;
}

/**
 * The cache's record store under `dir` (`<root>/cache/steps` in a store: StoreLayout.cacheStepsDir; the names
 * inside come from layer-store's stepCacheLayout): `records/<key hex>.json` (one framed record per key: a line
 * `<sha256 of json>\t<json>`, so a torn or edited record is detected), `steps/<hash of step id>.json`
 * (the latest key built for a step id, for explainMiss), `sources/<digest hex>.json` (per-file
 * fingerprints of a COPY's sources, shared between records) and `gzindex/<blob hex>.json` (the gzip segments of
 * a layer a step made). Every write is atomic (temp, fsync, rename). A corrupt record is a miss: it is removed
 * and logged once.
 */
export class CacheStore {
  readonly dir: string;
  /** The names inside `dir` (layer-store's layout.ts owns them). */
  readonly #paths: StepCacheLayout;
  readonly #log: Logger;
  readonly #warned = new Set<string>();

  private constructor(dir: string, log: Logger) {
    this.dir = dir;
    this.#paths = stepCacheLayout(dir);
    this.#log = log;
  }

  /** Opens (creating) the record store in `dir`. */
  static async open(dir: string, o: CacheStoreOptions = {}): Promise<CacheStore> {
    try {
      // Synchronous: four directories that exist after the first build, one mkdir call each (an async one is a
      // thread-pool round trip, at every build's start).
      for (const sub of stepCacheLayout(dir).subdirs) mkdirSync(sub, { recursive: true });
    } catch (e) {
      throw new CacheIoError(dir, { cause: e });
    }
    return new CacheStore(dir, o.logger ?? noopLogger);
  }

  #recordPath(key: Digest): string {
    return this.#paths.recordPath(key);
  }

  #stepPath(stepId: string): string {
    return this.#paths.stepPath(stepId);
  }

  #segmentsPath(blob: Digest): string {
    return this.#paths.segmentsPath(blob);
  }

  /**
   * Remembers where the deflate segments of the gzip layer `blob` lie (layer-store's segmented gzip), so the next
   * build of the same step can copy the unchanged ones instead of compressing them again. Best effort.
   */
  async putSegments(blob: Digest, index: SegmentIndex): Promise<void> {
    await writeFileAtomic(this.#segmentsPath(blob), frame(JSON.stringify(index))).catch(() => undefined);
  }

  /** The segment index of `blob`, or undefined (none kept, unreadable or corrupt: then the layer is compressed in full). */
  async segments(blob: Digest): Promise<SegmentIndex | undefined> {
    const got = await this.#readFramed(this.#segmentsPath(blob)).catch(() => 'missing' as const);
    if (typeof got !== 'object') return undefined;
    try {
      const x = JSON.parse(got.json) as SegmentIndex;
      // Any version: layer-store reuses only the segments of the version it writes (an older index reuses nothing).
      return x && typeof x.v === 'number' && Array.isArray(x.segments) ? x : undefined;
    } catch {
      return undefined;
    }
  }

  #sourcesPath(d: Digest): string {
    return this.#paths.sourcesPath(d);
  }

  async #corrupt(path: string, what: string): Promise<undefined> {
    if (!this.#warned.has(path)) {
      this.#warned.add(path);
      this.#log.warn(`removing corrupt cache ${what}; the step will be rebuilt`, { path });
    }
    await rm(path, { force: true });
    return undefined;
  }

  async #readFramed(path: string): Promise<{ json: string; mtimeMs: number; bytes: number } | 'missing' | 'corrupt'> {
    let text: string;
    let st;
    try {
      // Synchronous: records are small, and a build reads several at every step (see fsutil.ts).
      const fd = openSync(path, 'r');
      try {
        st = fstatSync(fd);
        text = readFileSync(fd, 'utf8');
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
      throw new CacheIoError(path, { cause: e });
    }
    const json = unframe(text);
    return json === undefined ? 'corrupt' : { json, mtimeMs: st.mtimeMs, bytes: st.size };
  }

  async #load(key: Digest): Promise<Listed | undefined> {
    const path = this.#recordPath(key);
    const got = await this.#readFramed(path);
    if (got === 'missing') return undefined;
    if (got === 'corrupt') return this.#corrupt(path, 'record');
    let rec: unknown;
    try {
      rec = JSON.parse(got.json);
    } catch {
      return this.#corrupt(path, 'record');
    }
    if (!isRecordShape(rec, key)) return this.#corrupt(path, 'record');
    return { rec: { ...rec, lastUsedAt: Math.max(rec.lastUsedAt, Math.floor(got.mtimeMs)) }, bytes: got.bytes };
  }

  /** Returns the record for `key`, or undefined for a miss (absent, or corrupt: then removed and logged once). */
  async get(key: Digest): Promise<CacheRecord | undefined> {
    return (await this.#load(key))?.rec;
  }

  /**
   * Stores `rec` (replacing any record with its key), the per-file fingerprints of its sources (once per
   * source digest) and, when `rec.inputs.stepId` is set, marks it the latest build of that step.
   */
  async put(rec: CacheRecord): Promise<void> {
    const { inputs } = rec;
    let stored: StepInputs = inputs;
    if (inputs.sources) {
      const { files, digest } = inputs.sources;
      if (files) {
        const sp = this.#sourcesPath(digest);
        const have = await this.#readFramed(sp);
        if (typeof have !== 'object') await writeFileAtomic(sp, frame(JSON.stringify(files)));
      }
      stored = { ...inputs, sources: { digest } };
    }
    await writeFileAtomic(this.#recordPath(rec.key), frame(JSON.stringify({ ...rec, inputs: stored })));
    if (inputs.stepId !== undefined) {
      await writeFileAtomic(this.#stepPath(inputs.stepId), frame(JSON.stringify({ stepId: inputs.stepId, key: rec.key, at: rec.createdAt })));
    }
  }

  /** Marks `key` as used now (LRU for prune). Missing keys are ignored. */
  async touch(key: Digest, now: number = Date.now()): Promise<void> {
    const t = new Date(now);
    try {
      utimesSync(this.#recordPath(key), t, t);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new CacheIoError(this.#recordPath(key), { cause: e });
    }
  }

  /**
   * Returns the most recent record stored for `stepId` with its sources' per-file fingerprints attached,
   * for explainMiss; undefined when there is none (or it was pruned or is corrupt).
   */
  async nearest(stepId: string): Promise<CacheRecord | undefined> {
    const sp = this.#stepPath(stepId);
    const got = await this.#readFramed(sp);
    if (got === 'missing') return undefined;
    if (got === 'corrupt') return this.#corrupt(sp, 'step index');
    let idx: { stepId?: unknown; key?: unknown };
    try {
      idx = JSON.parse(got.json) as typeof idx;
    } catch {
      return this.#corrupt(sp, 'step index');
    }
    if (idx.stepId !== stepId || !isDigest(idx.key)) return this.#corrupt(sp, 'step index');
    const rec = await this.get(idx.key);
    if (!rec?.inputs.sources) return rec;
    const fp = this.#sourcesPath(rec.inputs.sources.digest);
    const files = await this.#readFramed(fp);
    if (files === 'missing') return rec;
    if (files === 'corrupt') {
      await this.#corrupt(fp, 'source list');
      return rec;
    }
    try {
      const map = JSON.parse(files.json) as Record<string, string>;
      return { ...rec, inputs: { ...rec.inputs, sources: { digest: rec.inputs.sources.digest, files: map } } };
    } catch {
      await this.#corrupt(fp, 'source list');
      return rec;
    }
  }

  /** Removes the record for `key` (if any). */
  async delete(key: Digest): Promise<void> {
    await rm(this.#recordPath(key), { force: true });
  }

  async #listAll(): Promise<Listed[]> {
    const out: Listed[] = [];
    for (const name of await readdir(this.#paths.records)) {
      const m = /^([0-9a-f]{64})\.json$/.exec(name);
      if (!m) continue; // temp files of writes in progress
      const got = await this.#load(`sha256:${m[1]!}` as Digest);
      if (got) out.push(got);
    }
    return out;
  }

  /** Yields every valid record (corrupt ones are removed on the way). */
  async *records(): AsyncGenerator<CacheRecord> {
    for (const l of await this.#listAll()) yield l.rec;
  }

  /** Returns what the cache holds: record count and bytes, and the distinct layers records reference (GC roots). */
  async usage(): Promise<CacheUsage> {
    const all = await this.#listAll();
    const layers = new Map<Digest, number>();
    for (const { rec } of all) if (rec.result.layer) layers.set(rec.result.layer.digest, rec.result.layer.size);
    let layerBytes = 0;
    for (const s of layers.values()) layerBytes += s;
    return { records: all.length, recordBytes: all.reduce((n, l) => n + l.bytes, 0), layers, layerBytes };
  }

  /**
   * Removes records not used for `olderThanMs`, then least recently used records until the rest fit in
   * `keepBytes` (a layer shared by several records counts once and is freed with its last record), then
   * step-index and source-list files nothing refers to. Records in `o.keep` stay whatever their age or size.
   * Returns what was removed and which layers were released.
   */
  async prune(o: PruneOptions = {}): Promise<PruneReport> {
    const now = o.now ?? Date.now();
    const all = (await this.#listAll()).sort((a, b) => a.rec.lastUsedAt - b.rec.lastUsedAt || (a.rec.key < b.rec.key ? -1 : 1));
    const refs = new Map<Digest, { size: number; count: number }>();
    let total = 0;
    for (const { rec, bytes } of all) {
      total += bytes;
      const l = rec.result.layer;
      if (!l) continue;
      const r = refs.get(l.digest);
      if (r) r.count++;
      else {
        refs.set(l.digest, { size: l.size, count: 1 });
        total += l.size;
      }
    }
    const removed: Digest[] = [];
    const released: Digest[] = [];
    let freed = 0;
    const keep: Listed[] = [];
    for (const item of all) {
      const old = o.olderThanMs !== undefined && now - item.rec.lastUsedAt > o.olderThanMs;
      const over = o.keepBytes !== undefined && total > o.keepBytes;
      if ((!old && !over) || o.keep?.has(item.rec.key)) {
        keep.push(item);
        continue;
      }
      await this.delete(item.rec.key);
      removed.push(item.rec.key);
      let f = item.bytes;
      const l = item.rec.result.layer;
      if (l) {
        const r = refs.get(l.digest)!;
        if (--r.count === 0) {
          f += r.size;
          released.push(l.digest);
        }
      }
      total -= f;
      freed += f;
    }
    await this.#dropOrphans(keep.map((k) => k.rec), now);
    return { removed, kept: keep.length, keptBytes: total, freedBytes: freed, releasedLayers: released };
  }

  async #dropOrphans(kept: readonly CacheRecord[], now: number): Promise<void> {
    // Temp files left by a crashed writer (older than an hour: never one in progress).
    for (const sub of this.#paths.subdirs) {
      for (const name of await readdir(sub).catch(() => [] as string[])) {
        if (!name.includes('.tmp-')) continue;
        const p = join(sub, name);
        const st = await stat(p).catch(() => undefined);
        if (st && now - st.mtimeMs > 3_600_000) await rm(p, { force: true });
      }
    }
    const keys = new Set(kept.map((r) => digestHex(r.key)));
    const sources = new Set(kept.flatMap((r) => (r.inputs.sources ? [digestHex(r.inputs.sources.digest)] : [])));
    for (const name of await readdir(this.#paths.sources)) {
      if (name.includes('.tmp-')) continue;
      const hex = name.replace(/\.json$/, '');
      if (!sources.has(hex)) await rm(join(this.#paths.sources, name), { force: true });
    }
    // Segment indexes of layers no kept record names.
    const layers = new Set(kept.flatMap((r) => (r.result.layer ? [digestHex(r.result.layer.digest)] : [])));
    for (const name of await readdir(this.#paths.segments).catch(() => [] as string[])) {
      if (name.includes('.tmp-')) continue;
      if (!layers.has(name.replace(/\.json$/, ''))) await rm(join(this.#paths.segments, name), { force: true });
    }
    for (const name of await readdir(this.#paths.steps)) {
      if (name.includes('.tmp-')) continue;
      const p = join(this.#paths.steps, name);
      const got = await this.#readFramed(p);
      let key: unknown;
      if (typeof got === 'object') {
        try {
          key = (JSON.parse(got.json) as { key?: unknown }).key;
        } catch {
          key = undefined;
        }
      }
      if (!isDigest(key) || !keys.has(digestHex(key))) await rm(p, { force: true });
    }
  }
}
