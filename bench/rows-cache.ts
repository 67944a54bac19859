/**
 * The benchmark's cache rows (issue 22, item 7), measured per workload after its build rows:
 *
 * - `nocache`: `build --no-cache` on a store that has the cache, then `after-nocache`: the same build without the
 *   flag, which must hit every step (tsbuild: checked with `--explain`; a step that ran makes the run FAILED).
 *   BuildKit: `docker build --no-cache`, then `docker build`.
 * - `cache-to`: a cold build in a fresh store that exports its cache (`--cache-to type=registry,ref=…,mode=max` on
 *   the loopback registry: every stage's steps, so W4's builder stages hit too; mode=min exports the final stage's), then `cache-from`: the same build in another fresh store (base image only) with
 *   `--cache-from` the same ref, which must hit every step. Both are shown beside tsbuild's own cold build of
 *   the workload: Docker 20.10's `docker build` has no `--cache-to` (that needs buildx), so BuildKit has no cell.
 */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execCapture, type BuildTool, type Measured, type TsbuildTool } from './peers.js';

export type CachePhase = 'nocache' | 'after-nocache' | 'cache-to' | 'cache-from';
export const CACHE_PHASES: readonly CachePhase[] = ['nocache', 'after-nocache', 'cache-to', 'cache-from'];

export interface CacheRowsInput {
  readonly workload: string;
  readonly tag: string;
  readonly tsb: TsbuildTool;
  /** BuildKit, when it runs (only the --no-cache pair). */
  readonly buildkit: BuildTool | undefined;
  /** The context directory of each tool. */
  readonly context: (t: BuildTool) => string;
  /** host:port of the loopback registry. */
  readonly registry: string;
  readonly runs: number;
  readonly add: (phase: CachePhase, tool: string, m: Measured) => void;
}

const TIME = '/usr/bin/time';

/**
 * Runs `cmd args` like peers.ts `measure` (wall time from spawn to exit, peak RSS from GNU time) and fails the
 * result when `check` finds something wrong in its output.
 */
async function measureChecked(cmd: string, args: readonly string[], check: (output: string) => string | undefined): Promise<Measured> {
  const rssFile = join('/tmp', `.bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const useTime = existsSync(TIME);
  const t0 = process.hrtime.bigint();
  const r = await execCapture(useTime ? TIME : cmd, useTime ? ['-f', '%M', '-o', rssFile, cmd, ...args] : [...args]);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  let rssMb: number | undefined;
  if (useTime) {
    const kb = Number((await readFile(rssFile, 'utf8').catch(() => '')).trim().split('\n').pop());
    if (Number.isFinite(kb) && kb > 0) rssMb = kb / 1024;
    await rm(rssFile, { force: true });
  }
  const tail = r.output.trim().split('\n').slice(-12).join('\n');
  if (r.code !== 0) return { ok: false, seconds, rssMb, error: tail || `exit ${r.code}` };
  const wrong = check(r.output);
  return wrong === undefined ? { ok: true, seconds, rssMb, error: undefined } : { ok: false, seconds, rssMb, error: wrong };
}

/** Fails when `--explain` listed a step that ran. */
function everyStepHit(output: string): string | undefined {
  const lines = output.split('\n');
  const ran = lines.filter((l) => l.startsWith('RAN'));
  if (ran.length > 0) return `${ran.length} step(s) ran instead of hitting:\n${ran.slice(0, 4).join('\n')}`;
  return lines.some((l) => l.startsWith('CACHED')) ? undefined : `no --explain output:\n${lines.slice(-6).join('\n')}`;
}

/** Measures the cache rows of one workload; leaves `tsb` on a fresh store holding the cache-from build. */
export async function cacheRows(i: CacheRowsInput): Promise<void> {
  const { tsb, tag } = i;
  const ctx = i.context(tsb);
  const build = (root: string, ...extra: string[]): string[] => tsb.argv(root, 'build', ...extra, '-t', tag, ctx);
  // Every --no-cache pair first, on the store the workload's rows built (its cache and snapshots): a later run
  // on the cache-from store below would find the records but none of their trees, and measure a cold build.
  for (let run = 0; run < i.runs; run++) {
    // --no-cache, then an ordinary build that must hit (tsbuild's store has the workload's cache by now).
    i.add('nocache', 'tsbuild', await measureChecked(tsb.cli, build(tsb.root, '--no-cache'), () => undefined));
    i.add('after-nocache', 'tsbuild', await measureChecked(tsb.cli, build(tsb.root, '--explain'), everyStepHit));
    if (i.buildkit) {
      i.add('nocache', i.buildkit.name, await i.buildkit.cold(i.context(i.buildkit), tag));
      i.add('after-nocache', i.buildkit.name, await i.buildkit.rebuild(i.context(i.buildkit), tag));
    }
  }
  for (let run = 0; run < i.runs; run++) {
    // Registry cache round trip: export from one fresh store, import into another.
    const ref = `${i.registry}/cache-${i.workload.toLowerCase()}-${run}:latest`;
    await tsb.freshState();
    i.add('cache-to', 'tsbuild', await measureChecked(tsb.cli, build(tsb.root, '--cache-to', `type=registry,ref=${ref},mode=max`), () => undefined));
    await tsb.freshState();
    i.add('cache-from', 'tsbuild', await measureChecked(tsb.cli, build(tsb.root, '--cache-from', `type=registry,ref=${ref}`, '--explain'), everyStepHit));
  }
}

/** One measured cell as the report needs it: the median time when every run succeeded. */
export type CellMedian = { ok: true; median: number; rssMb: number | undefined } | { ok: false; why: string };

/** The Markdown rows of the cache table: each phase beside tsbuild's cold build and, for the --no-cache pair, BuildKit's. */
export function cacheTable(workloads: readonly string[], cell: (workload: string, phase: string, tool: string) => CellMedian | undefined): string[] {
  const rows = [
    '| workload | phase | tsbuild | peak RSS | tsbuild cold | ts/ts cold | BuildKit | ts/BuildKit |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  const show = (c: CellMedian | undefined): string => (c === undefined ? '—' : c.ok ? `${c.median.toFixed(2)} s` : c.why);
  const ratio = (a: CellMedian | undefined, b: CellMedian | undefined): string => (a?.ok && b?.ok ? `${(a.median / b.median).toFixed(2)}×` : '—');
  for (const w of workloads) {
    const cold = cell(w, 'cold', 'tsbuild');
    for (const phase of CACHE_PHASES) {
      const ts = cell(w, phase, 'tsbuild');
      if (ts === undefined) continue;
      const bk = cell(w, phase, 'buildkit');
      const rss = ts.ok && ts.rssMb !== undefined ? `${ts.rssMb.toFixed(0)} MB` : '—';
      rows.push(`| ${w} | ${phase} | ${show(ts)} | ${rss} | ${show(cold)} | ${ratio(ts, cold)} | ${show(bk)} | ${ratio(ts, bk)} |`);
    }
  }
  return rows;
}
