import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { Credential, dockerKeychain, removeDockerCredential, saveDockerCredential } from '../../registry-client/index.js';

test('dockerKeychain: auths (auth, username/password, identitytoken), credHelpers and credsStore, in Docker\'s order', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-keychain-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const bin = join(dir, 'bin');
  await import('node:fs/promises').then((f) => f.mkdir(bin));
  // a real docker-credential-helper speaking the protocol: server URL on stdin, JSON on stdout
  await writeFile(join(bin, 'docker-credential-fake'), `#!/bin/sh
read server
case "$server" in
  helped.io) echo '{"ServerURL":"helped.io","Username":"hu","Secret":"helper-secret"}' ;;
  tokened.io) echo '{"ServerURL":"tokened.io","Username":"<token>","Secret":"refresh-tok"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`);
  await chmod(join(bin, 'docker-credential-fake'), 0o755);
  await writeFile(join(dir, 'config.json'), JSON.stringify({
    auths: {
      'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:hub-pass').toString('base64') },
      'http://plain.io/v2/': { username: 'pu', password: 'plain-pass' },
      'id.io': { identitytoken: 'id-tok' },
      'stored.io': { auth: Buffer.from('fallback:fb-pass').toString('base64') },
    },
    credHelpers: { 'helped.io': 'fake', 'tokened.io': 'fake' },
  }));
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
  const kc = dockerKeychain({ configDir: dir, env });
  const hub = await kc.resolve('docker.io');
  assert.equal(hub?.username, 'hubuser');
  assert.equal(hub?.password, 'hub-pass');
  assert.match(hub!.source, /^config\.json auths/);
  assert.equal((await kc.resolve('plain.io'))?.password, 'plain-pass');
  assert.equal((await kc.resolve('id.io'))?.identityToken, 'id-tok');
  const helped = await kc.resolve('helped.io');
  assert.equal(helped?.source, 'credential helper fake');
  assert.equal(helped?.password, 'helper-secret');
  assert.equal((await kc.resolve('tokened.io'))?.identityToken, 'refresh-tok');
  assert.equal(await kc.resolve('nowhere.io'), undefined);

  // credsStore: used for every registry; a "not found" falls back to auths
  await writeFile(join(dir, 'config.json'), JSON.stringify({ credsStore: 'fake', auths: { 'stored.io': { auth: Buffer.from('fallback:fb-pass').toString('base64') } } }));
  assert.equal((await kc.resolve('helped.io'))?.source, 'credential helper fake');
  assert.equal((await kc.resolve('stored.io'))?.username, 'fallback');

  // secrets never show in JSON, inspect or string form
  for (const c of [hub!, helped!]) {
    const shown = JSON.stringify(c) + inspect(c) + String(c) + inspect({ nested: c }, { depth: 5 });
    assert.doesNotMatch(shown, /hub-pass|helper-secret/);
  }
  assert.doesNotMatch(inspect(new Credential({ source: 's', identityToken: 'tok-xyz' })), /tok-xyz/);
});

test('saveDockerCredential writes Docker\'s format with mode 0600; removeDockerCredential deletes it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-keychain-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { 'other.io': { auth: 'eDp5' } }, psFormat: 'table' }));
  await saveDockerCredential('docker.io', 'me', 'pw', { configDir: dir });
  const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }>; psFormat: string };
  assert.equal(cfg.auths['https://index.docker.io/v1/']?.auth, Buffer.from('me:pw').toString('base64'));
  assert.equal(cfg.psFormat, 'table');
  assert.equal(cfg.auths['other.io']?.auth, 'eDp5');
  assert.equal(await removeDockerCredential('docker.io', { configDir: dir }), true);
  assert.equal(await removeDockerCredential('docker.io', { configDir: dir }), false);
  const after = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { auths: Record<string, unknown> };
  assert.deepEqual(Object.keys(after.auths), ['other.io']);
});
