/**
 * `login -p` as docker: docker's warning on stderr, pointing to --password-stdin, and docker's conflicts; `manifest
 * delete TAG` names the other tags on that digest and needs --force; `manifest inspect --format`. Against a real
 * registry on loopback (htpasswd, delete enabled), checked with skopeo.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry } from '../helpers/registry.js';
import { TSBUILD_LAUNCHER } from '../helpers/cli.js';
import { Credential, RegistryClient, parseReference, staticKeychain } from '../../registry-client/index.js';
import { makeImage, pushImage } from './fixture.js';

function tsb(args: string[], env: NodeJS.ProcessEnv, input = '') {
  const r = spawnSync(TSBUILD_LAUNCHER, args, { env, input, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function skopeoHas(ref: string): boolean {
  return spawnSync('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', 'dave:pw-dave', `docker://${ref}`], { stdio: 'ignore' }).status === 0;
}

test('login -p warns as docker does; manifest delete names the other tags and needs --force', async (t) => {
  const reg = await startRegistry({ mode: 'htpasswd', users: { dave: 'pw-dave' } });
  t.after(() => reg.stop());
  const cfg = await mkdtemp(join(tmpdir(), 'tsbuild-login-p-'));
  t.after(() => rm(cfg, { recursive: true, force: true }));
  const env = { ...process.env, DOCKER_CONFIG: cfg };

  const both = tsb(['login', '-u', 'dave', '-p', 'pw-dave', '--password-stdin', reg.host], env, 'pw-dave\n');
  assert.equal(both.code, 2);
  assert.equal(both.stderr.split('\n')[0], 'WARNING! Using --password via the CLI is insecure. Use --password-stdin.');
  assert.match(both.stderr, /error: --password and --password-stdin are mutually exclusive/);
  const noUser = tsb(['login', '--password-stdin', reg.host], env, 'pw-dave\n');
  assert.match(noUser.stderr, /^error: Must provide --username with --password-stdin/);
  const wrong = tsb(['login', '-u', 'dave', '-p', 'nope', reg.host], env);
  assert.equal(wrong.code, 1);
  assert.doesNotMatch(wrong.stderr, /nope/, 'the password is never printed');
  const ok = tsb(['login', '-u', 'dave', '-p', 'pw-dave', reg.host], env);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stderr, 'WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
  assert.match(ok.stdout, /^Login Succeeded/);

  // Three tags, two on one manifest.
  const c = new RegistryClient({ keychain: staticKeychain({ [reg.host]: new Credential({ source: 't', username: 'dave', password: 'pw-dave' }) }) });
  t.after(() => c.close());
  const shared = await makeImage([300]);
  const alone = await makeImage([200]);
  await pushImage(c.destination(parseReference(`${reg.host}/del/app:a`)), shared, ['a', 'b']);
  await pushImage(c.destination(parseReference(`${reg.host}/del/app:c`)), alone, ['c']);

  const f = tsb(['manifest', 'inspect', '--format', '{{.digest}} {{.kind}} {{.manifest.schemaVersion}} {{.manifest.nope}}', `${reg.host}/del/app:a`], env);
  assert.equal(f.stdout, `${shared.manifest.digest} manifest 2 <no value>\n`, f.stderr);
  const raw = tsb(['manifest', 'inspect', '--raw', '--format', '{{len .layers}} {{(index .layers 0).size}}', `${reg.host}/del/app:a`], env);
  assert.equal(raw.stdout, `1 ${shared.layers[0]!.size}\n`, raw.stderr);

  const refused = tsb(['manifest', 'delete', `${reg.host}/del/app:a`], env);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`^error: ${shared.manifest.digest} is also tagged b: deleting the manifest deletes those tags too .*--force`));
  assert.ok(skopeoHas(`${reg.host}/del/app:a`) && skopeoHas(`${reg.host}/del/app:b`), 'nothing deleted');

  const single = tsb(['manifest', 'delete', `${reg.host}/del/app:c`], env);
  assert.equal(single.code, 0, single.stderr);
  assert.ok(!skopeoHas(`${reg.host}/del/app:c`), 'a manifest with one tag goes without --force');

  const forced = tsb(['manifest', 'delete', '--force', `${reg.host}/del/app:a`], env);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, /and with it the tags b/);
  assert.ok(!skopeoHas(`${reg.host}/del/app:a`) && !skopeoHas(`${reg.host}/del/app:b`));
  const tags = execFileSync('skopeo', ['list-tags', '--tls-verify=false', '--creds', 'dave:pw-dave', `docker://${reg.host}/del/app`], { encoding: 'utf8' });
  assert.deepEqual((JSON.parse(tags) as { Tags: string[] | null }).Tags ?? [], []);
});
