/**
 * Describes an image the same way for BuildKit's output and tsbuild's: flattens a docker-archive (the file
 * `docker save` / `skopeo copy … docker-archive:` writes, or its extracted directory) by applying its layers
 * in order with OCI/Docker whiteouts, and returns the flattened tree plus the config fields the equivalence
 * test compares. Used by test/equivalence/generate.sh (through tsx) and by equivalence.test.ts.
 *
 * Tree entries are one line each, keyed by path (no leading slash, the root itself is left out):
 *   `dir 0755 0:0`, `file 0644 0:0 size=12 sha256=…`, `symlink 0:0 -> target` (symlink modes are always
 *   0777 on Linux, so they are not compared), `char 0666 0:0 dev=1,3`, `fifo 0644 0:0`, plus ` hardlinks=P`
 *   on every file whose inode is shared by several paths (P = the group's smallest path). Mtimes are excluded.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, chmodSync, lchownSync, symlinkSync, mkdirSync, copyFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { extract, type Header } from 'tar-stream';

/** The image config fields compared (absent, null and "" are all written as null). */
export const CONFIG_FIELDS = [
  'Env', 'Entrypoint', 'Cmd', 'WorkingDir', 'User', 'ExposedPorts', 'Volumes', 'Labels', 'StopSignal',
  'Healthcheck', 'Shell', 'OnBuild',
] as const;

export interface ImageDescription {
  config: Record<string, unknown>;
  tree: Record<string, string>;
}

interface Inode {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  sha256?: string;
  linkTarget?: string;
  dev?: string;
}

interface LayerEntry {
  path: string;
  header: Header;
  sha256?: string;
  size: number;
}

const TYPES: Record<string, string> = {
  file: 'file', 'contiguous-file': 'file', directory: 'dir', symlink: 'symlink', link: 'hardlink',
  'character-device': 'char', 'block-device': 'block', fifo: 'fifo',
};

function normalize(name: string): string {
  const p = posix.normalize('/' + name).replace(/^\/+/, '').replace(/\/+$/, '');
  return p === '.' ? '' : p;
}

async function readLayer(bytes: Buffer): Promise<LayerEntry[]> {
  const data = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
  const ex = extract();
  const entries: LayerEntry[] = [];
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const hash = createHash('sha256');
      let size = 0;
      stream.on('data', (c: unknown) => { const b = c as Buffer; hash.update(b); size += b.length; });
      stream.on('end', () => {
        const entry: LayerEntry = { path: normalize(header.name), header, size };
        if (TYPES[header.type ?? 'file'] === 'file') entry.sha256 = hash.digest('hex');
        entries.push(entry);
        next();
      });
      stream.on('error', reject);
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(data);
  await done;
  return entries;
}

function removeTree(state: Map<string, Inode>, path: string): void {
  state.delete(path);
  const prefix = path === '' ? '' : path + '/';
  for (const k of [...state.keys()]) if (k.startsWith(prefix)) state.delete(k);
}

/** Applies one layer onto the flattened state: whiteouts first (they hide lower layers only), then entries. */
function applyLayer(state: Map<string, Inode>, entries: LayerEntry[]): void {
  for (const e of entries) {
    const base = basename(e.path);
    if (base === '.wh..wh..opq') {
      const dir = dirname(e.path) === '.' ? '' : dirname(e.path);
      const prefix = dir === '' ? '' : dir + '/';
      for (const k of [...state.keys()]) if (k.startsWith(prefix) && k !== dir) state.delete(k);
    } else if (base.startsWith('.wh.')) {
      const dir = dirname(e.path) === '.' ? '' : dirname(e.path);
      removeTree(state, posix.join(dir, base.slice(4)));
    }
  }
  for (const e of entries) {
    if (e.path === '' || basename(e.path).startsWith('.wh.')) continue;
    const h = e.header;
    const type = TYPES[h.type ?? 'file'] ?? `unknown(${String(h.type)})`;
    const existing = state.get(e.path);
    if (existing && existing.type === 'dir' && type !== 'dir') removeTree(state, e.path);
    if (type === 'hardlink') {
      const target = state.get(normalize(h.linkname ?? ''));
      state.set(e.path, target ?? { type: `hardlink-to-missing(${h.linkname ?? ''})`, mode: 0, uid: 0, gid: 0, size: 0 });
      continue;
    }
    const node: Inode = { type, mode: (h.mode ?? 0) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0, size: e.size };
    if (e.sha256 !== undefined) node.sha256 = e.sha256;
    if (type === 'symlink') node.linkTarget = h.linkname ?? '';
    if (type === 'char' || type === 'block') node.dev = `${h.devmajor ?? 0},${h.devminor ?? 0}`;
    state.set(e.path, node);
  }
}

function describeTree(state: Map<string, Inode>): Record<string, string> {
  const groups = new Map<Inode, string[]>();
  for (const [p, n] of state) {
    if (n.type !== 'file') continue;
    const g = groups.get(n);
    if (g) g.push(p); else groups.set(n, [p]);
  }
  const tree: Record<string, string> = {};
  for (const p of [...state.keys()].sort()) {
    const n = state.get(p)!;
    const mode = n.mode.toString(8).padStart(4, '0');
    let line: string;
    switch (n.type) {
      case 'file': line = `file ${mode} ${n.uid}:${n.gid} size=${n.size} sha256=${n.sha256 ?? ''}`; break;
      case 'symlink': line = `symlink ${n.uid}:${n.gid} -> ${n.linkTarget ?? ''}`; break;
      case 'char': case 'block': line = `${n.type} ${mode} ${n.uid}:${n.gid} dev=${n.dev ?? ''}`; break;
      default: line = `${n.type} ${mode} ${n.uid}:${n.gid}`;
    }
    const g = groups.get(n);
    if (g && g.length > 1) line += ` hardlinks=${[...g].sort()[0]}`;
    tree[p] = line;
  }
  return tree;
}

/** Sorts object keys recursively: JSON object order carries no meaning (Go writes maps sorted). */
export function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, canonical(o[k])]));
  }
  return v;
}

function pickConfig(cfg: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of CONFIG_FIELDS) {
    const v = cfg[f];
    out[f] = v === undefined || v === null || v === '' ? null : canonical(v);
  }
  return out;
}

/** Flattens and describes a docker-archive (a .tar file or its extracted directory). */
export async function describeImage(tarOrDir: string): Promise<ImageDescription> {
  let dir = tarOrDir;
  let tmp: string | undefined;
  if (!statSync(tarOrDir).isDirectory()) {
    tmp = mkdtempSync(join(tmpdir(), 'eq-describe-'));
    execFileSync('tar', ['-xf', tarOrDir, '-C', tmp]);
    dir = tmp;
  }
  try {
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Array<{ Config: string; Layers: string[] }>;
    const m = manifest[0];
    if (!m) throw new Error(`${tarOrDir}: manifest.json lists no image`);
    const config = JSON.parse(readFileSync(join(dir, m.Config), 'utf8')) as { config?: Record<string, unknown> };
    const state = new Map<string, Inode>();
    for (const layer of m.Layers) applyLayer(state, await readLayer(readFileSync(join(dir, layer))));
    return { config: pickConfig(config.config ?? {}), tree: describeTree(state) };
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Copies a fixture directory to DEST as the build context, so both builders see identical inputs whatever the
 * checkout's umask: expected.json is left out, directories get 0755, files 0755 if executable else 0644,
 * symlinks are kept as they are, everything is owned by 0:0.
 */
export function prepareContext(src: string, dest: string, top = true): void {
  mkdirSync(dest, { recursive: true });
  chmodSync(dest, 0o755);
  for (const name of readdirSync(src).sort()) {
    if (top && name === 'expected.json') continue; // the fixture's test data, not part of its context
    const from = join(src, name);
    const to = join(dest, name);
    const st = lstatSync(from);
    if (st.isSymbolicLink()) {
      symlinkSync(readlinkSync(from), to);
      lchownSync(to, 0, 0);
    } else if (st.isDirectory()) {
      prepareContext(from, to, false);
    } else {
      copyFileSync(from, to);
      chmodSync(to, st.mode & 0o111 ? 0o755 : 0o644);
    }
  }
  lchownSync(dest, 0, 0);
}

/** Lists the fixture names (subdirectories of fixtures/equivalence holding a Dockerfile). */
export function listFixtures(fixturesDir: string): string[] {
  return readdirSync(fixturesDir).filter((n) => {
    try { return statSync(join(fixturesDir, n, 'Dockerfile')).isFile(); } catch { return false; }
  }).sort();
}

// Command line, for generate.sh: `tsx describe.ts ARCHIVE OUT.json [SOURCE]` writes the description as JSON
// (SOURCE, a note on what produced the archive, is stored as "generatedBy").
const argv = process.argv;
if (argv[1] && /describe\.(ts|js)$/.test(argv[1]) && argv.length >= 4) {
  const [, , archive, out, source] = argv as [string, string, string, string, string | undefined];
  const d = await describeImage(archive);
  writeFileSync(out, JSON.stringify({ generatedBy: source ?? null, ...d }, null, 2) + '\n');
}
