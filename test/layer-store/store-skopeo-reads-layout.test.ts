import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LayerStore, importRootfs } from '../../layer-store/index.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';
import { validateOci } from '../helpers/oci-schema.js';
import { validateStoredImage } from '../helpers/validate-image.js';

const run = promisify(execFile);

test('skopeo inspects and copies an imported image straight from the store (oci:<root>:<full name>)', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
  const rf = await makeBusyboxRootfs({ tar: true });
  t.after(async () => {
    await rf.cleanup();
    await rm(base, { recursive: true, force: true });
  });
  const root = join(base, 'root');
  const store = await LayerStore.open(root);
  const r = await importRootfs(store, rf.tar!, 'busybox:1.0');
  await validateStoredImage(store, r.descriptor);

  // every JSON document the store wrote validates against the OCI schemas
  validateOci('layout', JSON.parse(await readFile(join(root, 'oci-layout'), 'utf8')));
  validateOci('index', JSON.parse(await readFile(join(root, 'index.json'), 'utf8')));
  validateOci('manifest', JSON.parse((await store.readBlob(r.descriptor.digest)).toString()));
  validateOci('config', JSON.parse((await store.readBlob(r.configDescriptor.digest)).toString()));

  const { stdout } = await run('skopeo', ['inspect', `oci:${root}:docker.io/library/busybox:1.0`]);
  const info = JSON.parse(stdout) as { Digest: string; Layers: string[]; Architecture: string; Os: string };
  assert.equal(info.Digest, r.descriptor.digest);
  assert.deepEqual(info.Layers, [r.layer.digest]);
  assert.equal(info.Os, 'linux');
  const { stdout: cfg } = await run('skopeo', ['inspect', '--config', `oci:${root}:docker.io/library/busybox:1.0`]);
  assert.deepEqual(JSON.parse(cfg).rootfs.diff_ids, [r.diffId]);

  // skopeo copy out of the store and back into a second tsbuild store: same digests, store still valid
  const other = join(base, 'other');
  const store2 = await LayerStore.open(other);
  await run('skopeo', ['copy', '--quiet', `oci:${root}:docker.io/library/busybox:1.0`, `oci:${other}:docker.io/library/copied:x`]);
  const got = await store2.resolve('copied:x');
  assert.equal(got.descriptor.digest, r.descriptor.digest);
  await validateStoredImage(store2, got.descriptor);
});
