/**
 * `node dist/bench/move.js [--cli PATH]... [--runs N] [--only W1,T1] [--quick] [--ops push,pull] [--hold S]`: the push and pull rows of
 * `npm run bench` (bench/run.ts pushPull), with several tsbuild builds beside skopeo, interleaved, for A/B work
 * on the registry path (issue 22 item 5).
 *
 * The same as the bench compares: `tsbuild push NAME REGISTRY/REPO` against `skopeo copy oci:STORE:REF
 * docker://REGISTRY/REPO` (the same blobs, from tsbuild's store, an OCI layout; skopeo's blob-info cache
 * removed first so it uploads instead of mounting), fresh repositories each time; `tsbuild pull` into a new
 * store against `skopeo copy docker://… oci:NEWDIR:latest`, each side pulling what it pushed. Each cell: wall, and user+sys CPU of the process tree
 * (/usr/bin/time), median over the runs; the order of the sides rotates every run. Each build is warmed up first
 * (TsbuildTool.warmUp: its code caches and startup snapshots exist before the first timed run).
 * `--ops pull` times the pulls only (the image pushed once, untimed, by the first build; every side pulls that);
 * `--hold S` then keeps the registry up S seconds after each workload's runs, printing the pull command, for
 * profiling a pull by hand.
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startRegistry } from '../test/helpers/registry.js';
import { TsbuildTool, mustRun, settleWriteback } from './peers.js';
import { generateWorkload, type WorkloadName } from './workloads.js';

const TIME = '/usr/bin/time';
const SKOPEO_CACHES = [
  '/var/lib/containers/cache/blob-info-cache-v1.boltdb',
  join(process.env['XDG_DATA_HOME'] ?? join(homedir(), '.local', 'share'), 'containers', 'cache', 'blob-info-cache-v1.boltdb'),
];

interface Sample { wall: number; cpu: number }

function arg(name: string, all: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < all.length; i++) if (all[i] === name && all[i + 1] !== undefined) out.push(all[++i]!);
  return out;
}

/** Runs a command under GNU time (after `sync`: settleWriteback); rejects on a non-zero exit. */
async function timed(cmd: string, args: readonly string[]): Promise<Sample> {
  await settleWriteback();
  const out = join(tmpdir(), `.move-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  return new Promise((res, rej) => {
    const child = spawn(TIME, ['-f', '%e %U %S', '-o', out, cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.once('close', (code) => {
      void readFile(out, 'utf8').then((t) => {
        void rm(out, { force: true });
        if (code !== 0) { rej(new Error(`${cmd} ${args.join(' ')}: exit ${code}\n${err}`)); return; }
        const [e, u, s] = t.trim().split('\n').at(-1)!.split(' ').map(Number);
        res({ wall: e!, cpu: u! + s! });
      }, rej);
    });
  });
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const clis = arg('--cli', argv).map((c) => resolve(c));
  if (clis.length === 0) clis.push(resolve('bin/tsbuild'));
  const runs = Number(arg('--runs', argv)[0] ?? 5);
  const only = (arg('--only', argv)[0] ?? 'W1,T1').split(',') as WorkloadName[];
  const quick = argv.includes('--quick');
  const ops = (arg('--ops', argv)[0] ?? 'push,pull').split(',');
  const hold = Number(arg('--hold', argv)[0] ?? 0);
  const work = await mkdtemp(join(process.env['BENCH_DIR'] ?? tmpdir(), 'tsbuild-move-'));
  const registry = await startRegistry();
  const tsb = new TsbuildTool(clis[0]!, join(work, 'tsbuild'), join(work, 'busybox.tar'), 'busybox:latest');
  try {
    await mustRun('sh', [resolve('fixtures/scripts/make-busybox-rootfs.sh'), join(work, 'busybox-rootfs'), '-o', join(work, 'busybox.tar')], 'busybox base');
    await tsb.freshState();
    // Each build's code caches and startup snapshots made before the first timed run (TsbuildTool.warmUp).
    for (const [i, cli] of clis.entries()) {
      const w = new TsbuildTool(cli, join(work, `warm-${i}`), join(work, 'busybox.tar'), 'busybox:latest');
      await w.warmUp(registry.host);
      await w.stop();
    }
    const sides = [...clis.map((_, i) => `ts${i}`), 'skopeo'];
    const cells = new Map<string, Sample[]>();
    const add = (k: string, s: Sample): void => { cells.set(k, [...(cells.get(k) ?? []), s]); };
    for (const name of only) {
      const src = join(work, 'src', name);
      await generateWorkload(name, src, { quick, baseImage: 'busybox:latest' });
      const tag = `bench-${name.toLowerCase()}:latest`;
      const b = await tsb.cold(src, tag);
      if (!b.ok) throw new Error(`build of ${name}: ${b.error ?? ''}`);
      for (let run = 0; run < runs; run++) {
        const order = sides.map((_, i) => sides[(i + run) % sides.length]!);
        const pushed = (side: string): string => `${registry.host}/${side}-${name.toLowerCase()}-${run}:latest`;
        const dest = ops.includes('push') ? pushed : (): string => `${registry.host}/once-${name.toLowerCase()}:latest`;
        if (!ops.includes('push') && run === 0) await mustRun(clis[0]!, tsb.argv(tsb.root, 'push', tag, dest('')), 'push (untimed)');
        for (const side of ops.includes('push') ? order : []) {
          let s: Sample;
          if (side === 'skopeo') {
            for (const f of SKOPEO_CACHES) rmSync(f, { force: true });
            s = await timed('skopeo', ['--insecure-policy', 'copy', '-q', '--dest-tls-verify=false', `oci:${tsb.root}:docker.io/library/${tag}`, `docker://${dest(side)}`]);
          } else {
            s = await timed(clis[Number(side.slice(2))]!, tsb.argv(tsb.root, 'push', tag, dest(side)));
          }
          add(`${name} push ${side}`, s);
        }
        for (const side of order) {
          const into = join(work, 'pull', `${side}-${run}`);
          await mkdir(into, { recursive: true });
          const s = side === 'skopeo'
            ? await timed('skopeo', ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${dest(side)}`, `oci:${into}:latest`])
            : await timed(clis[Number(side.slice(2))]!, tsb.argv(into, 'pull', dest(side)));
          add(`${name} pull ${side}`, s);
          await rm(into, { recursive: true, force: true });
        }
      }
      await rm(src, { recursive: true, force: true });
      if (hold > 0) {
        const ref = ops.includes('push') ? `${registry.host}/ts0-${name.toLowerCase()}-0:latest` : `${registry.host}/once-${name.toLowerCase()}:latest`;
        process.stdout.write(`holding ${hold} s: ${clis[0]} ${tsb.argv(join(work, 'pull', 'by-hand'), 'pull', ref).join(' ')}\n`);
        await new Promise((r) => setTimeout(r, hold * 1000));
      }
      for (const op of ops) {
        const sk = cells.get(`${name} ${op} skopeo`)!;
        const skW = median(sk.map((s) => s.wall)); const skC = median(sk.map((s) => s.cpu));
        for (const side of sides) {
          const c = cells.get(`${name} ${op} ${side}`)!;
          const w = median(c.map((s) => s.wall)); const cpu = median(c.map((s) => s.cpu));
          const label = side === 'skopeo' ? 'skopeo' : clis[Number(side.slice(2))]!;
          process.stdout.write(`${name} ${op} ${label.padEnd(40)} wall ${w.toFixed(3)} s (${(w / skW).toFixed(2)}×)  cpu ${cpu.toFixed(3)} s (${(cpu / skC).toFixed(2)}×)  walls ${c.map((s) => s.wall.toFixed(2)).join(' ')}\n`);
        }
      }
    }
  } finally {
    await registry.stop();
    await tsb.stop();
    if (existsSync(work)) await rm(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => { process.stderr.write(`move: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`); process.exitCode = 1; });
