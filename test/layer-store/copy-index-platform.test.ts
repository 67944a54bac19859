import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LayerStore, MediaTypes, buildIndex, copyImage, encodeDocument,
  type Descriptor, type ImageDestination, type BuildEvent,
} from '../../layer-store/index.js';
import { makeTestImage, validateStoredImage } from '../helpers/validate-image.js';

test('copyImage copies one platform of an index, or all of it, skipping blobs the destination has', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'tsbuild-copy-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const src = await LayerStore.open(join(base, 'src'));
  const shared = { 'etc/': '', 'etc/issue': 'hi\n' };
  const amd = await makeTestImage(src, 'm-amd64', [shared, { 'bin-amd64': 'x86' }], { dir: base, platform: { os: 'linux', architecture: 'amd64' } });
  const arm = await makeTestImage(src, 'm-arm64', [shared, { 'bin-arm64': 'arm' }], { dir: base, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  const idx = encodeDocument(buildIndex([
    { ...amd.descriptor, platform: { os: 'linux', architecture: 'amd64' } },
    { ...arm.descriptor, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
  ]), MediaTypes.ociIndex);
  const idxDesc = await src.putBytes(idx.bytes, idx.descriptor);
  await src.tag('multi:1', idxDesc);

  // one platform: only that child, committed under the tag
  const dst = await LayerStore.open(join(base, 'dst'));
  const events: BuildEvent[] = [];
  const got = await copyImage(src.source('multi:1'), dst.destination(), { platform: { os: 'linux', architecture: 'arm64' }, tags: ['copied:arm'], events: (e) => events.push(e), concurrency: 2 });
  assert.equal(got.digest, arm.descriptor.digest);
  assert.equal((await dst.resolve('copied:arm')).descriptor.digest, arm.descriptor.digest);
  await validateStoredImage(dst, got);
  assert.equal(await dst.hasBlob(amd.layers[1]!.digest), false, 'the other platform was not copied');
  assert.ok(events.some((e) => e.type === 'transfer' && e.done));

  // all platforms: the index itself, and blobs already present are not sent again
  const puts: string[] = [];
  const inner = dst.destination();
  const counting: ImageDestination = { ...inner, ref: inner.ref, hasBlob: inner.hasBlob, putManifest: inner.putManifest, commit: inner.commit, close: inner.close,
    putBlob: (body, want: Descriptor, o) => { puts.push(want.digest); return inner.putBlob(body, want, o); } };
  const all = await copyImage(src.source(idxDesc.digest), counting, { allPlatforms: true, tags: ['copied:all'] });
  assert.equal(all.digest, idxDesc.digest);
  assert.deepEqual(puts.sort(), [amd.config.digest, amd.layers[1]!.digest].sort(), 'only the missing amd64 blobs were copied');
  await validateStoredImage(dst, (await dst.resolve('copied:all')).descriptor);
  assert.equal((await dst.image('copied:all', { platform: { os: 'linux', architecture: 'amd64' } })).id, amd.config.digest);

  // a platform the index lacks is an error that names what exists
  await assert.rejects(copyImage(src.source('multi:1'), dst.destination(), { platform: { os: 'linux', architecture: 's390x' } }),
    (e: unknown) => (e as { code?: string }).code === 'IMAGE_NOT_FOUND' && /linux\/amd64, linux\/arm64\/v8/.test(String((e as { hint?: string }).hint)));
});
