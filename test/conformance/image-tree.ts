/**
 * Flattens an image in the store into a map path → node (type, mode, owner, link target, content of regular
 * files), applying its layers base first with OCI whiteouts, so a conformance case can assert on the image's
 * final filesystem the way BuildKit's tests assert on an exported one.
 */
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import type { LayerStore } from '../../layer-store/index.js';

export interface TreeNode {
  readonly type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Modification time, Unix seconds. */
  readonly mtime: number;
  readonly linkTarget?: string;
  /** The bytes of a regular file (hardlinks share the node of their target). */
  readonly content?: Buffer;
}

const KINDS: Record<string, TreeNode['type']> = {
  file: 'file', 'contiguous-file': 'file', directory: 'dir', symlink: 'symlink', link: 'hardlink',
};

/** Returns `/`-rooted absolute paths for a tar entry name (`./a/b/` → `/a/b`). */
function absolute(name: string): string {
  const p = posix.normalize('/' + name).replace(/\/+$/, '');
  return p === '' ? '/' : p;
}

async function layerEntries(bytes: Buffer): Promise<Array<{ path: string; node: TreeNode; linkname?: string }>> {
  const data = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
  const ex = extract();
  const out: Array<{ path: string; node: TreeNode; linkname?: string }> = [];
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        const type = KINDS[h.type ?? 'file'] ?? 'other';
        const node: TreeNode = {
          type, mode: (h.mode ?? 0) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0,
          mtime: Math.floor((h.mtime?.getTime() ?? 0) / 1000),
          ...(type === 'symlink' ? { linkTarget: h.linkname ?? '' } : {}),
          ...(type === 'file' ? { content: Buffer.concat(chunks) } : {}),
        };
        out.push({ path: absolute(h.name), node, ...(type === 'hardlink' ? { linkname: absolute(h.linkname ?? '') } : {}) });
        next();
      });
      stream.on('error', reject);
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(data);
  await done;
  return out;
}

function removeTree(tree: Map<string, TreeNode>, path: string): void {
  tree.delete(path);
  for (const k of [...tree.keys()]) if (k.startsWith(path === '/' ? '/' : path + '/')) tree.delete(k);
}

/** Returns the flattened filesystem of image `ref` in `store` (the root `/` itself is left out). */
export async function imageTree(store: LayerStore, ref: string): Promise<Map<string, TreeNode>> {
  const img = await store.image(ref);
  const tree = new Map<string, TreeNode>();
  for (const layer of img.manifest.layers) {
    const entries = await layerEntries(await readFile(store.blobPath(layer.digest)));
    for (const { path } of entries) {
      const base = posix.basename(path);
      const dir = posix.dirname(path);
      if (base === '.wh..wh..opq') {
        for (const k of [...tree.keys()]) if (k.startsWith(dir === '/' ? '/' : dir + '/')) tree.delete(k);
      } else if (base.startsWith('.wh.')) {
        removeTree(tree, posix.join(dir, base.slice(4)));
      }
    }
    for (const { path, node, linkname } of entries) {
      if (path === '/' || posix.basename(path).startsWith('.wh.')) continue;
      const existing = tree.get(path);
      if (existing?.type === 'dir' && node.type !== 'dir') removeTree(tree, path);
      if (linkname !== undefined) {
        const target = tree.get(linkname);
        if (target) { tree.set(path, target); continue; }
      }
      tree.set(path, node);
    }
  }
  return tree;
}
