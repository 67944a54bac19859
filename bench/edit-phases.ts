/**
 * Where an edit rebuild of W2 (one file of a 20,000-file COPY, then the RUN that reads them all) spends its CPU,
 * phase by phase, for every process and thread of the build (issue 22 item 4; the figures of layer-store/README.md,
 * "rebuild speed"):
 *
 *   npm run build && node dist/bench/edit-phases.js [--files N] [--runs N]
 *
 * A fresh store gets the busybox base, a cold build and a no-change build of W2's context (bench/workloads.ts), then
 * each run appends to W2's edit file and rebuilds under `perf record -g` (on-CPU samples at 999 Hz of the whole
 * process tree), running the unbundled CLI (dist/cli/bin.js, so that each JS frame names its module; its module
 * loading is a row of its own, which the bundled CLI mostly does not pay) with `--perf-basic-prof
 * --interpreted-frames-native-stack`. Each sample is put in one phase: a child process by its name (getfattr, runc,
 * and the RUN's own find, xargs, cat, wc), a Node helper thread by what it runs (inflate, deflate, GC, JIT, file
 * system), the main thread by the innermost frame of tsbuild's own code. CPU time, not wall time: the machine is
 * shared, and a wall time under load says little. Without perf only the total (GNU time) is printed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyEdit, generateWorkload } from './workloads.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const cli = join(here, '..', 'cli', 'bin.js');

/** Main-thread phases by the module (and function) of the innermost frame of tsbuild's own code; first match wins. */
const MAIN_RULES: readonly (readonly [string, RegExp])[] = [
  ['context walk and selection', /\/builder\/context\//],
  ['source hashing, stat cache', /\/cache\/(hash-sources|stat-cache)\.js/],
  ['adopting the previous tree', /\/builder\/execute\/adopt-tree\.js/],
  ['pack: walk', /^(walk|visit) .*\/layer-store\/layer\/pack-tar\.js/],
  ['pack: xattrs (getfattr output)', /\/layer-store\/layer\/xattr\.js/],
  ['pack: tar, hashes, segment reuse', /\/layer-store\/layer\/(pack-tar|pack|gzip-segments|segment-files|deflate-runs|tar-format)\.js/],
  ['build checks (context scan)', /\/builder\/execute\/checks\.js/],
  ['RUN: runc driver', /\/runtime-exec\//],
  ['cache records, store writes', /\/(cache|layer-store\/store|layer-store\/core)\//],
  ['other tsbuild JS', /\/dist\//],
];

/** Modules of shared helpers, skipped when looking for the innermost frame that names a phase. */
const UTILITY = /\/layer-store\/(core\/|layer\/fs-names\.js)/;

/** Helper threads by what their stack shows. */
const THREAD_RULES: readonly (readonly [string, RegExp])[] = [
  ['threads: inflate (segments taken from the old blob)', /inflate/],
  ['threads: deflate', /deflate|longest_match/],
  ['threads: GC', /Scaveng|MarkCompact|Sweeper|Marking|Evacuat|Heap/],
  ['threads: JIT', /compiler|Compile|Maglev|Turbofan/],
  ['threads: file system', /__x64_sys|vfs_|ext4|ovl_|uv__fs/],
];

interface Sample { comm: string; pid: number; tid: number; period: number; frames: string[] }

function parsePerfScript(text: string): Sample[] {
  const out: Sample[] = [];
  let cur: Sample | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (cur) out.push(cur);
      cur = undefined;
      continue;
    }
    if (!/^\s/.test(line)) {
      const m = /^(.*?)\s+(\d+)\/(\d+)\s+[\d.]+:\s+(\d+)/.exec(line);
      cur = m ? { comm: m[1]!.trim(), pid: Number(m[2]), tid: Number(m[3]), period: Number(m[4]), frames: [] } : undefined;
      continue;
    }
    const f = line.trim().split(/\s+/).slice(1).join(' ').replace(/\+0x[0-9a-f]+$/, '');
    cur?.frames.push(f);
  }
  if (cur) out.push(cur);
  return out;
}

/** `JS:*name file:line:col` → `name file`. */
function jsFrame(f: string): string | undefined {
  const m = /^JS:[*^~]?(\S*) (\S+?)(:\d+)*$/.exec(f);
  return m ? `${m[1] ?? ''} ${m[2]}` : undefined;
}

function phaseOf(s: Sample, mainPid: number): string {
  if (s.pid !== mainPid) return `child: ${s.comm.replace(/^runc:\[.*\]$/, 'runc')}`;
  if (s.tid !== mainPid) {
    const st = s.frames.join(' ');
    for (const [k, re] of THREAD_RULES) if (re.test(st)) return k;
    return 'threads: other';
  }
  for (const f of s.frames) {
    const js = jsFrame(f);
    // Shared helpers (hashing, names, errors) count for whoever called them.
    if (!js || !js.includes('/dist/') || UTILITY.test(js)) continue;
    for (const [k, re] of MAIN_RULES) if (re.test(js)) return `main: ${k}`;
  }
  if (s.frames.some((f) => /Scaveng|MarkCompact|Heap::/.test(f))) return 'main: GC';
  if (s.frames.some((f) => /node:internal\/modules\/|CompileFunction|compileSourceTextModule/.test(f))) return 'main: loading modules (unbundled here)';
  return 'main: Node itself (start-up, event loop, library code)';
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}\n${r.stderr.toString()}`);
}

async function main(): Promise<void> {
  const arg = (name: string, dflt: number): number => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const files = arg('--files', 20_000);
  const runs = arg('--runs', 3);
  const perf = spawnSync('sh', ['-c', 'command -v perf']).status === 0;
  const work = mkdtempSync(join(tmpdir(), 'tsb-edit-phases-'));
  try {
    const base = join(work, 'busybox.tar');
    run('sh', [join(repo, 'fixtures', 'scripts', 'make-busybox-rootfs.sh'), join(work, 'busybox-rootfs'), '-o', base]);
    const ctx = join(work, 'ctx');
    const w = await generateWorkload('W2', ctx, { quick: false, baseImage: 'busybox:latest', w2Files: files });
    const root = join(work, 'root');
    const tsb = (...a: string[]): string[] => [cli, '--root', root, '--progress', 'quiet', ...a];
    run('node', tsb('import', base, 'busybox:latest'), { SOURCE_DATE_EPOCH: '1700000000' });
    run('node', tsb('build', '-t', 'w2:latest', ctx));
    run('node', tsb('build', '-t', 'w2:latest', ctx));
    const totals = new Map<string, number[]>();
    for (let r = 0; r < runs; r++) {
      await applyEdit(ctx, w, r);
      if (!perf) {
        const t = spawnSync('/usr/bin/time', ['-f', '%U %S', 'node', ...tsb('build', '-t', 'w2:latest', ctx)], { stdio: ['ignore', 'ignore', 'pipe'] });
        const [u, s] = t.stderr.toString().trim().split('\n').at(-1)!.split(' ').map(Number);
        (totals.get('total (GNU time; install perf for phases)') ?? totals.set('total (GNU time; install perf for phases)', []).get('total (GNU time; install perf for phases)')!).push((u! + s!) * 1000);
        continue;
      }
      const data = join(work, `perf-${r}.data`);
      run('perf', ['record', '-q', '-F', '999', '-g', '-o', data, '--', 'node', '--perf-basic-prof', '--interpreted-frames-native-stack', ...tsb('build', '-t', 'w2:latest', ctx)]);
      const text = execFileSync('perf', ['script', '-i', data, '-F', 'comm,pid,tid,time,period,ip,sym'], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
      const samples = parsePerfScript(text);
      const mainPid = samples[0]?.pid ?? 0;
      // The map Node wrote for perf; its pid is the build's.
      rmSync(`/tmp/perf-${mainPid}.map`, { force: true });
      const sums = new Map<string, number>();
      let all = 0;
      for (const s of samples) {
        const k = phaseOf(s, mainPid);
        sums.set(k, (sums.get(k) ?? 0) + s.period / 1e6);
        all += s.period / 1e6;
      }
      sums.set('total', all);
      for (const [k, v] of sums) (totals.get(k) ?? totals.set(k, []).get(k)!).push(v);
    }
    const median = (xs: number[]): number => {
      const s = [...xs].sort((a, b) => a - b);
      return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
    };
    const rows = [...totals].map(([k, v]) => [k, median(v)] as const).sort((a, b) => (a[0] === 'total' ? 1 : b[0] === 'total' ? -1 : b[1] - a[1]));
    process.stdout.write(`W2 edit rebuild, ${files} files, CPU ms per phase (median of ${runs} runs${perf ? ', perf on-CPU samples' : ''}):\n\n| phase | CPU ms |\n|---|---:|\n`);
    for (const [k, v] of rows) if (v >= 1) process.stdout.write(`| ${k} | ${v.toFixed(0)} |\n`);
  } finally {
    for (const f of existsSync(work) ? readdirSync(work) : []) if (f.startsWith('perf-')) rmSync(join(work, f), { force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

void main().catch((e: unknown) => {
  process.stderr.write(`edit-phases: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
