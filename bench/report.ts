/**
 * The benchmark's results (bench/run.ts): cells of measured runs, the Markdown and JSON report, and the targets
 * each run is checked against (issue 8's, and issue 22's tighter ones), so one run's table says which hold.
 */
import { cpus, totalmem } from 'node:os';
import type { Measured } from './peers.js';
import { cacheTable, type CachePhase } from './rows-cache.js';
import { fixedCostTable, quantile, type FixedCost } from './startup.js';
import { TRANSFER_ONLY, type WorkloadInfo, type WorkloadName } from './workloads.js';

export const PEERS = ['buildkit', 'buildah', 'skopeo'] as const;
export type Peer = (typeof PEERS)[number];
export type Phase = 'cold' | 'nochange' | 'edit' | 'push' | 'pull' | CachePhase;
export const BUILD_PHASES: readonly Phase[] = ['cold', 'nochange', 'edit'];

/** One cell of the results: a tool's runs of one phase of one workload. */
export interface Cell {
  readonly workload: WorkloadName;
  readonly phase: Phase;
  readonly tool: string;
  readonly runs: Measured[];
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
export class Results {
  readonly cells = new Map<string, Cell>();
  constructor(private readonly log: (msg: string) => void) {}
  add(workload: WorkloadName, phase: Phase, tool: string, m: Measured): void {
    const key = `${workload}/${phase}/${tool}`;
    let c = this.cells.get(key);
    if (!c) { c = { workload, phase, tool, runs: [] }; this.cells.set(key, c); }
    c.runs.push(m);
    const what = m.ok ? `${m.seconds.toFixed(2)} s${m.rssMb !== undefined && tool === 'tsbuild' ? `, ${m.rssMb.toFixed(0)} MB RSS` : ''}` : `FAILED\n${m.error ?? ''}`;
    this.log(`${workload} ${phase.padEnd(8)} ${tool.padEnd(8)} ${what}`);
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

export interface Report {
  markdown: string;
  json: unknown;
}

/** What the report says of the run itself. */
export interface RunInfo {
  readonly quick: boolean;
  readonly runsOf: (name: WorkloadName) => number;
  readonly startedAt: Date;
  readonly seconds: number;
  /** The fixed cost of a command (bench/startup.ts), measured before the workloads. */
  readonly fixed: readonly FixedCost[];
  /** The command line's options, as given (kept in the JSON). */
  readonly options: unknown;
}

export function report(o: RunInfo, workloads: readonly WorkloadInfo[], results: Results, present: Readonly<Record<Peer, boolean>>): Report {
  const { startedAt, seconds } = o;
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
  const small = names.filter((w) => !TRANSFER_ONLY.includes(w));
  check('no-change rebuild ≤ 0.8× BuildKit', names.map((w) => r(w, 'nochange', 'buildkit')), 0.8);
  check('edit rebuild ≤ 0.8× BuildKit', names.map((w) => r(w, 'edit', 'buildkit')), 0.8);
  check('cold build ≤ 1.0× BuildKit', names.map((w) => r(w, 'cold', 'buildkit')), 1.0);
  check('cold build ≤ 0.7× buildah', names.map((w) => r(w, 'cold', 'buildah')), 0.7);
  // Issue 22's targets: a big layer's cold build, edit rebuilds, and the fixed cost of a command.
  if (names.includes('W3')) check('issue 22: cold build of W3 (one big RUN layer) ≤ 0.8× BuildKit', [r('W3', 'cold', 'buildkit')], 0.8);
  const editSmall = names.filter((w) => ['W1', 'W4', 'W5'].includes(w));
  if (editSmall.length) check(`issue 22: edit rebuild of ${editSmall.join(', ')} ≤ 0.5× BuildKit`, editSmall.map((w) => r(w, 'edit', 'buildkit')), 0.5);
  if (names.includes('W2')) check('issue 22: edit rebuild of W2 (one file of the COPY) ≤ 0.3× BuildKit', [r('W2', 'edit', 'buildkit')], 0.3);
  const node = o.fixed.find((f) => f.label === 'node -e 0');
  const commands = o.fixed.filter((f) => f !== node && f.label.startsWith('tsbuild') && !f.failed && f.cpuSeconds.length > 0);
  if (node && node.cpuSeconds.length > 0 && commands.length) {
    check(`issue 22: fixed cost of a command (${commands.map((f) => f.label).join('; ')}), CPU over node -e 0 ≤ 15 ms`,
      commands.map((f) => (quantile(f.cpuSeconds, 0.5) - quantile(node.cpuSeconds, 0.5)) * 1000), 15, ' ms');
  }
  // The transfer target is the 1 GiB multi-layer image (T1); issue 22 also asks the build workloads' small
  // images to move at most as slowly as skopeo (mostly process start-up: Node's against a Go binary's).
  const transfer = names.filter((w) => TRANSFER_ONLY.includes(w));
  check('push of the 1 GiB image (T1) ≤ 0.8× skopeo', transfer.map((w) => r(w, 'push', 'skopeo')), 0.8);
  check('pull of the 1 GiB image (T1) ≤ 0.8× skopeo', transfer.map((w) => r(w, 'pull', 'skopeo')), 0.8);
  check('push of the small build images ≤ 1.0× skopeo', small.map((w) => r(w, 'push', 'skopeo')), 1.0);
  check('pull of the small build images ≤ 1.0× skopeo', small.map((w) => r(w, 'pull', 'skopeo')), 1.0);
  const rssOf = (w: WorkloadName, phases: Phase[]): (number | undefined)[] =>
    phases.map((p) => { const v = value(results.get(w, p, 'tsbuild'), true); return v.kind === 'ok' ? v.rssMb : undefined; });
  const w2 = workloads.find((w) => w.name === 'W2');
  if (w2) check(`peak RSS, no-change rebuild of W2 (${w2.files} files) < 150 MB`, rssOf('W2', ['nochange']), 150, ' MB');
  if (names.includes('W3')) check('peak RSS of the build path on W3 < 200 MB', rssOf('W3', BUILD_PHASES as Phase[]), 200, ' MB');

  for (const phase of ['after-nocache', 'cache-from'] as const) {
    const cells = names.map((w) => results.get(w, phase, 'tsbuild')).filter((c): c is Cell => c !== undefined);
    if (cells.length) targets.push(`- ${phase}: every step hit in ${cells.filter((c) => c.runs.every((r) => r.ok)).length} of ${cells.length} workloads — ${cells.every((c) => c.runs.every((r) => r.ok)) ? 'met' : 'NOT met'}`);
  }
  const machine = `${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}`;
  const md = [
    `# tsbuild benchmark ${startedAt.toISOString()}`,
    '',
    `Mode: ${o.quick ? 'quick' : 'full'}, ${workloads.map((w) => `${w.name}×${o.runsOf(w.name)}`).join(' ')} runs per cell, medians; ratio = tsbuild / peer (below 1 = tsbuild faster). ${machine}. Took ${seconds.toFixed(0)} s.`,
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
    `Fixed cost of a command (${o.fixed[0]?.seconds.length ?? 0} runs each, interleaved; \`node dist/bench/startup.js\` measures the same):`,
    '',
    fixedCostTable(o.fixed),
    '',
  ].join('\n');
  return {
    markdown: md,
    json: { startedAt: startedAt.toISOString(), seconds, options: o.options, machine, fixedCosts: o.fixed, peers: present, workloads, rows: jsonRows, targets, cells: [...results.cells.values()] },
  };
}
