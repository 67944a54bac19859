/**
 * Where a big layer's pack goes, stage by stage, beside each stage's physical limit on this machine (the figures
 * of layer-store/README.md, "rebuild speed"):
 *
 *   npm run build && node dist/bench/pack-stages.js [DIR]
 *
 * DIR: a tree to pack (default: W3's 512 MiB tree, written to a temp dir: 128 files of 2 MiB random + 2 MiB text,
 * BENCH_LAYER_MB=128 for a quarter). Each stage is timed alone over the tree's tar (held in memory after the
 * first read), in CPU seconds (process.cpuUsage: this and the thread pool), which other load on the machine
 * disturbs less than wall time; the limits are the usual tools on the same bytes (GNU tar, gzip -6, pigz -6
 * -p 2 when installed, sha256sum, pigz -d, cat > file; sync), CPU seconds from GNU time.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { Hasher } from '../layer-store/core/index.js';
import { SegmentedGzipEncoder, encodeSegmentRuns, mapLimit, packTarBytes as tarBytes, segmentRuns, verifyEncoded, walkPackTree as walk, type EncodedSegment } from '../layer-store/index.js';
import { randomBytesSeeded } from './workloads.js';

const MB = 1 << 20;

/** W3's RUN on the host: per file the same 2 MiB seed, then `yes "row $i …" | head -c 2 MiB`. */
function w3Tree(dir: string, mb: number): void {
  mkdirSync(join(dir, 'data'), { recursive: true });
  const seed = randomBytesSeeded(2 * MB, 3);
  for (let i = 0; i < mb / 4; i++) {
    const line = Buffer.from(`row ${i} of the bench data set, lorem ipsum dolor\n`);
    const text = Buffer.allocUnsafe(2 * MB);
    for (let o = 0; o < text.length; o += line.length) line.copy(text, o, 0, Math.min(line.length, text.length - o));
    writeFileSync(join(dir, 'data', `chunk${i}`), Buffer.concat([seed, text]));
  }
}

async function cpu(fn: () => Promise<unknown> | unknown): Promise<number> {
  const c0 = process.cpuUsage();
  await fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
}

/** CPU seconds (user + sys) of a shell command, from GNU time. */
function toolCpu(cmd: string): number | undefined {
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', 'sh', '-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) return undefined;
  const lines = r.stderr.toString().trim().split('\n');
  const [u, s] = lines[lines.length - 1]!.split(' ').map(Number);
  return u! + s!;
}

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'tsb-pack-stages-'));
  try {
    let dir = process.argv[2];
    if (!dir) {
      dir = join(base, 'tree');
      w3Tree(dir, Number(process.env['BENCH_LAYER_MB'] ?? 512));
    }
    execFileSync('sync');
    const rows: [string, number | undefined, string][] = [];
    let items: Awaited<ReturnType<typeof walk>> = [];
    rows.push(['walk (readdir, lstat, sort)', await cpu(async () => { items = await walk(dir!, {}, true, undefined); }), '']);
    const segs: Buffer[] = [];
    rows.push(['tar framing + file reads', await cpu(async () => { for await (const s of tarBytes(items, undefined, {}, { entries: 0 }, true)) segs.push(s); }), '']);
    const tarFile = join(base, 'layer.tar');
    writeFileSync(tarFile, Buffer.concat(segs));
    const tarMb = segs.reduce((n, s) => n + s.length, 0) / MB;
    rows[1]![2] = `GNU \`tar c\` into a pipe: ${fmt(toolCpu(`tar -C ${dir} -cf - . | cat > /dev/null`))}`;
    rows.push(['sha256 of the tar (diffID)', await cpu(() => { const h = new Hasher(); for (const s of segs) h.update(s); h.digest(); }), `\`sha256sum\`: ${fmt(toolCpu(`sha256sum ${tarFile} > /dev/null`))}`]);
    rows.push(['CRC-32 of the tar', await cpu(() => { let c = 0; for (const s of segs) c = zlib.crc32(s, c); }), '']);
    rows.push(['entropy test (64 KiB blocks)', await cpu(() => { for (const s of segs) segmentRuns(s); }), '']);
    const out: EncodedSegment[] = new Array(segs.length);
    const idx = segs.map((_, i) => i);
    const pigz = spawnSync('sh', ['-c', 'command -v pigz']).status === 0;
    rows.push(['compression (encodeSegment, 4 at once)', await cpu(() => mapLimit(idx, 4, async (i) => { out[i] = await encodeSegmentRuns(segs[i]!, 6); })),
      `\`gzip -6\`: ${fmt(toolCpu(`gzip -6 -c ${tarFile} > /dev/null`))}${pigz ? `; \`pigz -6 -p 2\`: ${fmt(toolCpu(`pigz -6 -p 2 -c ${tarFile} > /dev/null`))}` : ''}`]);
    // What the pack did with a speculated segment before: inflate it whole and compare with the tar's bytes.
    rows.push(['checking speculated segments: inflate + compare', await cpu(() => mapLimit(idx, 4, (i) => new Promise<void>((res, rej) => {
      zlib.inflateRaw(Buffer.concat([out[i]!.bytes, Buffer.from([3, 0])]), { chunkSize: segs[i]!.length + 1024 }, (e, r) => (e ? rej(e) : r.equals(segs[i]!) ? res() : rej(new Error('mismatch'))));
    }))), '']);
    // What it does now: run by run, stored runs compared in place, deflated runs inflated (deflate-runs.ts verifyEncoded).
    rows.push(['checking speculated segments: verifyEncoded', await cpu(() => { for (const i of idx) if (!verifyEncoded(out[i]!.bytes, out[i]!.runs, segs[i]!)) throw new Error('mismatch'); }), '']);
    const enc = new SegmentedGzipEncoder({ level: 6 });
    const blob: Buffer[] = [];
    async function* gen(): AsyncGenerator<Buffer> { yield* segs; }
    for await (const b of enc.encode(gen())) blob.push(b);
    const blobFile = join(base, 'layer.tar.gz');
    const blobBytes = Buffer.concat(blob);
    rows.push(['sha256 of the blob (digest)', await cpu(() => { const h = new Hasher(); for (const b of blob) h.update(b); h.digest(); }), '']);
    rows.push(['write the blob + fsync', await cpu(async () => {
      const fh = await open(blobFile, 'w');
      try { await fh.writev(blob); await fh.sync(); } finally { await fh.close(); }
    }), '']);
    rows[rows.length - 1]![2] = `\`cat > file; sync\`: ${fmt(toolCpu(`cat ${blobFile} > ${blobFile}.2; sync ${blobFile}.2`))}`;
    rows[rows.length - 2]![2] = `\`sha256sum\`: ${fmt(toolCpu(`sha256sum ${blobFile} > /dev/null`))}`;
    if (pigz) rows.find((r) => r[0].startsWith('checking speculated segments: inflate'))![2] = `\`pigz -d\` (inflate only): ${fmt(toolCpu(`pigz -dc ${blobFile} > /dev/null`))}`;
    const gz6 = Number(execFileSync('sh', ['-c', `gzip -6 -c ${tarFile} | wc -c`]).toString());
    console.log(`tree: ${dir}, tar ${tarMb.toFixed(0)} MiB, ${segs.length} segments; blob ${blobBytes.length} bytes (gzip -6: ${gz6})\n`);
    console.log('| stage | tsbuild (CPU s) | the limit here (CPU s) |\n|---|---:|---:|');
    for (const [what, s, limit] of rows) console.log(`| ${what} | ${fmt(s)} | ${limit || '—'} |`);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

function fmt(s: number | undefined): string {
  return s === undefined ? '—' : s.toFixed(2);
}

await main();
