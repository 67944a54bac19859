/**
 * Property-based fuzzing (fast-check) of the parsers that read untrusted bytes; this file is the CLI.
 *
 * Targets (test/fuzz/targets/):
 * - `parser`: Dockerfile text → parseDockerfile → toStages (instruction typing) → resolveStageGraph →
 *   stageScope (ARG/ENV expansion of every instruction), as a build does before running anything.
 * - `reference`: parseReference, plus the round trip parse(format(r)) = r for every accepted reference.
 * - `tar`: applyLayer (the pull path: gzip/zstd/plain autodetected, TarReader, hostile-name policy) into a
 *   sandbox, with structured hostile archives and raw byte mutations of valid ones.
 * - `names`: file names as bytes through the name codec, the context walker, the tar writer and reader, and apply.
 *
 * Properties checked for every input (worker.ts): it finishes within `--max-input-ms` (default 1000 ms; an
 * input over it is run again and is a finding only if slow twice, since a loaded machine makes single timings
 * noisy; a watchdog (watchdog.ts) kills the worker after `--hang-ms` without progress and reports the input),
 * it either succeeds or throws a TsbuildError (any other exception is a finding), memory stays bounded (the
 * worker has a 2 GiB heap cap; peak RSS and heap are reported), and for tar nothing outside the target
 * directory changes (targets/tar.ts).
 *
 *   npm run fuzz                                  # 100,000 inputs per target, random seed
 *   node dist/test/fuzz/run.js --runs 5000 --target tar --seed 42 [--jobs 2]
 *
 * Failing inputs are shrunk by fast-check; re-run one with the printed seed (and the same --runs/--jobs).
 *
 * Writes a summary to bench/results/fuzz.md (and prints it); failing inputs go to bench/results/fuzz-findings/.
 * Exit code 1 when there is a finding.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { resultsDir } from './findings.js';
import { TARGETS, type FuzzOptions, type FuzzTarget, type TargetReport } from './harness.js';
import { summarize } from './summary.js';
import { fuzzTarget } from './watchdog.js';

function parseArgs(argv: readonly string[]): { targets: FuzzTarget[]; o: FuzzOptions } {
  const o: { runs?: number; seed?: number; maxInputMs?: number; hangMs?: number; isolate?: boolean; jobs?: number } = {};
  const targets: FuzzTarget[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [k, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const val = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${k} needs a value`);
      return v;
    };
    const num = (): number => {
      const v = Number(val());
      if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${k} needs a non-negative integer`);
      return v;
    };
    switch (k) {
      case '--runs': o.runs = num(); break;
      case '--seed': o.seed = num(); break;
      case '--max-input-ms': o.maxInputMs = num(); break;
      case '--hang-ms': o.hangMs = num(); break;
      case '--no-worker': o.isolate = false; break;
      case '--jobs': o.jobs = num(); break;
      case '--target':
        for (const t of val().split(',')) {
          if (!(TARGETS as readonly string[]).includes(t)) throw new Error(`unknown target ${t} (parser|reference|tar|names)`);
          targets.push(t as FuzzTarget);
        }
        break;
      case '--help':
        process.stdout.write('usage: node dist/test/fuzz/run.js [--runs N] [--target parser|reference|tar|names[,…]] [--seed S] [--max-input-ms MS] [--hang-ms MS] [--jobs N] [--no-worker]\n');
        process.exit(0);
        break;
      default: throw new Error(`unknown option ${a}`);
    }
  }
  return { targets: targets.length > 0 ? targets : [...TARGETS], o };
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`fuzz: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const seed = args.o.seed ?? (Date.now() % 2 ** 31);
  const runs = args.o.runs ?? 100_000;
  const reports: TargetReport[] = [];
  for (const t of args.targets) {
    process.stderr.write(`fuzz: ${t}: ${runs.toLocaleString('en-US')} inputs, seed ${seed}…\n`);
    // tar inputs wait on the filesystem and child processes: two workers keep both CPUs busy
    const r = await fuzzTarget(t, { ...args.o, seed, runs, progress: true, jobs: args.o.jobs ?? (t === 'tar' ? Math.min(2, availableParallelism()) : 1) });
    process.stderr.write(`fuzz: ${t}: ${r.inputs} inputs in ${(r.wallMs / 1000).toFixed(1)} s, ${r.findings.length} finding(s)\n`);
    reports.push(r);
  }
  const command = `node dist/test/fuzz/run.js --runs ${runs} --target ${args.targets.join(',')} --seed ${seed}${args.o.jobs !== undefined ? ` --jobs ${args.o.jobs}` : ''}`;
  const md = summarize(reports, command);
  const out = resultsDir();
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'fuzz.md'), md);
  process.stdout.write(md);
  process.exitCode = reports.some((r) => r.findings.length > 0) ? 1 : 0;
}

void main();
