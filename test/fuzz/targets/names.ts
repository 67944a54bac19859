/**
 * The `names` fuzz target: file names are bytes. Each input is a small tree whose names are
 * arbitrary bytes (Latin-1, stray continuation bytes, truncated and overlong sequences, UTF-8-encoded
 * surrogates, code points over U+10FFFF, a real U+FFFD, valid multi-byte UTF-8, whiteout prefixes) and whose
 * symlink targets are too. Properties, each a PropertyFailure('roundtrip') when broken:
 *
 * - the codec (layer-store core/file-names.ts): encodeName(decodeName(b)) = b; the name is plain exactly when b is
 *   valid UTF-8; compareNameBytes orders as the bytes do;
 * - the context walker (builder/context walkContext) reports exactly the paths on disk, as bytes, in byte order;
 * - the tar writer (packLayer) and reader (TarReader) carry every path and link target byte for byte;
 * - applyLayer of that tar re-creates the same tree (names, file contents, link targets) as bytes.
 */
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { ContextMatcher, walkContext } from '../../../builder/index.js';
import { applyLayer, compareNameBytes, decodeName, encodeName, isPlainName, packLayer, TarReader } from '../../../layer-store/index.js';
import { PropertyFailure } from '../harness.js';

const INTERESTING: readonly number[][] = [
  [0xe9], [0xff], [0xfe], [0x80], [0xbf], [0xc3], [0xc3, 0xa9], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf],
  [0xef, 0xbf, 0xbd], [0xf4, 0x90, 0x80, 0x80], [0xf0, 0x9f, 0x98, 0x80], [0xf0, 0x9f, 0x98], [0xf5], [0xe2, 0x82], [0x5c, 0x78, 0x65, 0x39],
  [0x2e, 0x77, 0x68, 0x2e], [0x20], [0x0a], [0x2a], [0x3f], [0x5b], [0x21],
];

/** One name: 1-24 bytes, never NUL or '/', never '.' or '..'. */
export const nameBytes: fc.Arbitrary<Buffer> = fc.array(fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...INTERESTING) },
  { weight: 3, arbitrary: fc.integer({ min: 0x61, max: 0x7a }).map((b) => [b]) },
  { weight: 2, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((b) => [b]) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 0xff }).filter((b) => b !== 0x2f).map((b) => [b]) },
), { minLength: 1, maxLength: 8 }).map((parts) => Buffer.from(parts.flat().slice(0, 24)))
  .filter((b) => !b.equals(Buffer.from('.')) && !b.equals(Buffer.from('..')));

export interface NamesInput {
  /** Entries in creation order: `parent` indexes an earlier 'dir' entry (or -1 for the root). */
  readonly entries: readonly { readonly parent: number; readonly name: Buffer; readonly kind: 'file' | 'dir' | 'symlink'; readonly target: Buffer }[];
}

export const namesInput: fc.Arbitrary<NamesInput> = fc.record({
  entries: fc.array(fc.record({
    parent: fc.integer({ min: -1, max: 7 }),
    name: nameBytes,
    kind: fc.constantFrom<'file' | 'dir' | 'symlink'>('file', 'file', 'dir', 'dir', 'symlink'),
    target: fc.array(nameBytes, { minLength: 1, maxLength: 3 }).map((ps) => Buffer.concat(ps.flatMap((p, i) => (i === 0 ? [p] : [Buffer.from('/'), p])))),
  }), { minLength: 1, maxLength: 8 }),
});

const utf8 = new TextDecoder('utf-8', { fatal: true });
function validUtf8(b: Buffer): boolean {
  try { utf8.decode(b); return true; } catch { return false; }
}

/** Every path below `dir` as bytes ('/'-joined), depth first, each directory's names in byte order, with its kind. */
function byteTree(dir: Buffer, rel: Buffer | undefined, out: Map<string, string>): void {
  const names = readdirSync(dir, { encoding: 'buffer' }).sort(Buffer.compare);
  for (const n of names) {
    const p = Buffer.concat([dir, Buffer.from('/'), n]);
    const r = rel ? Buffer.concat([rel, Buffer.from('/'), n]) : n;
    const st = lstatSync(p);
    const key = r.toString('latin1');
    if (st.isDirectory()) { out.set(key, 'dir'); byteTree(p, r, out); }
    else if (st.isSymbolicLink()) out.set(key, `symlink:${readlinkSync(p, { encoding: 'buffer' }).toString('hex')}`);
    else out.set(key, `file:${readFileSync(p).toString('hex')}`);
  }
}

function fail(what: string, detail: unknown): never {
  throw new PropertyFailure('roundtrip', `${what}: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`);
}

function checkCodec(names: readonly Buffer[]): void {
  for (const b of names) {
    const s = decodeName(b);
    if (!encodeName(s).equals(b)) fail('encodeName(decodeName(b)) differs from b', b.toString('hex'));
    if (isPlainName(s) !== validUtf8(b)) fail('isPlainName disagrees with UTF-8 validity', b.toString('hex'));
  }
  for (let i = 1; i < names.length; i++) {
    const a = names[i - 1]!;
    const b = names[i]!;
    if (Math.sign(compareNameBytes(decodeName(a), decodeName(b))) !== Math.sign(Buffer.compare(a, b))) fail('compareNameBytes disagrees with the bytes', [a.toString('hex'), b.toString('hex')]);
  }
}

/** Runs one input in a fresh directory under `base`. */
export async function runNames(base: string, input: NamesInput): Promise<void> {
  checkCodec([...input.entries.map((e) => e.name), ...input.entries.map((e) => e.target)]);
  const root = mkdtempSync(join(base, 'n-'));
  try {
    const ctx = Buffer.from(join(root, 'ctx'));
    mkdirSync(ctx);
    const dirs: Buffer[] = [];
    const made: (Buffer | undefined)[] = [];
    for (const e of input.entries) {
      const parent = e.parent >= 0 && made[e.parent] !== undefined && input.entries[e.parent]!.kind === 'dir' ? made[e.parent]! : ctx;
      const p = Buffer.concat([parent, Buffer.from('/'), e.name]);
      try {
        if (e.kind === 'dir') { mkdirSync(p); dirs.push(p); } else if (e.kind === 'symlink') symlinkSync(e.target, p); else writeFileSync(p, e.name);
        made.push(p);
      } catch {
        made.push(undefined); // the name exists already
      }
    }
    const want = new Map<string, string>();
    byteTree(ctx, undefined, want);
    const wantPaths = [...want.keys()];
    // the walker
    const walked: string[] = [];
    for await (const e of walkContext(ctx.toString('utf8'), ContextMatcher.none)) walked.push(encodeName(e.relPath).toString('latin1'));
    if (walked.join('\n') !== wantPaths.join('\n')) fail('walkContext paths differ from the bytes on disk', { walked, want: wantPaths });
    // the tar writer and reader
    const chunks: Buffer[] = [];
    await packLayer(ctx.toString('utf8'), { compression: 'none', xattrs: false, sink: async (s) => { for await (const c of s) chunks.push(c as Buffer); } });
    const reader = new TarReader(Readable.from([Buffer.concat(chunks)]));
    const inTar = new Map<string, string>();
    for (let h = await reader.next(); h !== null; h = await reader.next()) {
      const key = encodeName(h.name.replace(/\/$/, '')).toString('latin1');
      if (h.type === 'symlink') inTar.set(key, `symlink:${encodeName(h.linkname ?? '').toString('hex')}`);
      else if (h.type === 'dir') inTar.set(key, 'dir');
      else {
        const body: Buffer[] = [];
        for await (const c of reader.body()) body.push(c);
        inTar.set(key, `file:${Buffer.concat(body).toString('hex')}`);
      }
    }
    if (JSON.stringify([...inTar]) !== JSON.stringify([...want])) fail('the tar differs from the tree', { tar: [...inTar], want: [...want] });
    // apply (a name starting with `.wh.` is a whiteout in a layer: such a tree cannot round-trip, by the OCI format)
    if (wantPaths.some((k) => k.split('/').some((c) => c.startsWith('.wh.')))) return;
    const target = join(root, 'target');
    mkdirSync(target);
    await applyLayer(Readable.from([Buffer.concat(chunks)]), target, { xattrs: false });
    const applied = new Map<string, string>();
    byteTree(Buffer.from(target), undefined, applied);
    if (JSON.stringify([...applied]) !== JSON.stringify([...want])) fail('applyLayer made a different tree', { applied: [...applied], want: [...want] });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** A scratch directory for the target's inputs (removed by the caller). */
export function namesSandbox(): string {
  return mkdtempSync(join(tmpdir(), 'tsb-fuzz-names-'));
}
