/**
 * The part of a big RUN's layer that is left after its container exits (layer-store/README.md, "rebuild speed"):
 * W3's RUN is replayed on the host (a shell writing 128 files of the same 2 MiB random seed and 2 MiB of `yes`
 * text into an upper dir) while a SegmentSpeculator watches the dir, as builder/execute/speculate.ts does; when
 * the shell exits, the clock starts and the layer is packed into a store the way commitUpper does it
 * (diffToLayerDeferred, putBlob with its fsync, the speculated segments as the reuse source).
 *
 *   npm run build && node dist/bench/pack-critical.js [--runs N] [--mb 512] [--lib A.js,B.js]
 *
 * `--interval A,B`: the speculator's least time between walks, each value a variant of each build.
 * `--lib`: layer-store builds to compare (default this one's dist/layer-store/index.js); runs alternate between
 * them (A B A B ...), so they share the machine's load. Printed per run: wall time from the writer's exit to the
 * stored blob, CPU seconds of this process (its thread pool included) over that time, segments speculated, and
 * the blob digest; each run's blob is checked against a pack of the same tree without speculation (untimed; `--no-check`
 * skips it). `--settle MS` waits that long after the writer's exit before the clock starts (the speculator
 * catches up: the pack with every segment speculated, which varies less with the load). `--prof`: the main thread's profile of the timed part, self time per function.
 */
import { execFileSync, spawn } from 'node:child_process';
import { Session } from 'node:inspector/promises';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { randomBytesSeeded } from './workloads.js';

const MB = 1 << 20;

// As the CLI (cli/bin.ts) runs: without it V8's incremental marking adds ~0.6 s of full GCs to this pack.
setFlagsFromString('--no-incremental-marking');

interface Lib {
  LayerStore: { open(root: string): Promise<{ putBlob(body: unknown, want?: object, o?: object): Promise<unknown> }> };
  SegmentSpeculator: { start(dir: string, o: { file: string; level: number; intervalMs?: number }): { finish(): Promise<{ reuse: unknown; segments: number; close(): Promise<void> } | undefined>; close(): Promise<void> } };
  diffToLayerDeferred(dir: string, o: object, maxBytes: number): Promise<{ diffId: string; compress(): Promise<{ digest: string; reused: number; compressedSegments: number }> }>;
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

/** Runs W3's RUN (its shell loop) on the host, writing into `upper/data`. */
function writer(upper: string, seed: string, chunks: number): Promise<void> {
  const script = `mkdir ${upper}/data && i=0; while [ $i -lt ${chunks} ]; do { cat ${seed}; yes "row $i of the bench data set, lorem ipsum dolor" | head -c 2097152; } > ${upper}/data/chunk$i; i=$((i+1)); done`;
  return new Promise((res, rej) => {
    const p = spawn('sh', ['-c', script], { stdio: 'inherit' });
    p.on('error', rej);
    p.on('close', (code) => (code === 0 ? res() : rej(new Error(`writer exited ${code}`))));
  });
}

async function one(lib: Lib, base: string, seed: string, chunks: number, check: boolean, intervalMs: number | undefined): Promise<{ wall: number; cpu: number; digest: string; spec: number; reused: number }> {
  const dir = mkdtempSync(join(base, 'run-'));
  try {
    const upper = join(dir, 'upper');
    mkdirSync(upper);
    const store = await lib.LayerStore.open(join(dir, 'root'));
    const spec = lib.SegmentSpeculator.start(upper, { file: join(dir, 'speculative-segments'), level: 6, ...(intervalMs !== undefined ? { intervalMs } : {}) });
    await writer(upper, seed, chunks);
    // --settle MS: let the speculator catch up first (a pack with every segment speculated: less noise for A/B).
    await new Promise((r) => setTimeout(r, Number(arg('--settle', '0'))));
    const prof = process.argv.includes('--prof') ? new Session() : undefined;
    if (prof) { prof.connect(); await prof.post('Profiler.enable'); await prof.post('Profiler.start'); }
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const s = await spec.finish();
    let r;
    try {
      const d = await lib.diffToLayerDeferred(upper, { sink: (b: unknown) => store.putBlob(b), xattrs: false, ...(s ? { reuse: s.reuse } : {}) }, 32 * MB);
      const p = await d.compress();
      const c = process.cpuUsage(c0);
      r = { wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6, digest: p.digest, spec: s?.segments ?? 0, reused: p.reused };
      if (prof) { printProfile((await prof.post('Profiler.stop')).profile as Profile); prof.disconnect(); }
    } finally {
      await s?.close();
      await spec.close();
    }
    if (check) {
      // The same tree packed without speculation must give the same blob.
      const plain = await (await lib.diffToLayerDeferred(upper, { sink: (b: unknown) => store.putBlob(b), xattrs: false }, 32 * MB)).compress();
      if (plain.digest !== r.digest) throw new Error(`blob ${r.digest}, without speculation ${plain.digest}`);
    }
    return r;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Profile { nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[]; samples: number[]; timeDeltas: number[] }

/** Prints the main thread's self time per function over the pack (`--prof`), the biggest first. */
function printProfile(p: Profile): void {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const f = byId.get(id)!.callFrame;
    const k = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    self.set(k, (self.get(k) ?? 0) + (p.timeDeltas[i + 1] ?? 0) / 1000);
  });
  let total = 0;
  for (const ms of self.values()) total += ms;
  console.log(`  main thread: ${total.toFixed(0)} ms sampled, ${(self.get('(idle) :0') ?? 0).toFixed(0)} ms idle`);
  for (const [k, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${ms.toFixed(0).padStart(6)} ms  ${k}`);
}

async function main(): Promise<void> {
  const runs = Number(arg('--runs', '3'));
  const mb = Number(arg('--mb', '512'));
  const libs = arg('--lib', new URL('../layer-store/index.js', import.meta.url).pathname).split(',').map((p) => resolve(p));
  const intervals = process.argv.includes('--interval') ? arg('--interval', '').split(',').map(Number) : [undefined];
  const variants = libs.flatMap((p) => intervals.map((ms) => ({ p, ms, name: ms === undefined ? p : `${p} (walks every ${ms} ms)` })));
  const loaded = await Promise.all(variants.map(async (v) => (await import(pathToFileURL(v.p).href)) as Lib));
  const base = mkdtempSync(join(process.env['BENCH_DIR'] ?? tmpdir(), 'tsb-pack-critical-'));
  try {
    const seed = join(base, 'seed.bin');
    writeFileSync(seed, randomBytesSeeded(2 * MB, 3));
    execFileSync('sync');
    const chunks = mb / 4;
    const check = !process.argv.includes('--no-check');
    const rows: { lib: number; wall: number; cpu: number }[] = [];
    for (let r = 0; r < runs; r++) {
      for (let l = 0; l < loaded.length; l++) {
        const x = await one(loaded[l]!, base, seed, chunks, check, variants[l]!.ms);
        rows.push({ lib: l, wall: x.wall, cpu: x.cpu });
        console.log(`run ${r + 1} lib ${l}: ${x.wall.toFixed(2)} s, ${x.cpu.toFixed(2)} CPU s, speculated ${x.spec}, reused ${x.reused}, load ${loadavg()[0]!.toFixed(1)}`);
      }
    }
    const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
    for (let l = 0; l < loaded.length; l++) {
      const mine = rows.filter((r) => r.lib === l);
      console.log(`lib ${l} ${variants[l]!.name}: median ${median(mine.map((r) => r.wall)).toFixed(2)} s wall, ${median(mine.map((r) => r.cpu)).toFixed(2)} CPU s`);
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

await main();
