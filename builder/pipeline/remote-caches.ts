/**
 * The registry and local caches around a build (steps 1 and 5 of runBuildPipeline, pipeline.ts): `cacheFrom`
 * imported before it, `cacheTo` exported after it. Neither fails the build: a cache that cannot be read or written
 * is a warning (an abort still aborts).
 */
import { TsbuildError, formatError, type Digest, type EventSink, type LayerStore, type Logger } from '../../layer-store/index.js';
import { parseReference, type RegistryClient } from '../../registry-client/index.js';
import { exportCache, exportCacheToDir, importCache, importCacheFromDir, type RemoteCache } from '../../cache/index.js';
import type { BuildResult } from '../execute/build.js';
import type { CacheSpec } from './cache-spec.js';

/** What the cache steps read of the pipeline's options. */
export interface CacheIo {
  readonly store: LayerStore;
  readonly registry?: RegistryClient | undefined;
  readonly cacheFrom?: readonly CacheSpec[] | undefined;
  readonly cacheTo?: readonly CacheSpec[] | undefined;
  readonly events?: EventSink | undefined;
  readonly logger?: Logger | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Where progress and warnings go (pipeline.ts's Reporter). */
export interface Reports {
  info(message: string): void;
  warn(message: string): void;
}

/** The records and cache mounts of what was built. */
export type BuiltRecords = Pick<BuildResult, 'finalRecords' | 'allRecords' | 'cacheMounts'>;

/** A cache `cacheFrom` imported: where from, and how many records it holds. */
export interface ImportedCache {
  readonly spec: CacheSpec;
  readonly ref: string;
  readonly records: number;
}

/** A cache `cacheTo` exported: where to (a reference or a directory), its manifest, how many records. */
export interface ExportedCache {
  readonly spec: CacheSpec;
  readonly target: string;
  readonly digest: Digest;
  readonly records: number;
}

/** Returns where a cache spec points, as messages name it: its reference, its directory, or `inline`. */
export function targetOf(c: CacheSpec): string {
  return c.type === 'registry' ? c.ref : c.type === 'local' ? c.dir : 'inline';
}

/** Returns the caches of `cacheFrom` that could be read, their mounts restored; warns about the others. */
export async function importCaches(o: CacheIo, report: Reports): Promise<{ cache: RemoteCache; info: ImportedCache }[]> {
  const out: { cache: RemoteCache; info: ImportedCache }[] = [];
  const io = { ...(o.logger ? { logger: o.logger } : {}), ...(o.events ? { events: o.events } : {}) };
  for (const c of o.cacheFrom ?? []) {
    if (c.type === 'inline') continue; // parseCacheSpec refuses it for --cache-from
    try {
      const rc = c.type === 'registry' ? await importCache(o.registry!.source(parseReference(c.ref)), io) : await importCacheFromDir(c.dir, io);
      await rc.restoreMounts(o.store.layout.cacheMountsDir);
      out.push({ cache: rc, info: { spec: c, ref: rc.ref, records: rc.size } });
      report.info(`cache from ${rc.ref}: ${rc.size} records`);
    } catch (e) {
      report.warn(`cannot use --cache-from ${targetOf(c)}: ${formatError(e)}; building without it`);
    }
  }
  return out;
}

/** Returns the caches of `cacheTo` exported (mode=max: every record and the cache mounts); warns about failures. */
export async function exportCaches(o: CacheIo, r: BuiltRecords, report: Reports): Promise<ExportedCache[]> {
  const out: ExportedCache[] = [];
  for (const c of o.cacheTo ?? []) {
    if (c.type === 'inline') continue;
    const records = c.mode === 'max' ? r.allRecords : r.finalRecords;
    const eo = {
      mode: c.mode, cacheMounts: c.mode === 'max' ? r.cacheMounts : [], signal: o.signal,
      ...(o.events ? { events: o.events } : {}), ...(o.logger ? { logger: o.logger } : {}),
    };
    try {
      const d = c.type === 'registry'
        ? await exportCache(records, o.store, o.registry!.destination(parseReference(c.ref)), eo)
        : await exportCacheToDir(records, o.store, c.dir, eo);
      out.push({ spec: c, target: targetOf(c), digest: d.digest, records: records.length });
      report.info(`exported ${records.length} cache records to ${targetOf(c)} (${d.digest})`);
    } catch (e) {
      if (TsbuildError.is(e) && e.code === 'ABORTED') throw e;
      report.warn(`cannot export cache to ${targetOf(c)}: ${formatError(e)}`);
    }
  }
  return out;
}
