import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry } from '../helpers/registry.js';
import { startTokenServer } from '../helpers/token-server.js';
import { Credential, RegistryClient, parseReference, staticKeychain } from '../../registry-client/index.js';
import { makeImage, pullAll, pushImage } from './fixture.js';

test('a cached token the registry no longer accepts is replaced once on 401 during a push', async (t) => {
  const ts = await startTokenServer({ users: { bob: 'pw' }, staleTokens: 1 });
  t.after(() => ts.stop());
  const reg = await startRegistry({ mode: 'token', token: ts });
  t.after(() => reg.stop());
  const client = new RegistryClient({ chunkSize: 64 * 1024, keychain: staticKeychain({ [reg.host]: new Credential({ source: 'test', username: 'bob', password: 'pw' }) }) });
  t.after(() => client.close());
  const img = await makeImage([200_000]);
  const ref = parseReference(`${reg.host}/exp/app:v1`);
  await pushImage(client.destination(ref), img, []);
  const push = ts.requests.filter((r) => r.scopes.includes('repository:exp/app:pull,push'));
  assert.equal(push.length, 2, 'the stale token, then one fresh token for the whole push');
  assert.equal((await pullAll(client.source(ref))).manifest.digest, img.manifest.digest);
});
