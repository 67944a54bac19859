import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  LayerStore, MediaTypes, buildIndex, copyImage, encodeDocument, parseManifest, toDockerManifest, toOciManifest,
} from '../../layer-store/index.js';
import { makeTestImage, validateStoredImage } from '../helpers/validate-image.js';

const run = promisify(execFile);

test('Docker v2 schema 2 manifests and manifest lists are read, written on request, and copied unchanged', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'tsbuild-v2s2-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const store = await LayerStore.open(join(base, 'a'));
  const img = await makeTestImage(store, 'oci', [{ f: 'x' }], { dir: base });
  const oci = await store.image('oci');
  const docker = toDockerManifest(oci.manifest);
  assert.equal(docker.mediaType, MediaTypes.dockerManifest);
  assert.equal(docker.config.mediaType, MediaTypes.dockerConfig);
  assert.equal(docker.layers[0]!.mediaType, MediaTypes.dockerLayerGzip);
  assert.deepEqual(toOciManifest(docker), oci.manifest, 'the conversion round-trips');
  const dm = encodeDocument(docker, MediaTypes.dockerManifest);
  const dmDesc = await store.putBytes(dm.bytes, dm.descriptor);
  const list = encodeDocument(buildIndex([{ ...dmDesc, platform: { os: 'linux', architecture: 'amd64' } }], { format: 'docker' }), MediaTypes.dockerManifestList);
  assert.equal(parseManifest(list.bytes).kind, 'index');
  const listDesc = await store.putBytes(list.bytes, list.descriptor);
  await store.tag('dockerish:list', listDesc);
  await store.tag('dockerish:one', dmDesc);

  const one = await store.resolve('dockerish:one');
  assert.equal(one.kind, 'image');
  assert.equal(one.descriptor.mediaType, MediaTypes.dockerManifest);
  assert.equal(one.id, img.config.digest);
  // Known limit of skopeo 1.9's oci: transport: it lists only OCI-typed index.json entries, so a Docker-typed
  // image is invisible to it by name (tsbuild itself reads it; `tsbuild save` exports it).
  await assert.rejects(run('skopeo', ['inspect', '--raw', `oci:${store.root}:docker.io/library/dockerish:one`]), /no descriptor found/);

  const dst = await LayerStore.open(join(base, 'b'));
  const got = await copyImage(store.source('dockerish:list'), dst.destination(), { allPlatforms: true, tags: ['copy'] });
  assert.equal(got.digest, listDesc.digest, 'the manifest list is copied byte for byte');
  await validateStoredImage(dst, got);
  assert.equal((await dst.image('copy', { platform: { os: 'linux', architecture: 'amd64' } })).id, img.config.digest);

  // convertToOci: the same blobs under OCI documents, which skopeo then reads by name
  const conv = await copyImage(store.source('dockerish:list'), dst.destination(), { allPlatforms: true, tags: ['converted'], convertToOci: true });
  assert.equal(conv.mediaType, MediaTypes.ociIndex);
  await validateStoredImage(dst, conv);
  const child = await dst.image('converted', { platform: { os: 'linux', architecture: 'amd64' } });
  assert.equal(child.descriptor.digest, oci.descriptor.digest, 'converting back gives the original OCI manifest');
  const { stdout } = await run('skopeo', ['inspect', `oci:${dst.root}:docker.io/library/converted:latest`]);
  assert.equal(JSON.parse(stdout).Digest, conv.digest, 'skopeo reports the top-level (index) digest');
});
