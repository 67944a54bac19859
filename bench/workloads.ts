/**
 * Deterministic benchmark workloads W1–W5 (issue 8). Every generator is seeded: the same options give the
 * same bytes in every run and on every machine, so the tools being compared read exactly the same context.
 *
 *   W1  a small app: 8 steps of FROM/ENV/WORKDIR/COPY/RUN/CMD
 *   W2  a context of many small files (like node_modules): one COPY and a RUN that reads them all
 *   W3  one RUN that writes a lot of partly compressible data (half random, half text)
 *   W4  four stages: a base, two independent builder stages, a final stage with COPY --from
 *   W5  40 mixed instructions
 *   T1  push/pull only: a 1 GiB image of four 256 MiB layers, each half random and half text (quick: 4 × 32 MiB)
 *
 * Each workload names one copied file (`editFile`) that the "edit" measurement changes.
 */
import { mkdir, writeFile, appendFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';

export type WorkloadName = 'W1' | 'W2' | 'W3' | 'W4' | 'W5' | 'T1';
export const WORKLOAD_NAMES: readonly WorkloadName[] = ['W1', 'W2', 'W3', 'W4', 'W5', 'T1'];
/** Workloads measured only for push and pull (built once by tsbuild, not compared as builds). */
export const TRANSFER_ONLY: readonly WorkloadName[] = ['T1'];

export interface WorkloadOptions {
  /** Smaller W2/W3 for day-to-day runs. */
  readonly quick: boolean;
  /** Image every workload builds FROM (must exist in each tool's store). */
  readonly baseImage: string;
  /** Number of W2 files (default 20,000; 5,000 with quick). */
  readonly w2Files?: number;
}

export interface WorkloadInfo {
  readonly name: WorkloadName;
  readonly description: string;
  /** Context directory (holds the Dockerfile). */
  readonly dir: string;
  /** Path of the copied file the edit measurement changes, relative to `dir`. */
  readonly editFile: string;
  readonly files: number;
  readonly bytes: number;
}

const MB = 1024 * 1024;

/** mulberry32: a small, fast, seeded PRNG (same sequence everywhere). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** prng as floats in [0, 1): for seeded choices and delays (a failing run replays from its seed). */
export function prngFloat(seed: number): () => number {
  const next = prng(seed);
  return () => next() / 4294967296;
}

/** `n` seeded pseudo-random bytes. */
export function randomBytesSeeded(n: number, seed: number): Buffer {
  const next = prng(seed);
  const b = Buffer.allocUnsafe(n);
  let o = 0;
  for (; o + 4 <= n; o += 4) b.writeUInt32LE(next(), o);
  if (o < n) {
    const last = next();
    for (let k = 0; o < n; o++, k++) b[o] = (last >>> (8 * k)) & 0xff;
  }
  return b;
}

const WORDS = ('export function module require const return value default object string number length index ' +
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore ').split(' ').filter(Boolean);

/** `n` bytes of seeded source-like text (compresses well, but is not one repeated line). */
export function textSeeded(n: number, seed: number): Buffer {
  const next = prng(seed);
  const parts: string[] = [];
  let len = 0;
  while (len < n) {
    const r = next();
    const line = `${WORDS[r % WORDS.length]}_${(r >>> 8) % 997} = ${WORDS[(r >>> 16) % WORDS.length]}(${(r >>> 20) % 64});\n`;
    parts.push(line);
    len += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}

async function put(root: string, rel: string, data: Buffer | string): Promise<number> {
  const p = join(root, rel);
  await mkdir(dirname(p), { recursive: true });
  await writeFile(p, data);
  return typeof data === 'string' ? Buffer.byteLength(data) : data.length;
}

interface Built { files: number; bytes: number }
type Generator = (dir: string, o: WorkloadOptions) => Promise<{ description: string; editFile: string } & Built>;

const w1: Generator = async (dir, o) => {
  let bytes = 0;
  let files = 0;
  for (let i = 0; i < 12; i++) { bytes += await put(dir, `src/lib/mod${i}.js`, textSeeded(2048 + i * 300, 100 + i)); files++; }
  bytes += await put(dir, 'src/main.js', textSeeded(4096, 99)); files++;
  bytes += await put(dir, 'config/app.json', JSON.stringify({ name: 'bench-app', port: 8080, workers: 4 }, null, 2) + '\n'); files++;
  await put(dir, 'Dockerfile', [
    `FROM ${o.baseImage}`,
    'ENV APP_HOME=/app APP_ENV=production',
    'WORKDIR /app',
    'COPY config/ ./config/',
    'RUN mkdir -p /app/data && echo built > /app/data/stamp',
    'COPY src/ ./src/',
    'RUN find /app/src -type f | sort | xargs wc -c > /app/data/sizes',
    'CMD ["sh", "-c", "cat /app/data/sizes"]',
    '',
  ].join('\n'));
  return { description: 'small app, 8 steps', editFile: 'src/main.js', files, bytes };
};

const w2: Generator = async (dir, o) => {
  const count = o.w2Files ?? (o.quick ? 5_000 : 20_000);
  const avg = Math.floor((150 * MB) / 20_000); // ~7.7 KiB a file on average: 20,000 files ≈ 150 MB
  const next = prng(2);
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const pkg = `pkg${i % 400}`;
    const r = next();
    // sizes from avg/8 to ~2*avg; one in five files is binary-ish (random), the rest text
    const size = Math.max(64, Math.floor((avg / 8) + (r % Math.floor(avg * 15 / 8))));
    const data = r % 5 === 0 ? randomBytesSeeded(size, 10_000 + i) : textSeeded(size, 10_000 + i);
    bytes += await put(dir, `node_modules/${pkg}/lib/d${(i >> 4) % 8}/f${i}.js`, data);
  }
  await put(dir, 'Dockerfile', [
    `FROM ${o.baseImage}`,
    'COPY node_modules/ /app/node_modules/',
    'RUN find /app/node_modules -type f | xargs cat | wc -c > /app/total-bytes',
    '',
  ].join('\n'));
  return { description: `${count} small files, ${Math.round(bytes / MB)} MiB`, editFile: 'node_modules/pkg7/lib/d0/f7.js', files: count, bytes };
};

const w3: Generator = async (dir, o) => {
  const chunks = o.quick ? 32 : 128; // 4 MiB each: 2 MiB seeded random + 2 MiB text
  let bytes = await put(dir, 'seed.bin', randomBytesSeeded(2 * MB, 3));
  bytes += await put(dir, 'app.conf', 'mode=bench\n');
  await put(dir, 'Dockerfile', [
    `FROM ${o.baseImage}`,
    'COPY seed.bin /seed.bin',
    // Deterministic: every chunk is the seed (incompressible) followed by 2 MiB of numbered text lines.
    `RUN mkdir /data && i=0; while [ $i -lt ${chunks} ]; do { cat /seed.bin; yes "row $i of the bench data set, lorem ipsum dolor" | head -c 2097152; } > /data/chunk$i; i=$((i+1)); done`,
    'COPY app.conf /etc/app.conf',
    '',
  ].join('\n'));
  return { description: `one RUN writing ${chunks * 4} MiB (half random)`, editFile: 'app.conf', files: 2, bytes };
};

const w4: Generator = async (dir, o) => {
  let bytes = 0;
  let files = 0;
  for (let i = 0; i < 40; i++) { bytes += await put(dir, `a/part${i}.txt`, textSeeded(8192, 400 + i)); files++; }
  for (let i = 0; i < 40; i++) { bytes += await put(dir, `b/part${i}.txt`, textSeeded(8192, 500 + i)); files++; }
  await put(dir, 'Dockerfile', [
    `FROM ${o.baseImage} AS base`,
    'RUN mkdir -p /opt/tools && echo base > /opt/tools/version',
    '',
    'FROM base AS build-a',
    'COPY a/ /src/a/',
    'RUN cat /src/a/*.txt | wc -c > /out-a && tar -cf /a.tar -C /src a',
    '',
    'FROM base AS build-b',
    'COPY b/ /src/b/',
    'RUN cd /src/b && find . -type f | sort > /out-b && gzip -c /src/b/part0.txt > /b.gz',
    '',
    `FROM ${o.baseImage}`,
    'COPY --from=build-a /a.tar /out-a /artifacts/',
    'COPY --from=build-b /out-b /b.gz /artifacts/',
    'CMD ["ls", "/artifacts"]',
    '',
  ].join('\n'));
  return { description: 'four stages, two independent builders', editFile: 'a/part3.txt', files, bytes };
};

const w5: Generator = async (dir, o) => {
  let bytes = 0;
  let files = 0;
  for (let i = 0; i < 8; i++) { bytes += await put(dir, `files/f${i}.txt`, textSeeded(1024 + i * 128, 600 + i)); files++; }
  const lines = [`FROM ${o.baseImage}`, 'ARG VERSION=1.0'];
  let n = 1; // instructions after FROM
  let copied = 0;
  const next = prng(5);
  while (n < 39) {
    const k = n % 8;
    const r = next() % 1000;
    if (k === 0) lines.push(`ENV VAR_${n}=value_${r}`);
    else if (k === 1) lines.push(`RUN echo step ${n} ${r} >> /log.txt`);
    else if (k === 2) lines.push(`LABEL bench.step${n}="${r}"`);
    else if (k === 3 && copied < 8) lines.push(`COPY files/f${copied++}.txt /files/`);
    else if (k === 4) lines.push(`WORKDIR /work/d${n}`);
    else if (k === 5) lines.push(`RUN mkdir -p /data/${n} && echo ${r} > /data/${n}/v`);
    else if (k === 6) lines.push(`EXPOSE ${8000 + n}`);
    else lines.push(`RUN wc -c /log.txt > /data/size${n}`);
    n++;
  }
  lines.push('CMD ["cat", "/log.txt"]', '');
  await put(dir, 'Dockerfile', lines.join('\n'));
  // f2 is copied around instruction 20, so the edit re-runs about half the steps
  return { description: '40 mixed instructions', editFile: 'files/f2.txt', files, bytes };
};

const t1: Generator = async (dir, o) => {
  // The layers are written by RUN (seeded data would only make the context huge): urandom for the half that
  // does not compress, `yes` for the half that does. Built once, by tsbuild; what is measured is moving it.
  const half = (o.quick ? 16 : 128) * MB;
  const names = ['one', 'two', 'three', 'four'];
  await put(dir, 'Dockerfile', [
    `FROM ${o.baseImage}`,
    ...names.map((n, i) => `RUN head -c ${half} /dev/urandom > /r${i} && yes "layer ${n}: a log line with some words 0123456789" | head -c ${half} > /t${i}`),
    '',
  ].join('\n'));
  await put(dir, 'unused.txt', Buffer.from('not copied\n'));
  return { description: `push/pull of a ${(8 * half) / MB} MiB image in 4 layers (half random, half text)`, editFile: 'unused.txt', files: 2, bytes: 0 };
};

const GENERATORS: Readonly<Record<WorkloadName, Generator>> = { W1: w1, W2: w2, W3: w3, W4: w4, W5: w5, T1: t1 };

/** Writes workload `name` into the (new, empty) directory `dir`. */
export async function generateWorkload(name: WorkloadName, dir: string, o: WorkloadOptions): Promise<WorkloadInfo> {
  await mkdir(dir, { recursive: true });
  const g = await GENERATORS[name](dir, o);
  return { name, dir, ...g };
}

/** The deterministic edit for run `run`: appends one line to the workload's edit file in context `dir`. */
export async function applyEdit(dir: string, w: WorkloadInfo, run: number): Promise<void> {
  await appendFile(join(dir, w.editFile), `// bench edit ${run}\n`);
}
