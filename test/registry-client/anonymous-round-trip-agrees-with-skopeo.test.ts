import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startRegistry } from '../helpers/registry.js';
import { RegistryClient, parseReference } from '../../registry-client/index.js';
import { makeImage, pullAll, pushImage } from './fixture.js';

test('push then pull through an anonymous registry: identical digests, and skopeo sees the same manifest digest', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const client = new RegistryClient();
  t.after(() => client.close());
  const img = await makeImage([2048, 100_000, 300_000]);
  const ref = parseReference(`${reg.host}/team/app:v1`);
  await pushImage(client.destination(ref), img, ['v1', 'extra']);

  const pulled = await pullAll(client.source(ref));
  assert.equal(pulled.manifest.digest, img.manifest.digest);
  assert.deepEqual(Buffer.from(pulled.manifest.bytes), Buffer.from(img.manifest.bytes));
  for (const [d, bytes] of img.blobs) assert.deepEqual(pulled.blobs.get(d), bytes, `blob ${d}`);

  const out = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/team/app:v1`], { encoding: 'utf8' })) as object;
  assert.deepEqual(out, JSON.parse(Buffer.from(img.manifest.bytes).toString('utf8')));
  const info = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${reg.host}/team/app:extra`], { encoding: 'utf8' })) as { Digest: string };
  assert.equal(info.Digest, img.manifest.digest);
  assert.deepEqual(await client.listTags(ref), ['extra', 'v1']);
});
