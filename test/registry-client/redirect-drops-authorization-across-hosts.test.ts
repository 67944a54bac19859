import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry } from '../helpers/registry.js';
import { faultTimes, startFaultyProxy } from '../helpers/faulty-proxy.js';
import { Credential, RegistryClient, parseReference, staticKeychain } from '../../registry-client/index.js';
import { makeImage, readAll, pushImage } from './fixture.js';

test('a blob GET redirected to another host is followed without the Authorization header', async (t) => {
  const priv = await startRegistry({ mode: 'htpasswd', users: { u: 'p' } });
  t.after(() => priv.stop());
  const storage = await startRegistry(); // stands in for blob storage on another host
  t.after(() => storage.stop());
  const front = await startFaultyProxy(priv.host);
  t.after(() => front.stop());
  const back = await startFaultyProxy(storage.host);
  t.after(() => back.stop());
  const img = await makeImage([2000]);
  const client = new RegistryClient({ keychain: staticKeychain({ [front.host]: new Credential({ source: 'test', username: 'u', password: 'p' }) }) });
  t.after(() => client.close());
  await pushImage(client.destination(parseReference(`${front.host}/r/app:v1`)), img, []);
  const anon = new RegistryClient();
  t.after(() => anon.close());
  await pushImage(anon.destination(parseReference(`${storage.host}/r/app:v1`)), img, []);

  const layer = img.layers[0]!;
  const otherHost = `http://localhost:${back.host.split(':')[1]}`;
  front.setRule(faultTimes((r) => r.method === 'GET' && r.url.includes(`/blobs/${layer.digest}`), { kind: 'redirect', to: otherHost }, 1));
  const bytes = await readAll(await client.source(parseReference(`${front.host}/r/app:v1`)).getBlob(layer));
  assert.deepEqual(bytes, img.blobs.get(layer.digest));
  const redirected = front.log.find((e) => e.fault === 'redirect');
  assert.equal(redirected?.authorization, true, 'the registry itself got credentials');
  const followed = back.log.filter((e) => e.url.includes(`/blobs/${layer.digest}`) && e.method === 'GET');
  assert.equal(followed.length, 1);
  assert.equal(followed[0]?.authorization, false, 'the other host got no Authorization');
});
