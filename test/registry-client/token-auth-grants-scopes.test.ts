import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry } from '../helpers/registry.js';
import { startTokenServer } from '../helpers/token-server.js';
import { AuthError, Credential, RegistryClient, parseReference, staticKeychain } from '../../registry-client/index.js';
import type { BuildEvent } from '../../layer-store/core/index.js';
import { makeImage, pullAll, pushImage } from './fixture.js';

test('Bearer token flow: push with credentials, anonymous pull, and a denied push names requested and granted scopes', async (t) => {
  const ts = await startTokenServer({ users: { bob: 'pw-bob' } });
  t.after(() => ts.stop());
  const reg = await startRegistry({ mode: 'token', token: ts });
  t.after(() => reg.stop());
  const img = await makeImage([3000, 4000]);
  const ref = parseReference(`${reg.host}/tok/app:v1`);

  const events: BuildEvent[] = [];
  const bob = new RegistryClient({ keychain: staticKeychain({ [reg.host]: new Credential({ source: 'test', username: 'bob', password: 'pw-bob' }) }), events: (e) => events.push(e) });
  t.after(() => bob.close());
  await pushImage(bob.destination(ref), img, []);
  const pushTokens = ts.requests.filter((r) => r.user === 'bob');
  assert.ok(pushTokens.length >= 1);
  assert.ok(pushTokens.length <= 2, `tokens are cached per scope: ${pushTokens.length} token requests`);
  assert.ok(pushTokens.some((r) => r.scopes.includes('repository:tok/app:pull,push')));
  const auth = events.find((e) => e.type === 'info' && e.message === 'registry auth');
  assert.deepEqual(auth && auth.type === 'info' ? auth.data : undefined, { registry: reg.host, credentials: 'test', requested: ['repository:tok/app:pull,push'], granted: ['repository:tok/app:pull,push'] });

  // cross-repository mount: one token for both repositories' scopes
  await pushImage(bob.destination(parseReference(`${reg.host}/tok/copy:v1`)), img, [], { mountFrom: ['tok/app'] });
  const combined = ts.requests.find((r) => r.scopes.includes('repository:tok/copy:pull,push') && r.scopes.includes('repository:tok/app:pull'));
  assert.ok(combined, 'mount asked for push on the target and pull on the source in one token');
  assert.deepEqual([...combined.granted].sort(), ['repository:tok/app:pull', 'repository:tok/copy:pull,push']);

  const anon = new RegistryClient();
  t.after(() => anon.close());
  assert.equal((await pullAll(anon.source(ref))).manifest.digest, img.manifest.digest);

  const other = await makeImage([100]);
  const err = await pushImage(anon.destination(parseReference(`${reg.host}/tok/other:v1`)), other, []).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof AuthError, `got ${String(err)}`);
  assert.match(err.message, /credentials: anonymous; requested scopes: repository:tok\/other:pull,push; granted: repository:tok\/other:pull$/);

  const wrong = new RegistryClient({ keychain: staticKeychain({ [reg.host]: new Credential({ source: 'credential helper fake', username: 'bob', password: 'nope' }) }) });
  t.after(() => wrong.close());
  const e2 = await wrong.source(ref).getManifest().then(() => undefined, (e: unknown) => e);
  assert.ok(e2 instanceof AuthError);
  assert.match(e2.message, /401 token endpoint refused.*credentials: credential helper fake/);
});
