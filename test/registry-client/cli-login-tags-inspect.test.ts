import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry } from '../helpers/registry.js';
import { Credential, RegistryClient, parseReference, staticKeychain } from '../../registry-client/index.js';
import { makeImage, pushImage } from './fixture.js';

const runner = fileURLToPath(new URL(`./cli-runner${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

function run(args: string[], env: NodeJS.ProcessEnv, input?: string) {
  const r = spawnSync(process.execPath, [...process.execArgv, runner, ...args], { env, input: input ?? '', encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('tsbuild login/logout/tags/manifest inspect against an htpasswd registry', async (t) => {
  const reg = await startRegistry({ mode: 'htpasswd', users: { carol: 'pw-carol' } });
  t.after(() => reg.stop());
  const cfg = await mkdtemp(join(tmpdir(), 'tsbuild-cli-'));
  t.after(() => rm(cfg, { recursive: true, force: true }));
  const env = { ...process.env, DOCKER_CONFIG: cfg };

  const bad = run(['login', '-u', 'carol', '--password-stdin', reg.host], env, 'nope\n');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error: authentication failed for 127\.0\.0\.1:\d+ \(401.*credentials: login/);
  assert.doesNotMatch(bad.stderr, /nope/);

  const ok = run(['login', '-u', 'carol', '--password-stdin', `http://${reg.host}/`], env, 'pw-carol\n');
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /Login Succeeded/);
  assert.equal((await stat(join(cfg, 'config.json'))).mode & 0o777, 0o600);
  const saved = JSON.parse(await readFile(join(cfg, 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
  assert.equal(saved.auths[reg.host]?.auth, Buffer.from('carol:pw-carol').toString('base64'));

  const img = await makeImage([700]);
  const c = new RegistryClient({ keychain: staticKeychain({ [reg.host]: new Credential({ source: 't', username: 'carol', password: 'pw-carol' }) }) });
  t.after(() => c.close());
  await pushImage(c.destination(parseReference(`${reg.host}/cli/app:v2`)), img, ['v2', 'v10']);

  const tags = run(['tags', `${reg.host}/cli/app`], env);
  assert.equal(tags.code, 0, tags.stderr);
  assert.equal(tags.stdout, 'v10\nv2\n');
  const insp = run(['manifest', 'inspect', `${reg.host}/cli/app:v2`], env);
  assert.equal(insp.code, 0, insp.stderr);
  const j = JSON.parse(insp.stdout) as { digest: string; kind: string };
  assert.equal(j.digest, img.manifest.digest);
  assert.equal(j.kind, 'manifest');
  const raw = run(['manifest', 'inspect', '--raw', `${reg.host}/cli/app:v2`], env);
  assert.equal(raw.stdout, Buffer.from(img.manifest.bytes).toString('utf8'));

  assert.match(run(['logout', reg.host], env).stdout, /Removed login credentials/);
  const after = run(['tags', `${reg.host}/cli/app`], env);
  assert.equal(after.code, 1);
  assert.match(after.stderr, /credentials: anonymous/);
});
