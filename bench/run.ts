/**
 * `npm run bench`: tsbuild side by side with BuildKit (a private dockerd), `buildah bud --layers` and skopeo,
 * on the same deterministic workloads, in one run, tools interleaved run by run. Prints medians and the
 * ratio tsbuild/peer for every cell and writes JSON and Markdown to bench/results/.
 *
 *   npm run bench -- [--quick] [--install] [--only W1,W3] [--peers buildkit,skopeo] [--runs N] [--keep]
 *
 * See bench/README.md for what each row measures.
 */
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchError } from './errors.js';
import { BuildahTool, BuildkitTool, Skopeo, TsbuildTool, have, measure, mustRun, type BuildTool, type Measured } from './peers.js';
import { cacheRows, cacheTable, type CachePhase } from './rows-cache.js';
import { TRANSFER_ONLY, WORKLOAD_NAMES, applyEdit, generateWorkload, type WorkloadInfo, type WorkloadName } from './workloads.js';
import { startRegistry, type RegistryHandle } from '../test/helpers/registry.js';
import { fixedCosts, fixedCostTable, type FixedCost } from './startup.js';
import { rootlessBench } from './rows-rootless.js';

const BASE_IMAGE = 'busybox:latest';
const PEERS = ['buildkit', 'buildah', 'skopeo'] as const;
type Peer = (typeof PEERS)[number];
type Phase = 'cold' | 'nochange' | 'edit' | 'push' | 'pull' | CachePhase;
const BUILD_PHASES: readonly Phase[] = ['cold', 'nochange', 'edit'];

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

/** One cell of the results: a tool's runs of one phase of one workload. */
interface Cell {
  readonly workload: WorkloadName;
  readonly phase: Phase;
  readonly tool: string;
  readonly runs: Measured[];
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

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Rotates the tool order by run, so no tool always goes first (warm caches, noisy neighbours). */
function rotate<T>(xs: readonly T[], by: number): T[] {
  const k = by % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

class Results {
  readonly cells = new Map<string, Cell>();
  add(workload: WorkloadName, phase: Phase, tool: string, m: Measured): void {
    const key = `${workload}/${phase}/${tool}`;
    let c = this.cells.get(key);
    if (!c) { c = { workload, phase, tool, runs: [] }; this.cells.set(key, c); }
    c.runs.push(m);
    const what = m.ok ? `${m.seconds.toFixed(2)} s${m.rssMb !== undefined && tool === 'tsbuild' ? `, ${m.rssMb.toFixed(0)} MB RSS` : ''}` : `FAILED\n${m.error ?? ''}`;
    log(`${workload} ${phase.padEnd(8)} ${tool.padEnd(8)} ${what}`);
  }
  get(workload: WorkloadName, phase: Phase, tool: string): Cell | undefined {
    return this.cells.get(`${workload}/${phase}/${tool}`);
  }
}

type CellValue = { kind: 'missing' } | { kind: 'failed'; error: string } | { kind: 'ok'; median: number; rssMb: number | undefined } | { kind: 'none' };

function value(c: Cell | undefined, present: boolean): CellValue {
  if (!present) return { kind: 'missing' };
  if (!c || c.runs.length === 0) return { kind: 'none' };
  const bad = c.runs.find((r) => !r.ok);
  if (bad) return { kind: 'failed', error: bad.error ?? '' };
  const rss = c.runs.map((r) => r.rssMb).filter((x): x is number => x !== undefined);
  return { kind: 'ok', median: median(c.runs.map((r) => r.seconds)), rssMb: rss.length ? Math.max(...rss) : undefined };
}

function fmt(v: CellValue): string {
  switch (v.kind) {
    case 'missing': return 'missing';
    case 'failed': return 'FAILED';
    case 'none': return '—';
    case 'ok': return `${v.median.toFixed(2)} s`;
  }
}

function ratio(ts: CellValue, peer: CellValue): string {
  if (ts.kind === 'ok' && peer.kind === 'ok') return `${(ts.median / peer.median).toFixed(2)}×`;
  if (peer.kind === 'missing') return 'missing';
  if (ts.kind === 'failed' || peer.kind === 'failed') return 'FAILED';
  return '—';
}

interface Report {
  markdown: string;
  json: unknown;
}

function report(o: Options, workloads: readonly WorkloadInfo[], results: Results, present: Readonly<Record<Peer, boolean>>, startedAt: Date, seconds: number): Report {
  const peerOf = (phase: Phase): Peer[] => (phase === 'push' || phase === 'pull' ? ['skopeo'] : ['buildkit', 'buildah']);
  const header = '| workload | phase | tsbuild | peak RSS | BuildKit | ts/BuildKit | buildah | ts/buildah | skopeo | ts/skopeo |';
  const rows: string[] = [header, '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|'];
  const jsonRows: unknown[] = [];
  for (const w of workloads) {
    for (const phase of [...BUILD_PHASES, 'push', 'pull'] as Phase[]) {
      const ts = value(results.get(w.name, phase, 'tsbuild'), true);
      if (ts.kind === 'none') continue;
      const cells: string[] = [w.name, phase, fmt(ts), ts.kind === 'ok' && ts.rssMb !== undefined ? `${ts.rssMb.toFixed(0)} MB` : '—'];
      const j: Record<string, unknown> = { workload: w.name, phase, tsbuild: ts };
      for (const p of PEERS) {
        if (!peerOf(phase).includes(p)) { cells.push('', ''); continue; }
        const pv = value(results.get(w.name, phase, p), present[p]);
        cells.push(fmt(pv), ratio(ts, pv));
        j[p] = pv;
        if (ts.kind === 'ok' && pv.kind === 'ok') j[`ratio_${p}`] = ts.median / pv.median;
      }
      rows.push(`| ${cells.join(' | ')} |`);
      jsonRows.push(j);
    }
  }
  const failures: string[] = [];
  for (const c of results.cells.values()) {
    const bad = c.runs.find((r) => !r.ok);
    if (bad) failures.push(`- ${c.workload} ${c.phase} ${c.tool}: ${(bad.error ?? '').split('\n').slice(-3).join(' / ')}`);
  }
  const r = (w: WorkloadName, phase: Phase, peer: Peer): number | undefined => {
    const ts = value(results.get(w, phase, 'tsbuild'), true);
    const pv = value(results.get(w, phase, peer), present[peer]);
    return ts.kind === 'ok' && pv.kind === 'ok' ? ts.median / pv.median : undefined;
  };
  const targets: string[] = [];
  const check = (label: string, vals: (number | undefined)[], limit: number, unit = '×'): void => {
    const got = vals.filter((x): x is number => x !== undefined);
    if (got.length === 0) { targets.push(`- ${label}: not measured`); return; }
    const worst = Math.max(...got);
    targets.push(`- ${label}: worst ${worst.toFixed(2)}${unit} (limit ${limit}${unit}) — ${worst <= limit ? 'met' : 'NOT met'}`);
  };
  const names = workloads.map((w) => w.name);
  check('no-change rebuild ≤ 0.8× BuildKit', names.map((w) => r(w, 'nochange', 'buildkit')), 0.8);
  check('edit rebuild ≤ 0.8× BuildKit', names.map((w) => r(w, 'edit', 'buildkit')), 0.8);
  check('cold build ≤ 1.0× BuildKit', names.map((w) => r(w, 'cold', 'buildkit')), 1.0);
  check('cold build ≤ 0.7× buildah', names.map((w) => r(w, 'cold', 'buildah')), 0.7);
  // The transfer target is the 1 GiB multi-layer image (T1); the build workloads' small images are listed for
  // information (their push/pull is mostly process start-up: Node's against a Go binary's).
  const transfer = names.filter((w) => TRANSFER_ONLY.includes(w));
  check('push of the 1 GiB image (T1) ≤ 0.8× skopeo', transfer.map((w) => r(w, 'push', 'skopeo')), 0.8);
  check('pull of the 1 GiB image (T1) ≤ 0.8× skopeo', transfer.map((w) => r(w, 'pull', 'skopeo')), 0.8);
  check('push of the small build images (information) ≤ 1.0× skopeo', names.filter((w) => !TRANSFER_ONLY.includes(w)).map((w) => r(w, 'push', 'skopeo')), 1.0);
  check('pull of the small build images (information) ≤ 1.0× skopeo', names.filter((w) => !TRANSFER_ONLY.includes(w)).map((w) => r(w, 'pull', 'skopeo')), 1.0);
  const rssOf = (w: WorkloadName, phases: Phase[]): (number | undefined)[] =>
    phases.map((p) => { const v = value(results.get(w, p, 'tsbuild'), true); return v.kind === 'ok' ? v.rssMb : undefined; });
  const w2 = workloads.find((w) => w.name === 'W2');
  if (w2) check(`peak RSS, no-change rebuild of W2 (${w2.files} files) < 150 MB`, rssOf('W2', ['nochange']), 150, ' MB');
  if (workloads.some((w) => w.name === 'W3')) check('peak RSS of the build path on W3 < 300 MB', rssOf('W3', BUILD_PHASES as Phase[]), 300, ' MB');

  for (const phase of ['after-nocache', 'cache-from'] as const) {
    const cells = names.map((w) => results.get(w, phase, 'tsbuild')).filter((c): c is Cell => c !== undefined);
    if (cells.length) targets.push(`- ${phase}: every step hit in ${cells.filter((c) => c.runs.every((r) => r.ok)).length} of ${cells.length} workloads — ${cells.every((c) => c.runs.every((r) => r.ok)) ? 'met' : 'NOT met'}`);
  }
  const machine = `${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}`;
  const md = [
    `# tsbuild benchmark ${startedAt.toISOString()}`,
    '',
    `Mode: ${o.quick ? 'quick' : 'full'}, ${workloads.map((w) => `${w.name}×${runsFor(o, w.name)}`).join(' ')} runs per cell, medians; ratio = tsbuild / peer (below 1 = tsbuild faster). ${machine}. Took ${seconds.toFixed(0)} s.`,
    '',
    ...workloads.map((w) => `- ${w.name}: ${w.description} (${w.files} context files, ${(w.bytes / 2 ** 20).toFixed(1)} MiB)`),
    '',
    ...rows,
    '',
    'Cache rows (bench/rows-cache.ts): `--no-cache` then an ordinary build that must hit every step; a cold build with `--cache-to type=registry,mode=max` from one store, then `--cache-from` into an empty one (must hit every step), beside the cold build:',
    '',
    ...cacheTable(workloads.map((w) => w.name), (w, phase, tool) => {
      const v = value(results.get(w as WorkloadName, phase as Phase, tool), tool === 'tsbuild' || present[tool as Peer]);
      return v.kind === 'ok' ? { ok: true, median: v.median, rssMb: v.rssMb } : v.kind === 'none' ? undefined : { ok: false, why: fmt(v) };
    }),
    '',
    'Targets:',
    ...targets,
    ...(failures.length ? ['', 'Failures:', ...failures] : []),
    '',
  ].join('\n');
  return {
    markdown: md,
    json: { startedAt: startedAt.toISOString(), seconds, options: o, machine, peers: present, workloads, rows: jsonRows, targets, cells: [...results.cells.values()] },
  };
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

  const results = new Results();
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
  const rep = report(o, workloads, results, present, startedAt, seconds);
  rep.markdown += ['', `Fixed cost of a command (${fixed[0]?.seconds.length ?? 0} runs each, interleaved; \`node dist/bench/startup.js\` measures the same):`, '', fixedCostTable(fixed), ''].join('\n');
  (rep.json as Record<string, unknown>)['fixedCosts'] = fixed;
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
      const m = side === 'tsbuild'
        ? await measure(tsb.cli, tsb.argv(tsb.root, 'push', tag, dest(side)))
        : await Skopeo.push(tsb.root, localRef, dest(side));
      results.add(name, 'push', side, m);
    }
    for (const side of sides) {
      const into = join(work, 'pull', `${side}-${run}`);
      await mkdir(into, { recursive: true });
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

