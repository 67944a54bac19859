/**
 * `npm run bench`: tsbuild side by side with BuildKit (a private dockerd), `buildah bud --layers` and skopeo,
 * on the same deterministic workloads, in one run, tools interleaved run by run. Prints medians and the
 * ratio tsbuild/peer for every cell and writes JSON and Markdown to bench/results/.
 *
 *   npm run bench -- [--quick] [--install] [--only W1,W3] [--peers buildkit,skopeo] [--runs N] [--keep]
 *
 * README.md ("Benchmark") says what each row measures; bench/report.ts writes the report and checks the targets.
 */
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchError } from './errors.js';
import { BuildahTool, BuildkitTool, Skopeo, TsbuildTool, have, measure, mustRun, settleWriteback, type BuildTool, type Measured } from './peers.js';
import { cacheRows } from './rows-cache.js';
import { PEERS, Results, report, type Peer } from './report.js';
import { TRANSFER_ONLY, WORKLOAD_NAMES, applyEdit, generateWorkload, type WorkloadInfo, type WorkloadName } from './workloads.js';
import { startRegistry, type RegistryHandle } from '../test/helpers/registry.js';
import { fixedCosts, type FixedCost } from './startup.js';
import { rootlessBench } from './rows-rootless.js';

const BASE_IMAGE = 'busybox:latest';
interface Options {
  readonly quick: boolean;
  readonly install: boolean;
  readonly only: readonly WorkloadName[];
  readonly runs: number;
  /** Whether --runs was given (else heavy workloads run fewer times). */
  readonly runsGiven: boolean;
  readonly keep: boolean;
  /** Peers to run (--peers buildkit,skopeo); default every installed one. */
  readonly peers: readonly Peer[];
  /** --rootless: W1, W4, W5 as an unprivileged user beside rootless buildah (bench/rows-rootless.ts) only. */
  readonly rootless?: boolean;
}


function usage(msg: string): never {
  throw new BenchError('USAGE', msg, 'usage: npm run bench -- [--quick] [--install] [--only W1,W2,...] [--peers buildkit,buildah,skopeo] [--runs N] [--keep] [--rootless]');
}

function parseArgs(argv: readonly string[]): Options {
  let quick = false;
  let install = false;
  let keep = false;
  let only: WorkloadName[] = [...WORKLOAD_NAMES];
  let runs: number | undefined;
  let peers: Peer[] = [...PEERS];
  let rootless = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const eq = a.indexOf('=');
      if (eq >= 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') quick = true;
    else if (a === '--install') install = true;
    else if (a === '--keep') keep = true;
    else if (a === '--rootless') rootless = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      only = value().split(',').map((s) => s.trim().toUpperCase()).filter(Boolean).map((s) => {
        if (!(WORKLOAD_NAMES as readonly string[]).includes(s)) usage(`unknown workload ${s} (known: ${WORKLOAD_NAMES.join(', ')})`);
        return s as WorkloadName;
      });
    } else if (a === '--runs' || a.startsWith('--runs=')) {
      runs = Number(value());
      if (!Number.isInteger(runs) || runs < 1) usage('--runs needs a positive integer');
    } else if (a === '--peers' || a.startsWith('--peers=')) {
      peers = value().split(',').map((s) => s.trim().toLowerCase()).filter(Boolean).map((s) => {
        if (!(PEERS as readonly string[]).includes(s)) usage(`unknown peer ${s} (known: ${PEERS.join(', ')})`);
        return s as Peer;
      });
    } else usage(`unknown flag ${a}`);
  }
  return { quick, install, only, keep, peers, rootless, runs: runs ?? (quick ? 1 : 3), runsGiven: runs !== undefined };
}

/** Runs of one workload: --runs when given; else the default, but at most 2 for the heavy W2 and W3 (full mode stays under 25 min). */
function runsFor(o: Options, name: WorkloadName): number {
  return o.runsGiven || (name !== 'W2' && name !== 'W3' && name !== 'T1') ? o.runs : Math.min(o.runs, name === 'T1' ? 3 : 2);
}

/** The repository root: the real directory of the nearest package.json above this file. */
function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new BenchError('IO', 'repository root not found', 'run the benchmark from the tsbuild checkout');
    d = up;
  }
  return dirname(realpathSync(join(d, 'package.json')));
}

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** apt-get install of the peers (and GNU time, the registry) that are missing. */
async function install(): Promise<void> {
  const want: [string, () => boolean][] = [
    ['docker.io', () => BuildkitTool.available()],
    ['buildah', () => have('buildah')],
    ['podman', () => have('podman')],
    ['skopeo', () => have('skopeo')],
    ['runc', () => have('/usr/sbin/runc')],
    ['docker-registry', () => have('docker-registry')],
    ['busybox-static', () => have('/bin/busybox')],
    ['time', () => have('/usr/bin/time')],
  ];
  const missing = want.filter(([, ok]) => !ok()).map(([p]) => p);
  if (missing.length === 0) { log('--install: every peer is already installed'); return; }
  log(`--install: apt-get install -y ${missing.join(' ')}`);
  await mustRun('apt-get', ['update'], 'apt-get update', { timeoutSeconds: 600 });
  await mustRun('apt-get', ['install', '-y', '--no-install-recommends', ...missing], 'apt-get install', { env: { DEBIAN_FRONTEND: 'noninteractive' }, timeoutSeconds: 1200 });
}

/** Rotates the tool order by run, so no tool always goes first (warm caches, noisy neighbours). */
function rotate<T>(xs: readonly T[], by: number): T[] {
  const k = by % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const startedAt = new Date();
  if (o.install) await install();
  if (!have('/bin/busybox')) throw new BenchError('IO', '/bin/busybox not found', 'install busybox-static (npm run bench -- --install)');
  if (!have('docker-registry')) throw new BenchError('IO', 'docker-registry not found', 'install docker-registry (npm run bench -- --install)');
  if (!have('/usr/bin/time')) log('GNU time (/usr/bin/time) is missing: peak RSS will not be reported (install the "time" package)');

  const root = repoRoot();
  const here = dirname(fileURLToPath(import.meta.url));
  // What users run: the `tsbuild` executable (package.json "bin"), i.e. the launcher and the bundled CLI.
  const cli = join(root, 'bin', 'tsbuild');
  if (!existsSync(join(here, '..', 'bin', 'tsbuild.mjs'))) throw new BenchError('IO', 'the bundled tsbuild CLI (dist/bin/tsbuild.mjs) is missing', 'run `npm run build` first');
  const work = await mkdtemp(join(process.env['BENCH_DIR'] ?? tmpdir(), 'tsbuild-bench-'));
  log(`work dir ${work}; ${o.quick ? 'quick' : 'full'} mode, ${o.runs} run(s), workloads ${o.only.join(',')}`);

  const cleanups: (() => Promise<void>)[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      for (const f of cleanups.reverse()) {
        try { await f(); } catch (e) { log(`cleanup: ${String(e)}`); }
      }
      if (!o.keep) await rm(work, { recursive: true, force: true });
    })();
    return cleaning;
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    log(`${sig}: stopping everything the benchmark started`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const results = new Results(log);
  const workloads: WorkloadInfo[] = [];
  let fixed: FixedCost[] = [];
  const present: Record<Peer, boolean> = { buildkit: BuildkitTool.available(), buildah: BuildahTool.available(), skopeo: Skopeo.available() };
  for (const p of PEERS) if (!o.peers.includes(p) && present[p]) { present[p] = false; log(`${p} left out (--peers)`); }
  try {
    if (o.rootless) {
      const baseTar = join(work, 'busybox.tar');
      await mustRun('sh', [join(root, 'fixtures', 'scripts', 'make-busybox-rootfs.sh'), join(work, 'busybox-rootfs'), '-o', baseTar], 'making the busybox base image');
      process.stdout.write(await rootlessBench({ quick: o.quick, runs: o.runs, cli, baseTar, baseImage: BASE_IMAGE, work, outDir: join(root, 'bench', 'results'), log }));
      return 0;
    }
    // The fixed cost of a command beside `node -e 0` (bench/startup.ts), before any daemon of the peers runs.
    log(`fixed cost of a command: ${o.quick ? 10 : 30} runs of each row`);
    fixed = await fixedCosts({ cli, runs: o.quick ? 10 : 30, dir: work });
    // The base image, made locally from busybox-static, and imported into every tool.
    const baseTar = join(work, 'busybox.tar');
    await mustRun('sh', [join(root, 'fixtures', 'scripts', 'make-busybox-rootfs.sh'), join(work, 'busybox-rootfs'), '-o', baseTar], 'making the busybox base image');

    const registry: RegistryHandle = await startRegistry();
    cleanups.push(() => registry.stop());
    log(`registry on ${registry.host}`);

    const tsb = new TsbuildTool(cli, join(work, 'tsbuild'), baseTar, BASE_IMAGE);
    cleanups.push(() => tsb.stop());
    await tsb.warmUp(registry.host);
    log('tsbuild warmed up (code caches and startup snapshots of build, push and pull made)');
    const tools: BuildTool[] = [tsb];
    if (present.buildkit) {
      try {
        const bk = await BuildkitTool.start(join(work, 'buildkit'), baseTar, BASE_IMAGE);
        cleanups.push(() => bk.stop());
        tools.push(bk);
        log('dockerd (BuildKit) started');
      } catch (e) { present.buildkit = false; log(`BuildKit unavailable: ${String(e)}`); }
    } else log('BuildKit missing (docker.io not installed; --install installs it)');
    if (present.buildah) {
      try {
        const bh = await BuildahTool.start(join(work, 'buildah'), baseTar, BASE_IMAGE);
        cleanups.push(() => bh.stop());
        tools.push(bh);
        log('buildah storage ready');
      } catch (e) { present.buildah = false; log(`buildah unavailable: ${String(e)}`); }
    } else log('buildah missing (--install installs it)');
    if (!present.skopeo) log('skopeo missing (--install installs it)');

    for (const name of o.only) {
      const src = join(work, 'src', name);
      const w = await generateWorkload(name, src, { quick: o.quick, baseImage: BASE_IMAGE });
      workloads.push(w);
      log(`${name}: ${w.description}`);
      const tag = `bench-${name.toLowerCase()}:latest`;
      if (TRANSFER_ONLY.includes(name)) {
        // Built once by tsbuild (untimed), then pushed and pulled side by side with skopeo.
        await tsb.freshState();
        const b = await tsb.cold(src, tag);
        if (!b.ok) log(`${name}: tsbuild build failed: ${b.error ?? ''}`);
        await pushPull(o, name, tag, tsb, registry, work, results, present.skopeo, () => b.ok);
        await mustRun('rm', ['-rf', src], 'removing the context');
        continue;
      }
      // Each tool gets its own copy of the context, edited in lockstep, so every tool sees the same bytes.
      const ctx = new Map<BuildTool, string>();
      for (const t of tools) {
        const d = join(work, 'ctx', t.name, name);
        await mkdir(dirname(d), { recursive: true });
        await mustRun('cp', ['-a', src, d], 'copying the context');
        ctx.set(t, d);
      }
      const runs = runsFor(o, name);
      for (let run = 0; run < runs; run++) {
        const order = rotate(tools, run);
        for (const t of order) await t.freshState();
        for (const t of order) results.add(name, 'cold', t.name, await t.cold(ctx.get(t)!, tag));
        for (const t of order) results.add(name, 'nochange', t.name, await t.rebuild(ctx.get(t)!, tag));
        for (const t of order) {
          await applyEdit(ctx.get(t)!, w, run);
          results.add(name, 'edit', t.name, await t.rebuild(ctx.get(t)!, tag));
        }
      }
      await pushPull(o, name, tag, tsb, registry, work, results, present.skopeo, () => results.get(name, 'edit', 'tsbuild')?.runs.at(-1)?.ok === true);
      if (results.get(name, 'edit', 'tsbuild')?.runs.at(-1)?.ok === true) {
        await cacheRows({
          workload: name, tag, tsb, buildkit: tools.find((t) => t.name === 'buildkit'), context: (t) => ctx.get(t)!,
          registry: registry.host, runs: Math.min(runs, 2), add: (phase, tool, m) => results.add(name, phase, tool, m),
        });
      }
      // No per-workload forget(): pruning dockerd/buildah after W2 takes a minute or more; every store is
      // removed at the end, and the images of one full run fit easily on disk (a few GB).
      for (const t of tools) await mustRun('rm', ['-rf', ctx.get(t)!], 'removing a context copy');
      await mustRun('rm', ['-rf', src], 'removing the context');
    }
  } finally {
    await cleanup();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }

  const seconds = (Date.now() - started) / 1000;
  const rep = report({ quick: o.quick, runsOf: (n) => runsFor(o, n), startedAt, seconds, fixed, options: o }, workloads, results, present);
  const outDir = join(root, 'bench', 'results');
  await mkdir(outDir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  await writeFile(join(outDir, `bench-${stamp}.md`), rep.markdown);
  await writeFile(join(outDir, `bench-${stamp}.json`), JSON.stringify(rep.json, null, 2) + '\n');
  await writeFile(join(outDir, 'latest.md'), rep.markdown);
  await writeFile(join(outDir, 'latest.json'), JSON.stringify(rep.json, null, 2) + '\n');
  process.stdout.write(rep.markdown);
  log(`results: ${join(outDir, `bench-${stamp}.md`)} (and .json)`);
  const anyTsFailed = [...results.cells.values()].some((c) => c.tool === 'tsbuild' && c.runs.some((r) => !r.ok));
  return anyTsFailed ? 1 : 0;
}

/**
 * Push and pull of the workload's image, fresh repositories every run so every blob really moves:
 * `tsbuild push` vs `skopeo copy oci:STORE:REF docker://…` (the same blobs, read from tsbuild's store, which
 * is an OCI layout), and `tsbuild pull` into a new store vs `skopeo copy docker://… oci:NEWDIR:latest`.
 */
async function pushPull(o: Options, name: WorkloadName, tag: string, tsb: TsbuildTool, registry: RegistryHandle, work: string,
  results: Results, skopeo: boolean, built: () => boolean): Promise<void> {
  if (!built()) { log(`${name}: no tsbuild image, push/pull skipped`); return; }
  const repo = name.toLowerCase();
  const localRef = `docker.io/library/${tag}`;
  for (let run = 0; run < runsFor(o, name); run++) {
    const sides = rotate(skopeo ? ['tsbuild', 'skopeo'] : ['tsbuild'], run);
    const dest = (side: string): string => `${registry.host}/${side}-${repo}-${run}:latest`;
    for (const side of sides) {
      await settleWriteback();
      const m = side === 'tsbuild'
        ? await measure(tsb.cli, tsb.argv(tsb.root, 'push', tag, dest(side)))
        : await Skopeo.push(tsb.root, localRef, dest(side));
      results.add(name, 'push', side, m);
    }
    for (const side of sides) {
      const into = join(work, 'pull', `${side}-${run}`);
      await mkdir(into, { recursive: true });
      await settleWriteback();
      const m = side === 'tsbuild'
        ? await measure(tsb.cli, tsb.argv(into, 'pull', dest(side)))
        : await Skopeo.pull(dest(side), into);
      results.add(name, 'pull', side, m);
      await rm(into, { recursive: true, force: true });
    }
  }
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => {
  const hint = e instanceof BenchError && e.hint ? `\nhint: ${e.hint}` : '';
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}${hint}\n`);
  process.exitCode = 2;
});

