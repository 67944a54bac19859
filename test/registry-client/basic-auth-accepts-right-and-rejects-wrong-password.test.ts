import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry } from '../helpers/registry.js';
import { AuthError, RegistryClient, dockerKeychain, parseReference, saveDockerCredential } from '../../registry-client/index.js';
import { makeImage, pullAll, pushImage } from './fixture.js';

test('htpasswd Basic auth: config.json credentials push and pull; a wrong password is one clear AuthError', async (t) => {
  const reg = await startRegistry({ mode: 'htpasswd', users: { alice: 's3cret-pw' } });
  t.after(() => reg.stop());
  const cfg = await mkdtemp(join(tmpdir(), 'tsbuild-dockercfg-'));
  t.after(() => rm(cfg, { recursive: true, force: true }));
  const file = await saveDockerCredential(reg.host, 'alice', 's3cret-pw', { configDir: cfg });
  assert.equal((await stat(file)).mode & 0o777, 0o600);

  const img = await makeImage([1000]);
  const ref = parseReference(`${reg.host}/private/app:1`);
  const good = new RegistryClient({ keychain: dockerKeychain({ configDir: cfg }) });
  t.after(() => good.close());
  await good.checkLogin(reg.host);
  await pushImage(good.destination(ref), img, []);
  assert.equal((await pullAll(good.source(ref))).manifest.digest, img.manifest.digest);

  await saveDockerCredential(reg.host, 'alice', 'wrong-pw', { configDir: cfg });
  const bad = new RegistryClient({ keychain: dockerKeychain({ configDir: cfg }) });
  t.after(() => bad.close());
  const err = await bad.source(ref).getManifest().then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof AuthError, `got ${String(err)}`);
  assert.equal(err.status, 401);
  assert.match(err.message, /authentication failed for 127\.0\.0\.1:\d+ .*credentials: config\.json auths/);
  assert.doesNotMatch(err.message + JSON.stringify(err) + String(err.hint), /wrong-pw|s3cret/);
  assert.ok(!err.message.includes('\n'));

  const anon = new RegistryClient();
  t.after(() => anon.close());
  const e2 = await anon.source(ref).getManifest().then(() => undefined, (e: unknown) => e);
  assert.ok(e2 instanceof AuthError);
  assert.match(e2.message, /credentials: anonymous/);
});
