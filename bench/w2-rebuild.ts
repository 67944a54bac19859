/**
 * W2's rebuilds side by side (issue 22 items 4 and 6): the no-change rebuild and the one-file edit rebuild of a
 * COPY of many small files then a RUN reading them, for one or more tsbuild executables (e.g. an old build copied
 * beside the new one) and BuildKit (a private dockerd, bench/peers.ts), interleaved run by run so that the load of a
 * shared machine hits every tool alike:
 *
 *   npm run build && node dist/bench/w2-rebuild.js [--files 20000] [--runs 7] [--no-buildkit] [CLI …]
 *
 * CLI defaults to this checkout's dist/bin/tsbuild.cjs; an old build is one copied with its package.json and
 * runtime-exec/seccomp-default.json beside dist/. Prints the median wall seconds and peak RSS (GNU time) of each
 * tool (BuildKit's: the docker client's only), and each tsbuild's ratio to BuildKit measured in the same run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BuildkitTool, measure, type Measured } from './peers.js';
import { applyEdit, generateWorkload } from './workloads.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');

interface Tool {
  readonly label: string;
  /** Imports the base image (tsbuild's stores). */
  readonly init?: () => Promise<Measured>;
  rebuild(ctx: string): Promise<Measured>;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const num = (name: string, dflt: number): number => {
    const i = args.indexOf(name);
    if (i < 0) return dflt;
    const v = Number(args.splice(i, 2)[1]);
    return v;
  };
  const files = num('--files', 20_000);
  const runs = num('--runs', 7);
  const noBk = args.includes('--no-buildkit');
  const clis = args.filter((a) => !a.startsWith('--'));
  if (clis.length === 0) clis.push(join(repo, 'dist', 'bin', 'tsbuild.cjs'));
  const work = mkdtempSync(join(tmpdir(), 'tsb-w2-rebuild-'));
  let bk: BuildkitTool | undefined;
  try {
    const baseTar = join(work, 'busybox.tar');
    const r = spawnSync('sh', [join(repo, 'fixtures', 'scripts', 'make-busybox-rootfs.sh'), join(work, 'busybox-rootfs'), '-o', baseTar], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error('make-busybox-rootfs.sh failed');
    rmSync(join(work, 'busybox-rootfs'), { recursive: true, force: true });
    const ctx = join(work, 'ctx');
    const w = await generateWorkload('W2', ctx, { quick: false, baseImage: 'busybox:latest', w2Files: files });
    const tools: Tool[] = clis.map((cli, i): Tool => {
      const root = join(work, `root-${i}`);
      const argv = (...a: string[]): string[] => [cli, '--root', root, '--progress', 'quiet', ...a];
      return {
        label: clis.length === 1 ? 'tsbuild' : `tsbuild#${i} (${cli})`,
        init: () => measure('node', argv('import', baseTar, 'busybox:latest'), { env: { SOURCE_DATE_EPOCH: '1700000000' } }),
        rebuild: () => measure('node', argv('build', '-t', 'w2:latest', ctx)),
      };
    });
    for (const t of tools) if (t.init && !(await t.init()).ok) throw new Error(`${t.label}: import failed`);
    if (!noBk && BuildkitTool.available()) {
      bk = await BuildkitTool.start(join(work, 'bk'), baseTar, 'busybox:latest');
      const b = bk;
      tools.push({ label: 'buildkit', rebuild: (c) => b.rebuild(c, 'w2:latest') });
    }
    // Cold build, then one no-change build each (the stat cache and code caches settle), not measured.
    for (const t of tools) for (let i = 0; i < 2; i++) if (!(await t.rebuild(ctx)).ok) throw new Error(`${t.label}: build failed`);
    const seen = new Map<string, { nochange: Measured[]; edit: Measured[] }>(tools.map((t) => [t.label, { nochange: [], edit: [] }]));
    for (let r = 0; r < runs; r++) for (const t of tools) seen.get(t.label)!.nochange.push(await t.rebuild(ctx));
    for (let r = 0; r < runs; r++) {
      for (const t of tools) {
        await applyEdit(ctx, w, r * tools.length + tools.indexOf(t)); // each tool sees one changed file
        seen.get(t.label)!.edit.push(await t.rebuild(ctx));
      }
    }
    const bkRow = seen.get('buildkit');
    process.stdout.write(`W2 rebuilds, ${files} files, median of ${runs} interleaved runs (wall s, peak RSS MiB):\n\n| tool | no-change s | RSS | edit s | RSS | no-change / BuildKit | edit / BuildKit |\n|---|---:|---:|---:|---:|---:|---:|\n`);
    for (const [label, m] of seen) {
      if (m.nochange.some((x) => !x.ok) || m.edit.some((x) => !x.ok)) process.stdout.write(`${label}: a build failed: ${[...m.nochange, ...m.edit].find((x) => !x.ok)?.error ?? ''}\n`);
      const nc = median(m.nochange.map((x) => x.seconds));
      const ed = median(m.edit.map((x) => x.seconds));
      const rss = (xs: Measured[]): string => median(xs.map((x) => x.rssMb ?? NaN)).toFixed(0);
      const ratio = (a: number, k: 'nochange' | 'edit'): string => (bkRow ? (a / median(bkRow[k].map((x) => x.seconds))).toFixed(2) : '');
      process.stdout.write(`| ${label} | ${nc.toFixed(2)} | ${rss(m.nochange)} | ${ed.toFixed(2)} | ${rss(m.edit)} | ${ratio(nc, 'nochange')} | ${ratio(ed, 'edit')} |\n`);
    }
  } finally {
    await bk?.stop().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}

void main().catch((e: unknown) => {
  process.stderr.write(`w2-rebuild: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
