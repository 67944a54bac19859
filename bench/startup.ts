/**
 * The fixed cost of a tsbuild command beside Node's own (`node -e 0`), measured in one run with the commands
 * interleaved: `tsbuild --version`, `tsbuild images` on an empty root, and a fully cached one-step build
 * (`FROM scratch` + one COPY, built once untimed). Each is spawned directly (no GNU time in between) N times;
 * the median and the 90th percentile are reported, and the difference of medians against `node -e 0`.
 *
 *   node dist/bench/startup.js [--runs N] [--cli PATH]… [--node-extra-ca-certs]
 *
 * `--cli` (repeatable; default bin/tsbuild): the executables to measure, interleaved in one run (before/after).
 * `--node-extra-ca-certs`: add a row for `node -e 0` with NODE_EXTRA_CA_CERTS (the system bundle unless set);
 * without it the variable is removed from the environment (the launcher hands it over to the registry client).
 *
 * `npm run bench` runs the same rows (fixedCosts) before the workloads.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchError } from './errors.js';

/** One row: a command's N wall times (seconds), in run order, and its CPU times when perf could measure them. */
export interface FixedCost {
  readonly label: string;
  readonly command: string;
  readonly seconds: readonly number[];
  readonly cpuSeconds: readonly number[];
  readonly failed: string | undefined;
}

export interface FixedCostOptions {
  /** The `tsbuild` executable (the launcher users run). */
  readonly cli: string;
  /** Other builds of it to measure in the same run (rows labelled with their path), e.g. before/after a change. */
  readonly compare?: readonly string[];
  /** Repetitions of every row (default 30). */
  readonly runs?: number;
  /** Scratch directory (removed afterwards). */
  readonly dir?: string;
  /** Extra environment for every command. NODE_EXTRA_CA_CERTS (here or in this process's) is removed from every row and adds one: `node -e 0` with it. */
  readonly env?: Readonly<Record<string, string>>;
}

/** Returns the p-quantile (0..1) of xs by the nearest-rank method. */
export function quantile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

/** One run: wall seconds from spawn to exit, and CPU seconds of the process tree when perf is there. */
interface Sample { readonly wall: number; readonly cpu: number | undefined }

/**
 * Runs argv once with stdio ignored and resolves with its Sample, or rejects with the output tail. With `perf`,
 * the command runs under `perf stat -e task-clock` (its CPU time, all threads and children: on a machine shared
 * with other work, CPU time moves much less than wall time). perf's own start is in the wall time of every row,
 * `node -e 0` included, so differences of medians are unaffected.
 */
function timeOnce(argv: readonly string[], env: NodeJS.ProcessEnv, perf: string | undefined, scratch: string): Promise<Sample> {
  const statFile = join(scratch, 'perf-stat.csv');
  const cmd = perf ? [perf, 'stat', '-x,', '-e', 'task-clock', '-o', statFile, '--', ...argv] : argv;
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err = (err + d.toString('utf8')).slice(-2000); });
    child.once('error', reject);
    child.once('close', (code) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) { reject(new Error(`${argv.join(' ')} exited ${code}: ${err.trim()}`)); return; }
      let cpu: number | undefined;
      if (perf) {
        // perf stat -x, writes "<msec>,msec,task-clock,…".
        const line = readFileSync(statFile, 'utf8').split('\n').find((l) => l.includes('task-clock'));
        const ms = Number(line?.split(',')[0]);
        if (Number.isFinite(ms)) cpu = ms / 1000;
      }
      resolve({ wall, cpu });
    });
  });
}

/** The perf executable when `perf stat` works here (it needs perf_event_open), else undefined. */
function findPerf(): string | undefined {
  for (const p of ['/usr/bin/perf', '/usr/local/bin/perf']) {
    if (!existsSync(p)) continue;
    const r = spawnSync(p, ['stat', '-x,', '-e', 'task-clock', '--', process.execPath, '-e', '0'], { stdio: 'ignore' });
    if (r.status === 0) return p;
  }
  return undefined;
}

/**
 * Untimed runs of each row first: the page cache, then what the executable makes at the exit of its first runs
 * (its V8 code caches at the first, a startup snapshot at the exit of the next RUNS_BEFORE_SNAPSHOT (5) with valid
 * caches: cli/snapshot.ts, cli/README.md Start-up).
 */
const WARM_UPS = 7;

/**
 * Measures the fixed-cost rows, interleaved run by run (so load changes hit every row alike), after WARM_UPS
 * untimed runs of each. Never throws for a failing row: it carries `failed`.
 */
export async function fixedCosts(o: FixedCostOptions): Promise<FixedCost[]> {
  const runs = o.runs ?? 30;
  const work = await mkdtemp(join(o.dir ?? tmpdir(), 'tsbuild-startup-'));
  // The launcher hands NODE_EXTRA_CA_CERTS over to the registry client (bin/tsbuild), so no row pays for Node
  // parsing it at start; when it is set here, one more row shows what `node -e 0` pays with it.
  const extraCa = o.env?.['NODE_EXTRA_CA_CERTS'] ?? process.env['NODE_EXTRA_CA_CERTS'];
  const env: NodeJS.ProcessEnv = { ...process.env, ...(o.env ?? {}) };
  delete env['NODE_EXTRA_CA_CERTS'];
  try {
    const emptyRoot = join(work, 'empty-root');
    const buildRoot = join(work, 'build-root');
    const ctx = join(work, 'ctx');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
    await writeFile(join(ctx, 'hello.txt'), 'hello\n');
    const q = ['--progress', 'quiet'];
    const rows: { label: string; argv: string[]; env?: NodeJS.ProcessEnv }[] = [{ label: 'node -e 0', argv: [process.execPath, '-e', '0'] }];
    if (extraCa) rows.push({ label: 'node -e 0 with NODE_EXTRA_CA_CERTS', argv: [process.execPath, '-e', '0'], env: { ...env, NODE_EXTRA_CA_CERTS: extraCa } });
    const clis = [o.cli, ...(o.compare ?? [])];
    for (const [k, cli] of clis.entries()) {
      const of = clis.length > 1 ? ` [${cli}]` : '';
      rows.push(
        { label: `tsbuild --version${of}`, argv: [cli, '--version'] },
        { label: `tsbuild images (empty root)${of}`, argv: [cli, '--root', `${emptyRoot}-${k}`, 'images'] },
        { label: `tsbuild build (cached, 1 step)${of}`, argv: [cli, '--root', `${buildRoot}-${k}`, ...q, 'build', '-t', 'startup:latest', ctx] },
      );
    }
    const perf = findPerf();
    const times = rows.map(() => [] as number[]);
    const cpu = rows.map(() => [] as number[]);
    const failed: (string | undefined)[] = rows.map(() => undefined);
    for (let run = -WARM_UPS; run < runs; run++) {
      for (let i = 0; i < rows.length; i++) {
        if (failed[i] !== undefined) continue;
        try {
          const s = await timeOnce(rows[i]!.argv, rows[i]!.env ?? env, perf, work);
          if (run >= 0) {
            times[i]!.push(s.wall);
            if (s.cpu !== undefined) cpu[i]!.push(s.cpu);
          }
        } catch (e) { failed[i] = e instanceof Error ? e.message : String(e); }
      }
    }
    return rows.map((r, i) => ({
      label: r.label,
      command: r.argv.map((a) => a.replace(work, '$TMP')).join(' '),
      seconds: times[i]!,
      cpuSeconds: cpu[i]!,
      failed: failed[i],
    }));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The rows as a Markdown table: wall median and p90, median minus `node -e 0`'s median, and the same for CPU
 * time when measured, in milliseconds.
 */
export function fixedCostTable(rows: readonly FixedCost[]): string {
  const ms = (s: number): string => (s * 1000).toFixed(1);
  const base = rows.find((r) => r.label === 'node -e 0');
  const withCpu = rows.some((r) => r.cpuSeconds.length > 0);
  const over = (r: FixedCost, pick: (r: FixedCost) => readonly number[]): string =>
    base && !base.failed && r !== base && pick(base).length > 0 ? `+${ms(quantile(pick(r), 0.5) - quantile(pick(base), 0.5))}` : '';
  const out = [
    `| command | runs | median ms | p90 ms | median − node -e 0 |${withCpu ? ' CPU median ms | CPU − node -e 0 |' : ''}`,
    `|---|---:|---:|---:|---:|${withCpu ? '---:|---:|' : ''}`,
  ];
  for (const r of rows) {
    if (r.failed !== undefined) { out.push(`| ${r.label} | — | FAILED | | |${withCpu ? ' | |' : ''}`); continue; }
    const cpuCells = withCpu ? ` ${r.cpuSeconds.length ? ms(quantile(r.cpuSeconds, 0.5)) : '—'} | ${over(r, (x) => x.cpuSeconds)} |` : '';
    out.push(`| ${r.label} | ${r.seconds.length} | ${ms(quantile(r.seconds, 0.5))} | ${ms(quantile(r.seconds, 0.9))} | ${over(r, (x) => x.seconds)} |${cpuCells}`);
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let runs = 30;
  const clis: string[] = [];
  const env: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--runs') runs = Number(argv[++i]);
    else if (a === '--cli') clis.push(argv[++i] ?? '');
    else if (a === '--node-extra-ca-certs') env['NODE_EXTRA_CA_CERTS'] = process.env['NODE_EXTRA_CA_CERTS'] ?? '/etc/ssl/certs/ca-certificates.crt';
    else throw new BenchError('USAGE', `unknown flag ${a}`, 'usage: node dist/bench/startup.js [--runs N] [--cli PATH]… [--node-extra-ca-certs]');
  }
  if (!Number.isInteger(runs) || runs < 1) throw new BenchError('USAGE', '--runs needs a positive integer', 'e.g. --runs 30');
  const here = dirname(fileURLToPath(import.meta.url));
  if (clis.length === 0) clis.push(join(here, '..', '..', 'bin', 'tsbuild'));
  for (const c of clis) if (!existsSync(c)) throw new BenchError('IO', `${c} not found`, 'run `npm run build` first, or pass --cli');
  if (!('NODE_EXTRA_CA_CERTS' in env)) delete process.env['NODE_EXTRA_CA_CERTS'];
  const rows = await fixedCosts({ cli: clis[0]!, compare: clis.slice(1), runs, env });
  process.stdout.write(`${fixedCostTable(rows)}\n`);
  for (const r of rows) if (r.failed) process.stderr.write(`${r.label}: ${r.failed}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    const hint = e instanceof BenchError && e.hint ? `\nhint: ${e.hint}` : '';
    process.stderr.write(`startup: ${e instanceof Error ? e.message : String(e)}${hint}\n`);
    process.exitCode = 2;
  });
}
