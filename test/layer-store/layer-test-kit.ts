/** Shared helpers for the layer tests (test/layer-store/layer-*.test.ts and ghsa-*.test.ts). */
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, lstatSync, mkdtempSync, readdirSync, readlinkSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import type { TestContext } from 'node:test';
import tarStream from 'tar-stream';
import { open as openFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { packLayer, diffToLayer, type PackOptions, type PackedLayer, type SegmentIndex, type SegmentReuse } from '../../layer-store/layer/index.js';

/** Returns a fresh temp dir removed after the test. */
export function tmp(t: TestContext, prefix = 'tsb-layer-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Packs `dir` into `file` and returns the packed layer. */
export async function packToFile(dir: string, file: string, o: Omit<PackOptions, 'sink'> = {}, diff = false): Promise<PackedLayer> {
  const opts = { ...o, sink: (s: Readable) => pipeline(s, createWriteStream(file)) };
  return diff ? diffToLayer(dir, opts) : packLayer(dir, opts);
}

export function open(file: string): Readable {
  return createReadStream(file);
}

export interface HostileEntry {
  header: Partial<tarStream.Header> & { name: string };
  body?: Buffer | string;
}

/** Returns a tar built with tar-stream's real encoder (an independent implementation from ours). */
export async function hostileTar(entries: readonly HostileEntry[], o: { gzip?: boolean } = {}): Promise<Buffer> {
  const p = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = (async () => { for await (const c of p) chunks.push(c as Buffer); })();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      const h = e.header as tarStream.Header;
      if (e.body === undefined) p.entry(h, cb);
      else p.entry(h, Buffer.from(e.body), cb);
    });
  }
  p.finalize();
  await done;
  const tar = Buffer.concat(chunks);
  return o.gzip ? gzipSync(tar) : tar;
}

/** Returns a listing (path, type, size, link, mode) of everything under `dir`, for before/after comparisons. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(p);
      const kind = st.isDirectory() ? 'd' : st.isSymbolicLink() ? `l->${readlinkSync(p)}` : st.isFile() ? `f:${st.size}:${readFileSync(p).toString('hex').slice(0, 64)}` : 'o';
      out.push(`${r} ${kind} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`);
      if (st.isDirectory()) walk(p, r);
    }
  };
  walk(dir, '');
  return out;
}

/**
 * A sandbox for hostile tests: `root/target` (apply here), `root/outside/canary` (must survive untouched),
 * and `snapshot()` of everything in root except target, to assert nothing was written outside the target.
 */
export function sandbox(t: TestContext): { root: string; target: string; outside: string; outsideState: () => string[] } {
  const root = tmp(t, 'tsb-ghsa-');
  const target = join(root, 'target');
  const outside = join(root, 'outside');
  execFileSync('mkdir', ['-p', target, outside]);
  execFileSync('sh', ['-c', `echo canary > ${outside}/canary`]);
  return { root, target, outside, outsideState: () => listTree(root).filter((l) => !l.startsWith('target')) };
}

/** Returns `tar -tvf` output (GNU tar) for a layer file. */
export function gnuTarList(file: string, extra: readonly string[] = []): string {
  return execFileSync('tar', [...extra, '-tvf', file], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC', LC_ALL: 'C.UTF-8' } });
}

/** Reads a whole stream into memory (small test layers only). */
export async function readAll(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

export function sh(cmd: string): string {
  return execFileSync('sh', ['-c', cmd], { encoding: 'utf8' });
}

/** Returns a reuse source reading `file` with positioned reads; the handle is closed after the test. */
export async function reuseOf(t: { after: (fn: () => Promise<void>) => void }, file: string, index: SegmentIndex): Promise<SegmentReuse> {
  const fh = await openFile(file, 'r');
  t.after(() => fh.close());
  return {
    index,
    read: async (offset, length) => {
      const b = Buffer.alloc(length);
      const { bytesRead } = await fh.read(b, 0, length, offset);
      return b.subarray(0, bytesRead);
    },
  };
}

/** Files must be older than the racy margin (100 ms) before the walk for their segments to get fingerprints. */
export const settle = (): Promise<void> => sleep(250);

export { Readable };
