/**
 * A push or pull spends no round trip and no connection it does not need: one keep-alive connection carries a
 * pull's or a push's requests one after another (an HTTP client returns a socket to its pool only after its
 * response ended and was read to the end; undici also closed it after a HEAD unless told not to), and a tagged push
 * PUTs its manifest once, under the tag. Connections are counted at a TCP relay in front of a real registry; requests in the registry's log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayerStore, copyImage } from '../../layer-store/index.js';
import { startRegistry } from '../helpers/registry.js';
import { startTcpRelay } from '../helpers/tcp-relay.js';
import { RegistryClient, parseReference } from '../../registry-client/index.js';
import { makeImage, pushImage } from './fixture.js';

/** The requests distribution logged after log offset `from`, as `METHOD path`. */
function requests(log: string, from: number): string[] {
  return log.slice(from).split('\n').filter((l) => l.includes('response completed')).map((l) => {
    const m = /http\.request\.method=(\w+)/.exec(l);
    const u = /http\.request\.uri=(?:"([^"]*)"|(\S+))/.exec(l); // logrus quotes a value only when it must
    return `${m?.[1] ?? '?'} ${u?.[1] ?? u?.[2] ?? '?'}`;
  });
}

test('a pull and a push, one blob at a time, use one connection each; a tagged push PUTs its manifest once', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const relay = await startTcpRelay(reg.port);
  t.after(() => relay.stop());
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const img = await makeImage([30_000, 20_000, 10_000, 5000]);
  const seed = new RegistryClient();
  t.after(() => seed.close());
  await pushImage(seed.destination(parseReference(`${reg.host}/conn/app:v1`)), img, []);

  // Pull through the relay: ping, manifest, config and four layers, one after another, on one connection.
  const store = await LayerStore.open(root);
  const puller = new RegistryClient();
  await copyImage(puller.source(parseReference(`${relay.host}/conn/app:v1`)), store.destination(), { tags: ['app:v1'], concurrency: 1 });
  await puller.close();
  assert.equal(relay.connections(), 1, 'the pull reused its connection for all 7 requests');

  // Push it back under a new name: one PUT of the manifest (by tag, which also makes it reachable by digest).
  const mark = reg.log().length;
  const before = relay.connections();
  const pusher = new RegistryClient({ concurrency: 1 });
  const d = await copyImage(store.source('app:v1'), pusher.destination(parseReference(`${relay.host}/conn/copy:v2`)), { concurrency: 1 });
  await pusher.close();
  assert.equal(d.digest, img.manifest.digest);
  // distribution logs a request after answering it: wait for the last one to appear.
  for (let i = 0; i < 50 && !reg.log().slice(mark).includes('/v2/conn/copy/manifests/v2'); i++) await new Promise((r) => setTimeout(r, 100));
  const reqs = requests(reg.log(), mark);
  assert.deepEqual(reqs.filter((r) => r.startsWith('PUT /v2/conn/copy/manifests/')), ['PUT /v2/conn/copy/manifests/v2'], reqs.join(', '));
  const heads = reqs.filter((r) => r.startsWith('HEAD ')).length;
  assert.equal(heads, 5, 'one HEAD per blob');
  // All 17 requests (ping, 5 HEADs, 5 POSTs, 5 PUTs, the manifest) on one kept-alive connection (undici's
  // default closed the connection after a HEAD; Node's client keeps a connection out of its pool until its response is read out).
  assert.equal(relay.connections() - before, 1, `connections of the push (requests: ${reqs.join(', ')})`);

  // The pushed image is whole, reachable by tag and by digest.
  const check = new RegistryClient();
  t.after(() => check.close());
  const byDigest = await check.source(parseReference(`${reg.host}/conn/copy@${img.manifest.digest}`)).getManifest(img.manifest.digest);
  assert.equal(byDigest.digest, img.manifest.digest);
  assert.equal((await check.source(parseReference(`${reg.host}/conn/copy:v2`)).getManifest()).digest, img.manifest.digest);
});
