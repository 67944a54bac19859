import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LayerStore, importRootfs } from '../../layer-store/index.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';

const run = promisify(execFile);

/** Returns `path type mode size link` for every entry under dir, sorted (GNU find). */
async function tree(dir: string): Promise<string> {
  const { stdout } = await run('find', ['.', '-printf', '%p %y %m %s %l\\n'], { cwd: dir, maxBuffer: 1 << 24 });
  return stdout.split('\n').filter((l) => l && !l.startsWith('. ')).map((l) => (l.includes(' d ') ? l.replace(/ d (\d+) \d+ /, ' d $1 - ') : l)).sort().join('\n');
}

test('umoci unpack of an imported image gives the tree that was imported', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
  const rf = await makeBusyboxRootfs({ tar: true });
  t.after(async () => {
    await rf.cleanup();
    await rm(base, { recursive: true, force: true });
  });
  const root = join(base, 'root');
  const store = await LayerStore.open(root);
  await importRootfs(store, rf.tar!, 'busybox');
  const bundle = join(base, 'bundle');
  await run('umoci', ['unpack', '--image', `${root}:docker.io/library/busybox:latest`, bundle]);
  const want = await tree(rf.dir);
  assert.ok(want.includes('./bin/busybox f'));
  assert.equal(await tree(join(bundle, 'rootfs')), want);
  // GNU tar lists the layer blob (gzip) with the same entries
  const [e] = await store.listImages();
  const img = await store.load(e!.descriptor);
  assert.equal(img.kind, 'image');
  if (img.kind !== 'image') return;
  const { stdout } = await run('tar', ['-tzf', store.blobPath(img.manifest.layers[0]!.digest)], { maxBuffer: 1 << 24 });
  assert.ok(stdout.split('\n').some((l) => l.replace(/^\.\//, '') === 'bin/busybox'));
});
