/**
 * Layer pack/unpack benchmark, side by side with GNU tar + gzip at the same level.
 *
 *   npm run build && BENCH_LAYER_MB=1024 node dist/bench/layers.js
 *
 * Env: BENCH_LAYER_MB (tree size, default 256), BENCH_GZIP_LEVEL (default 1), BENCH_RUNS (best of N, default 2),
 * BENCH_DIR (where to put the tree, default the OS temp dir).
 * Prints MB/s for each side and the ratio ours/theirs (1.0 = as fast as tar|gzip; the goal is ≥ 0.8).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { applyLayer, packLayer } from '../layer-store/index.js';

const MB = 1024 * 1024;

/** Writes a tree of about `totalMb` MiB: many small text-like files, some medium, a few large; ~1/3 incompressible. */
function generateTree(root: string, totalMb: number): { files: number; bytes: number } {
  const words = Buffer.from('lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua '.repeat(64));
  const chunk = (n: number, i: number): Buffer => {
    if (i % 3 === 0) return randomBytes(n);
    const b = Buffer.allocUnsafe(n);
    for (let o = 0; o < n; o += words.length) words.copy(b, o, (i * 7) % 50, Math.min(words.length, (i * 7) % 50 + n - o));
    b.writeUInt32LE(i, 0);
    return b;
  };
  let bytes = 0;
  let files = 0;
  const budget = totalMb * MB;
  let i = 0;
  while (bytes < budget) {
    const dir = join(root, `d${i % 40}`, `s${(i >> 3) % 25}`);
    mkdirSync(dir, { recursive: true });
    const r = i % 100;
    // 90% small (1-32 KiB), 9.5% medium (64 KiB-1 MiB), 0.5% large (8-24 MiB)
    const size = r < 90 ? 1024 + ((i * 2654435761) % (31 * 1024)) : r < 99 || i % 200 !== 199 ? 64 * 1024 + ((i * 40503) % (960 * 1024)) : 8 * MB + ((i * 7) % 16) * MB;
    writeFileSync(join(dir, `f${i}.dat`), chunk(Math.min(size, budget - bytes + 1), i));
    bytes += size;
    files++;
    if (i % 50 === 0) symlinkSync(`f${i}.dat`, join(dir, `l${i}`));
    i++;
  }
  return { files, bytes };
}

async function time(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function best(runs: number, fn: () => Promise<unknown> | unknown, before?: () => void): Promise<number> {
  let b = Infinity;
  for (let i = 0; i < runs; i++) {
    before?.();
    b = Math.min(b, await time(fn));
  }
  return b;
}

async function main(): Promise<void> {
  const mb = Number(process.env['BENCH_LAYER_MB'] ?? 256);
  const level = Number(process.env['BENCH_GZIP_LEVEL'] ?? 1);
  const runs = Number(process.env['BENCH_RUNS'] ?? 2);
  const base = mkdtempSync(join(process.env['BENCH_DIR'] ?? tmpdir(), 'tsb-bench-layers-'));
  try {
    const src = join(base, 'src');
    mkdirSync(src);
    const g = generateTree(src, mb);
    execFileSync('sync');
    const size = g.bytes / MB;
    console.log(`tree: ${g.files} files, ${size.toFixed(0)} MiB; gzip level ${level}; best of ${runs}`);

    const ours = join(base, 'ours.tgz');
    const theirs = join(base, 'theirs.tgz');
    // Warm the page cache for both sides equally.
    execFileSync('sh', ['-c', `tar -C ${src} -cf - . > /dev/null`]);

    const tPackTar = await best(runs, () => execFileSync('sh', ['-c', `tar -C ${src} -cf - . | gzip -${level} > ${theirs}`]));
    let diffId = '';
    const tPackOurs = await best(runs, async () => {
      const r = await packLayer(src, { compression: 'gzip', level, sink: (s) => pipeline(s, createWriteStream(ours)) });
      diffId = r.diffId;
    });

    const outA = join(base, 'unpack-ours');
    const outB = join(base, 'unpack-tar');
    const reset = (d: string) => () => { rmSync(d, { recursive: true, force: true }); mkdirSync(d); execFileSync('sync'); };
    const tUnpackTar = await best(runs, () => execFileSync('sh', ['-c', `gzip -dc ${theirs} | tar -x -C ${outB}`]), reset(outB));
    const tUnpackOurs = await best(runs, async () => {
      const r = await applyLayer(createReadStream(ours), outA);
      if (r.diffId !== diffId) throw new Error('diffID mismatch after unpack');
    }, reset(outA));

    // Two layers packed concurrently (zlib work on the thread pool) vs one after the other.
    const halves = [0, 1].map((h) => Array.from({ length: 20 }, (_, i) => `d${h * 20 + i}`));
    const packHalf = (include: readonly string[], i: number) =>
      packLayer(src, { compression: 'gzip', level, include, sink: (s) => pipeline(s, createWriteStream(join(base, `h${i}.tgz`))) });
    const tSeq = await best(1, async () => { for (const [i, d] of halves.entries()) await packHalf(d, i); });
    const tPar = await best(1, () => Promise.all(halves.map(packHalf)));

    const row = (what: string, a: number, b: number): void => {
      console.log(`${what.padEnd(8)} tsbuild ${(size / a).toFixed(1).padStart(7)} MiB/s   tar+gzip ${(size / b).toFixed(1).padStart(7)} MiB/s   ratio ${(b / a).toFixed(2)}`);
    };
    row('pack', tPackOurs, tPackTar);
    row('unpack', tUnpackOurs, tUnpackTar);
    console.log(`compressed: tsbuild ${(execFileSync('stat', ['-c', '%s', ours]).toString().trim())} B, tar+gzip ${(execFileSync('stat', ['-c', '%s', theirs]).toString().trim())} B`);
    console.log(`two layers: sequential ${tSeq.toFixed(2)} s, concurrent ${tPar.toFixed(2)} s (speed-up ${(tSeq / tPar).toFixed(2)})`);
    writeFileSync(join(base, 'done'), '');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

await main();
