/**
 * Fuzzes a target in worker threads: each worker has a 2 GiB heap cap, and a watchdog in this thread
 * reports a hang (with the input being processed, read from a shared buffer) when no input finishes in
 * time, or a crash or out-of-memory when the worker dies. `jobs` workers split the runs (worker i uses seed + i).
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { writeFinding } from './findings.js';
import { describeError, HEARTBEAT_BYTES, MB, progressView, show, type Finding, type FuzzOptions, type FuzzTarget, type TargetReport } from './harness.js';
import { fuzzInProcess } from './worker.js';

/**
 * Fuzzes one target and returns its report. With `isolate` (default) the work runs in a worker thread
 * with a 2 GiB heap cap, and a watchdog reports a hang (with the input being processed) when no input
 * finishes within `hangMs`.
 */
export async function fuzzTarget(target: FuzzTarget, o: FuzzOptions = {}): Promise<TargetReport> {
  const seed = o.seed ?? (Date.now() % 2 ** 31);
  if (o.isolate === false) return fuzzInProcess(target, { ...o, seed });
  const jobs = Math.max(1, Math.min(o.jobs ?? 1, o.runs ?? 100_000));
  if (jobs === 1) return fuzzWorker(target, { ...o, seed });
  // Split the runs over `jobs` workers (worker i uses seed + i), then merge their reports.
  const runs = o.runs ?? 100_000;
  const t0 = performance.now();
  const parts = await Promise.all(Array.from({ length: jobs }, (_, i) =>
    fuzzWorker(target, { ...o, seed: seed + i, runs: Math.floor(runs / jobs) + (i < runs % jobs ? 1 : 0) })));
  const outcomes: Record<string, number> = {};
  for (const p of parts) for (const [k, v] of Object.entries(p.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
  const slowest = parts.reduce((a, b) => (b.maxInputMs > a.maxInputMs ? b : a));
  return {
    target, seed, jobs, inputs: parts.reduce((n, p) => n + p.inputs, 0), wallMs: performance.now() - t0,
    maxInputMs: Math.max(...parts.map((p) => p.maxInputMs)), slowestInput: slowest.slowestInput,
    peakRssMb: Math.max(...parts.map((p) => p.peakRssMb)), peakHeapMb: Math.max(...parts.map((p) => p.peakHeapMb)),
    outcomes, findings: parts.flatMap((p) => p.findings), retimed: parts.reduce((n, p) => n + (p.retimed ?? 0), 0),
  };
}

/** Fuzzes one target in one worker thread under the watchdog; a hang, crash or OOM becomes the report's finding. */
async function fuzzWorker(target: FuzzTarget, o: FuzzOptions & { seed: number }): Promise<TargetReport> {
  const seed = o.seed;
  const hangMs = o.hangMs ?? 15_000;
  const shared = new SharedArrayBuffer(8 + HEARTBEAT_BYTES);
  const progress = progressView(shared);
  const t0 = performance.now();
  // Under tsx (`npx tsx test/fuzz/run.ts`) the worker registers the TypeScript loader before loading worker.ts.
  const underTsx = import.meta.url.endsWith('.ts');
  const workerModule = new URL(underTsx ? './worker.ts' : './worker.js', import.meta.url).href;
  const entry = underTsx
    ? new URL(`data:text/javascript,import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => m.register()).then(() => import(${JSON.stringify(workerModule)}))`)
    : new URL(workerModule);
  const w = new Worker(entry, {
    workerData: { target, o: { ...o, seed }, shared },
    resourceLimits: { maxOldGenerationSizeMb: 2048 },
  });
  let peakRss = 0;
  return new Promise<TargetReport>((resolve) => {
    let last = -1;
    let lastChange = performance.now();
    let done = false;
    const finish = (r: TargetReport): void => {
      if (done) return;
      done = true;
      clearInterval(timer);
      resolve({ ...r, peakRssMb: Math.max(r.peakRssMb, peakRss / MB, process.resourceUsage().maxRSS / 1024) });
    };
    const failed = (kind: Finding['kind'], message: string): void => {
      const input = Buffer.from(progress.input.subarray(0, Atomics.load(progress.inputLen, 0)));
      const file = writeFinding(o, target, input);
      finish({
        target, seed, inputs: Atomics.load(progress.counter, 0), wallMs: performance.now() - t0, maxInputMs: NaN, slowestInput: '',
        peakRssMb: 0, peakHeapMb: NaN, outcomes: {},
        findings: [{ kind, message: `${message} (seed ${seed})`, input: show(target === 'tar' ? input : input.toString('utf8')), ...(file !== undefined ? { file } : {}) }],
      });
      void w.terminate();
    };
    let lastPrint = performance.now();
    const timer = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      const c = Atomics.load(progress.counter, 0);
      if (o.progress === true && performance.now() - lastPrint > 30_000) {
        lastPrint = performance.now();
        process.stderr.write(`fuzz: ${target} (seed ${seed}): ${c.toLocaleString('en-US')}/${(o.runs ?? 100_000).toLocaleString('en-US')} inputs\n`);
      }
      if (c !== last) { last = c; lastChange = performance.now(); return; }
      if (performance.now() - lastChange > hangMs) failed('hang', `no input finished for ${hangMs} ms after input #${c + 1} started`);
    }, 250);
    w.on('message', (r: TargetReport) => finish(r));
    w.on('error', (e: Error & { code?: string }) => failed(e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'memory' : 'crash', `worker died: ${describeError(e)}`));
    w.on('exit', (code) => { if (!done) failed('crash', `worker exited with code ${code}`); });
  });
}
