/**
 * `npm run bench -- --rootless`: W1, W4 and W5 built by an unprivileged user with subordinate ids (made here,
 * removed afterwards) with tsbuild (rootless, through bin/tsbuild) beside rootless `buildah bud --layers` as the
 * same user (storage in its home, `--isolation chroot`: rootless buildah with runc needs cgroups this machine
 * does not delegate, and crun fails here), and tsbuild as root on the same contexts; interleaved run by run,
 * each in its own store. Prints medians and the ratios rootless tsbuild / rootless buildah (targets: rebuilds
 * ≤ 0.8×) and rootless / root tsbuild (target ≤ 1.2×), and writes them to bench/results/rootless-latest.md.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeRootlessUser, rootlessSkip, type RootlessUser } from '../test/helpers/rootless-user.js';
import { BenchError } from './errors.js';
import { have, measure, mustRun, type Measured } from './peers.js';
import { applyEdit, generateWorkload, type WorkloadInfo, type WorkloadName } from './workloads.js';

const WORKLOADS: readonly WorkloadName[] = ['W1', 'W4', 'W5'];
const PHASES = ['cold', 'nochange', 'edit'] as const;
type Phase = (typeof PHASES)[number];
const TOOLS = ['tsbuild-root', 'tsbuild-rootless', 'buildah-rootless'] as const;
type Tool = (typeof TOOLS)[number];

export interface RootlessBenchOptions {
  readonly quick: boolean;
  readonly runs: number;
  /** The `tsbuild` executable (bin/tsbuild) for root. */
  readonly cli: string;
  readonly baseTar: string;
  readonly baseImage: string;
  readonly work: string;
  readonly outDir: string;
  readonly log: (msg: string) => void;
}

const median = (xs: readonly number[]): number => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

/** One tool's way to run a command: as root, or as the user through runuser with a small environment. */
function asUser(u: RootlessUser, cmd: string, args: readonly string[]): [string, string[]] {
  return ['runuser', ['-u', u.name, '--', 'env', '-i', `PATH=${process.env['PATH'] ?? '/usr/bin:/bin'}`, `HOME=${u.home}`, `USER=${u.name}`, `LOGNAME=${u.name}`, cmd, ...args]];
}

/** Runs the rootless benchmark and returns its Markdown report. */
export async function rootlessBench(o: RootlessBenchOptions): Promise<string> {
  const skip = rootlessSkip();
  if (skip) throw new BenchError('RUNTIME_MISSING', `--rootless: ${skip}`, 'run the benchmark as root with uidmap installed');
  if (!have('buildah')) throw new BenchError('RUNTIME_MISSING', '--rootless: buildah is not installed', 'npm run bench -- --install');
  const user = await makeRootlessUser();
  const cells = new Map<string, Measured[]>();
  const add = (w: WorkloadName, p: Phase, t: Tool, m: Measured): void => {
    const k = `${w}/${p}/${t}`;
    cells.set(k, [...(cells.get(k) ?? []), m]);
    o.log(`rootless ${w} ${p.padEnd(8)} ${t.padEnd(16)} ${m.ok ? `${m.seconds.toFixed(2)} s` : `FAILED\n${m.error ?? ''}`}`);
  };
  try {
    const home = user.home;
    const baseTar = join(home, 'busybox.tar');
    await mustRun('cp', [o.baseTar, baseTar], 'copying the base image');
    await user.give(baseTar);
    const rootStores = join(o.work, 'rootless-root-stores');
    const bhGlobal = (gen: number) => ['--root', join(home, `buildah-${gen}`, 'storage'), '--runroot', join(home, `buildah-${gen}`, 'run'), '--storage-driver', 'overlay'];
    let gen = 0;
    for (const name of WORKLOADS) {
      const src = join(o.work, 'rootless-src', name);
      const w: WorkloadInfo = await generateWorkload(name, src, { quick: o.quick, baseImage: o.baseImage });
      o.log(`rootless ${name}: ${w.description}`);
      const ctx: Record<Tool, string> = { 'tsbuild-root': join(o.work, 'rootless-ctx', name), 'tsbuild-rootless': join(home, 'ctx-ts', name), 'buildah-rootless': join(home, 'ctx-bh', name) };
      for (const t of TOOLS) {
        await mkdir(join(ctx[t], '..'), { recursive: true });
        await mustRun('cp', ['-a', src, ctx[t]], 'copying the context');
      }
      await user.give(join(home, 'ctx-ts'));
      await user.give(join(home, 'ctx-bh'));
      const tag = `bench-${name.toLowerCase()}:latest`;
      for (let run = 0; run < o.runs; run++) {
        gen++;
        // Fresh stores, base imported (untimed).
        const rootStore = join(rootStores, String(gen));
        const userStore = join(home, `ts-${gen}`);
        await mustRun(o.cli, ['--root', rootStore, '--progress', 'quiet', 'import', o.baseTar, o.baseImage], 'tsbuild import (root)', { env: { SOURCE_DATE_EPOCH: '1700000000' } });
        await mustRun(...asUser(user, user.launcher, ['--root', userStore, '--progress', 'quiet', 'import', baseTar, o.baseImage]), 'tsbuild import (rootless)');
        const bh = bhGlobal(gen);
        const ctr = (await mustRun(...asUser(user, 'buildah', [...bh, 'from', 'scratch']), 'buildah from scratch (rootless)')).trim().split('\n').pop() ?? '';
        await mustRun(...asUser(user, 'buildah', [...bh, 'add', ctr, baseTar, '/']), 'buildah add (rootless)');
        await mustRun(...asUser(user, 'buildah', [...bh, 'commit', '-q', '--rm', ctr, `localhost/${o.baseImage}`]), 'buildah commit (rootless)');
        const build = (t: Tool, cold: boolean): Promise<Measured> => {
          if (t === 'tsbuild-root') return measure(o.cli, ['--root', rootStore, '--progress', 'quiet', 'build', '-t', tag, ctx[t]]);
          if (t === 'tsbuild-rootless') return measure(...asUser(user, user.launcher, ['--root', userStore, '--progress', 'quiet', 'build', '-t', tag, ctx[t]]));
          return measure(...asUser(user, 'buildah', [...bh, 'bud', '--layers', ...(cold ? ['--no-cache'] : []), '--isolation', 'chroot', '--network', 'host', '-q', '-t', tag, ctx[t]]));
        };
        const order = [...TOOLS.slice(run % 3), ...TOOLS.slice(0, run % 3)];
        for (const t of order) add(name, 'cold', t, await build(t, true));
        for (const t of order) add(name, 'nochange', t, await build(t, false));
        for (const t of order) {
          await applyEdit(ctx[t], w, run);
          if (t !== 'tsbuild-root') await user.give(ctx[t]);
          add(name, 'edit', t, await build(t, false));
        }
        await mustRun('rm', ['-rf', rootStore], 'removing a store');
        await mustRun(...asUser(user, 'buildah', [...bh, 'rm', '--all']), 'buildah rm').catch(() => '');
        await mustRun(...asUser(user, 'buildah', ['unshare', 'rm', '-rf', join(home, `buildah-${gen}`), userStore]), 'removing the user stores');
      }
      await rm(src, { recursive: true, force: true });
      await rm(ctx['tsbuild-root'], { recursive: true, force: true });
    }
  } finally {
    await rm(join(o.work, 'rootless-root-stores'), { recursive: true, force: true });
    // userdel -r takes the home (rootless stores and contexts); files of subordinate ids included (root removes them).
    await user.cleanup();
  }
  const val = (w: WorkloadName, p: Phase, t: Tool): number | undefined => {
    const c = cells.get(`${w}/${p}/${t}`);
    return c && c.length && c.every((m) => m.ok) ? median(c.map((m) => m.seconds)) : undefined;
  };
  const f = (x: number | undefined) => (x === undefined ? 'FAILED' : `${x.toFixed(2)} s`);
  const r = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? '—' : `${(a / b).toFixed(2)}×`);
  const rows = ['| workload | phase | tsbuild root | tsbuild rootless | buildah rootless | rootless/root | ts/buildah (rootless) |', '|---|---|---:|---:|---:|---:|---:|'];
  const worst: Record<string, number[]> = { rebuild: [], root: [] };
  for (const w of WORKLOADS) {
    for (const p of PHASES) {
      const [a, b, c] = TOOLS.map((t) => val(w, p, t)) as [number | undefined, number | undefined, number | undefined];
      rows.push(`| ${w} | ${p} | ${f(a)} | ${f(b)} | ${f(c)} | ${r(b, a)} | ${r(b, c)} |`);
      if (b !== undefined && a !== undefined) worst['root']!.push(b / a);
      if (p !== 'cold' && b !== undefined && c !== undefined) worst['rebuild']!.push(b / c);
    }
  }
  const target = (label: string, xs: number[], limit: number) =>
    `- ${label}: ${xs.length ? `worst ${Math.max(...xs).toFixed(2)}× (limit ${limit}×) — ${Math.max(...xs) <= limit ? 'met' : 'NOT met'}` : 'not measured'}`;
  const md = [
    `# tsbuild rootless benchmark ${new Date().toISOString()}`, '',
    `${o.quick ? 'quick' : 'full'} mode, ${o.runs} run(s) per cell, medians; rootless = an unprivileged user with subordinate ids; buildah ${'`bud --layers --isolation chroot`'} as that user.`, '',
    ...rows, '', 'Targets:',
    target('rootless rebuilds (no change, edit) ≤ 0.8× rootless buildah', worst['rebuild']!, 0.8),
    target('rootless tsbuild ≤ 1.2× root tsbuild', worst['root']!, 1.2), '',
  ].join('\n');
  await mkdir(o.outDir, { recursive: true });
  await writeFile(join(o.outDir, 'rootless-latest.md'), md);
  return md;
}
