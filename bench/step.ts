/**
 * The cost of a build step, A/B: two tsbuild executables (e.g. a copy of the old build beside the new one)
 * build the same workloads interleaved, each in a root of its own, and the medians of wall and CPU time
 * (the process tree's, from perf stat's task-clock, else GNU time) are printed side by side.
 *
 *   node dist/bench/step.js --cli old=/tmp/old/dist/bin/tsbuild.cjs --cli new=dist/bin/tsbuild.cjs \
 *     [--env new:VAR=VALUE] [--workloads W1,W4,W5] [--runs 5] [--edits 1] [--phases]
 *
 * Per workload and round: a fresh root (base image imported, not timed), a cold build, then `--edits` times an
 * edit (bench/workloads.ts applyEdit) and a rebuild. `--env NAME:VAR=VALUE` sets a variable for that executable's
 * runs only (an A/B of a setting with one build: `--cli a=X --cli b=X --env b:UV_THREADPOOL_SIZE=8`).
 * `--phases` also builds an eight-RUN Dockerfile with --no-cache under `strace -f` (only execve and mkdir traced)
 * with each executable and prints where a RUN step's time goes, from one phase mark to the next (medians; strace
 * slows runc's own part most).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { applyEdit, generateWorkload, type WorkloadInfo, type WorkloadName } from './workloads.js';

interface Cli { readonly name: string; readonly path: string; readonly env: Record<string, string> }
interface Sample { wall: number; cpu: number }

function run(cmd: string, args: readonly string[], cwd?: string, env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((res) => {
    execFile(cmd, args, { cwd, maxBuffer: 64 << 20, env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000', ...env } }, (e, stdout, stderr) => {
      res({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

const PERF = existsSync('/usr/bin/perf');

/** Runs `node cli args` and returns wall and CPU seconds (the whole process tree's). Throws when it fails. */
async function timed(cli: Cli, args: readonly string[]): Promise<Sample> {
  const stat = join(tmpdir(), `step-bench-${process.pid}.stat`);
  const argv = PERF ? ['stat', '-x,', '-e', 'task-clock', '-o', stat, process.execPath, cli.path, ...args] : ['-f', '%U %S', '-o', stat, process.execPath, cli.path, ...args];
  const t0 = process.hrtime.bigint();
  const r = await run(PERF ? 'perf' : '/usr/bin/time', argv, undefined, cli.env);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.code !== 0) throw new Error(`${cli.name} ${args.join(' ')} failed:\n${r.out.slice(-2000)}`);
  const text = readFileSync(stat, 'utf8');
  rmSync(stat, { force: true });
  const cpu = PERF
    ? Number(/^([\d.]+),msec,task-clock/m.exec(text)?.[1] ?? NaN) / 1000
    : text.trim().split(/\s+/).slice(-2).reduce((a, b) => a + Number(b), 0);
  return { wall, cpu };
}

function median(xs: readonly number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  return a.length % 2 ? a[(a.length - 1) / 2]! : (a[a.length / 2 - 1]! + a[a.length / 2]!) / 2;
}

/** The phase marks of a RUN step in an strace log, in order, and the pattern of the line that sets each. */
const MARKS: readonly (readonly [string, RegExp])[] = [
  ['scratch dirs', /mkdir\(".*\/run-[0-9a-f]{8}", /],
  ['bundle', /mkdir\(".*\/tsbuild-run-[^/"]*", /],
  ['overlay mount', /execve\("[^"]*", \[[^\]]*"mount", "-t", "overlay"/],
  ['runc run', /execve\("[^"]*runc".*"run"/],
  ['runc init', /execve\("\/proc\/self\/exe", \[.*"init"/],
  ['command', /execve\("\/bin\/sh", \["\/bin\/sh", "-c", "echo/],
  ['umount', /execve\("[^"]*", \[[^\]]*"umount", "[^-]/],
  ['getfattr of the upper dir', /execve\("[^"]*getfattr"/],
];

/** Returns the median time from each phase mark to the next over the RUN steps of strace log `text`. */
export function phases(text: string): Map<string, number> {
  const at = (l: string): number => {
    const m = / (\d\d):(\d\d):(\d\d\.\d+) /.exec(l);
    return m ? (Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1000 : NaN;
  };
  const steps: Record<string, number>[] = [];
  let cur: Record<string, number> | undefined;
  for (const l of text.split('\n')) {
    for (const [name, re] of MARKS) {
      if (!re.test(l)) continue;
      if (name === 'scratch dirs') steps.push((cur = {}));
      if (cur && cur[name] === undefined) cur[name] = at(l);
    }
  }
  const full = steps.filter((s) => MARKS.every(([n]) => s[n] !== undefined));
  full.forEach((s, i) => { const next = full[i + 1]; if (next) s['next step'] = next['scratch dirs']!; });
  const names = [...MARKS.map(([n]) => n), 'next step'];
  const out = new Map<string, number>();
  for (let k = 1; k < names.length; k++) {
    const d = full.filter((s) => s[names[k]!] !== undefined).map((s) => s[names[k]!]! - s[names[k - 1]!]!);
    if (d.length) out.set(`${names[k - 1]} → ${names[k]}`, median(d));
  }
  return out;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const clis: Cli[] = [];
  let workloads: WorkloadName[] = ['W1', 'W4', 'W5'];
  let runs = 5;
  let withPhases = false;
  let edits = 1;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--cli') {
      const v = argv[++i] ?? '';
      const eq = v.indexOf('=');
      clis.push({ name: v.slice(0, eq), path: resolve(v.slice(eq + 1)), env: {} });
    } else if (a === '--env') {
      // --env NAME:VAR=VALUE: that executable's runs get VAR=VALUE in their environment (e.g. an A/B of a setting)
      const v = argv[++i] ?? '';
      const colon = v.indexOf(':');
      const eq = v.indexOf('=', colon);
      const c = clis.find((x) => x.name === v.slice(0, colon));
      if (colon < 0 || eq < 0 || !c) throw new Error(`--env needs NAME:VAR=VALUE after that executable's --cli NAME=PATH, not ${v}`);
      c.env[v.slice(colon + 1, eq)] = v.slice(eq + 1);
    } else if (a === '--workloads') workloads = (argv[++i] ?? '').split(',').filter(Boolean) as WorkloadName[];
    else if (a === '--runs') runs = Number(argv[++i]);
    else if (a === '--edits') edits = Number(argv[++i]);
    else if (a === '--phases') withPhases = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (clis.length === 0) throw new Error('give --cli NAME=PATH (once or more)');
  const work = mkdtempSync(join(tmpdir(), 'tsbuild-step-bench-'));
  try {
    const repo = resolve(new URL('../..', import.meta.url).pathname);
    const baseTar = join(work, 'busybox.tar');
    const r = await run('sh', [join(repo, 'fixtures', 'scripts', 'make-busybox-rootfs.sh'), join(work, 'rootfs'), '-o', baseTar]);
    if (r.code !== 0) throw new Error(`making the base image failed:\n${r.out}`);
    const freshRoot = async (cli: Cli): Promise<string> => {
      const root = mkdtempSync(join(work, `root-${cli.name}-`));
      await timed(cli, ['--root', root, 'import', baseTar, 'busybox:latest']);
      return root;
    };
    console.log(`${runs} rounds, executables ${clis.map((c) => `${c.name}=${c.path}`).join(', ')}; times are medians (wall / CPU of the process tree, ${PERF ? 'perf stat task-clock' : 'GNU time'})\n`);
    console.log(`| workload | phase | ${clis.map((c) => `${c.name} wall | ${c.name} CPU`).join(' | ')} |`);
    console.log(`|---|---|${clis.map(() => '---:|---:').join('|')}|`);
    for (const name of workloads) {
      const infos = new Map<string, WorkloadInfo>();
      for (const c of clis) infos.set(c.name, await generateWorkload(name, join(work, `${name}-${c.name}`), { quick: true, baseImage: 'busybox:latest' }));
      const samples = new Map<string, { cold: Sample[]; edit: Sample[] }>(clis.map((c) => [c.name, { cold: [], edit: [] }]));
      for (let round = 0; round < runs; round++) {
        const order = round % 2 ? [...clis].reverse() : clis;
        for (const c of order) {
          const w = infos.get(c.name)!;
          const root = await freshRoot(c);
          const build = ['--root', root, 'build', '--progress', 'quiet', '-t', 'bench:latest', w.dir];
          samples.get(c.name)!.cold.push(await timed(c, build));
          for (let k = 0; k < edits; k++) {
            await applyEdit(w.dir, w, round * edits + k);
            samples.get(c.name)!.edit.push(await timed(c, build));
          }
          rmSync(root, { recursive: true, force: true });
        }
      }
      for (const phase of ['cold', 'edit'] as const) {
        const cells = clis.map((c) => {
          const s = samples.get(c.name)![phase];
          return `${median(s.map((x) => x.wall)).toFixed(3)} s | ${median(s.map((x) => x.cpu)).toFixed(3)} s`;
        });
        console.log(`| ${name} | ${phase} | ${cells.join(' | ')} |`);
      }
    }
    if (withPhases) {
      const ctx = join(work, 'runs');
      mkdirSync(ctx);
      writeFileSync(join(ctx, 'Dockerfile'), ['FROM busybox:latest', ...Array.from({ length: 8 }, (_, i) => `RUN echo ${i} > /f${i}`), ''].join('\n'));
      const table = new Map<string, Map<string, number>>();
      for (const c of clis) {
        const root = await freshRoot(c);
        await timed(c, ['--root', root, 'build', '--progress', 'quiet', ctx]);
        const log = join(work, `strace-${c.name}.log`);
        const s = await run('strace', ['-f', '--seccomp-bpf', '-tt', '-e', 'trace=execve,mkdir', '-e', 'signal=none', '-o', log,
          process.execPath, c.path, '--root', root, 'build', '--no-cache', '--progress', 'quiet', ctx]);
        if (s.code !== 0) throw new Error(`strace build failed:\n${s.out}`);
        table.set(c.name, phases(readFileSync(log, "utf8")));
        if (table.get(c.name)?.size === 0) console.log(`no complete RUN step in ${log}:\n${readFileSync(log, "utf8").split("\n").filter((l) => /execve|mkdir/.test(l)).slice(0, 40).join("\n")}`);
        rmSync(root, { recursive: true, force: true });
      }
      console.log(`\nA RUN step under strace (median ms from one mark to the next over 8 steps of --no-cache):\n`);
      console.log(`| from → to | ${clis.map((c) => c.name).join(' | ')} |`);
      console.log(`|---|${clis.map(() => '---:').join('|')}|`);
      const keys = [...new Set([...table.values()].flatMap((m) => [...m.keys()]))];
      for (const k of keys) console.log(`| ${k} | ${clis.map((c) => table.get(c.name)?.get(k)?.toFixed(1) ?? '').join(' | ')} |`);
      const sums = clis.map((c) => [...(table.get(c.name)?.values() ?? [])].reduce((a, b) => a + b, 0).toFixed(1));
      console.log(`| sum | ${sums.join(' | ')} |`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith("step.js")) main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
