import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { TSBUILD_BIN } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';
import { startRegistry } from '../helpers/registry.js';

interface Run { readonly what: string; readonly code: number | null; readonly stdout: string; readonly stderr: string }

/** Every regular file below `dir` (symlinks not followed), with gzip members also decompressed. */
async function* filesBelow(dir: string): AsyncGenerator<{ path: string; bytes: Buffer }> {
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* filesBelow(p);
    else if (e.isFile()) {
      const bytes = await readFile(p);
      yield { path: p, bytes };
      if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
        try {
          yield { path: `${p} (gunzipped)`, bytes: gunzipSync(bytes) };
        } catch { /* not a whole gzip stream */ }
      }
    }
  }
}

test('a build secret and a registry password never appear in any output, layer, config, cache record, store file or registry file', async (t) => {
  const bb = await busyboxTar();
  t.after(() => bb.cleanup());
  const secret = `tsb-secret-${randomBytes(12).toString('hex')}`;
  const envSecret = `tsb-envsecret-${randomBytes(12).toString('hex')}`;
  const user = 'alice';
  const password = `tsb-pw-${randomBytes(12).toString('hex')}`;
  const reg = await startRegistry({ mode: 'htpasswd', users: { [user]: password } });
  t.after(() => reg.stop());
  const work = await mkdtemp(join(tmpdir(), 'tsbuild-secrets-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const root = join(work, 'root');
  const dockerConfig = join(work, 'docker');
  const ctx = join(work, 'ctx');
  await mkdir(ctx, { recursive: true });
  const secretFile = join(work, 'token.txt');
  await writeFile(secretFile, secret);
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest',
    'RUN --mount=type=secret,id=tok test "$(wc -c < /run/secrets/tok)" -gt 10 && wc -c < /run/secrets/tok > /len',
    // (`env=` on the mount, BuildKit's secret-as-variable form, is not supported yet: the env-sourced secret is read as a file.)
    'RUN --mount=type=secret,id=envtok test -s /run/secrets/envtok && echo "token length $(wc -c < /run/secrets/envtok)"',
    'COPY . /ctx',
    '',
  ].join('\n'));

  const env = { ...process.env, DOCKER_CONFIG: dockerConfig, MY_ENV_SECRET: envSecret };
  const runs: Run[] = [];
  const tsbuild = (what: string, args: string[], input?: string): Run => {
    const r = spawnSync(process.execPath, [TSBUILD_BIN, '--root', root, ...args], { encoding: 'utf8', env, ...(input !== undefined ? { input } : {}) });
    const run = { what, code: r.status, stdout: r.stdout, stderr: r.stderr };
    runs.push(run);
    return run;
  };
  const ok = (r: Run) => assert.equal(r.code, 0, `${r.what}: ${r.stderr}`);

  ok(tsbuild('import', ['import', bb.tar, 'busybox:latest']));
  // A wrong password first: the error must not echo it.
  const bad = tsbuild('login (wrong)', ['--debug', 'login', '-u', user, '--password-stdin', reg.host], `${password}-wrong\n`);
  assert.notEqual(bad.code, 0);
  ok(tsbuild('login', ['--debug', 'login', '-u', user, '--password-stdin', reg.host], `${password}\n`));
  const cfg = join(dockerConfig, 'config.json');
  assert.equal((await stat(cfg)).mode & 0o777, 0o600, 'config.json is written with mode 0600');

  const ref = `${reg.host}/secret/app:1`;
  const build = tsbuild('build --push', ['--debug', '--progress', 'json', 'build', '-t', ref, '--push',
    '--secret', `id=tok,src=${secretFile}`, '--secret', 'id=envtok,env=MY_ENV_SECRET', ctx]);
  ok(build);
  assert.match(build.stdout + build.stderr, /token length \d+/, 'the secret was visible to its RUN');
  ok(tsbuild('push again', ['--debug', '--progress', 'json', 'push', ref]));
  ok(tsbuild('pull', ['--debug', '--progress', 'json', 'pull', ref]));
  tsbuild('pull missing (error path)', ['--debug', 'pull', `${reg.host}/secret/absent:1`]);
  // A build that hits the cache, with the secret mounted again: cache keys and records must not hold it either.
  ok(tsbuild('build (cached)', ['--debug', '--progress', 'plain', 'build', '-t', 'again:1', '--secret', `id=tok,src=${secretFile}`, '--secret', 'id=envtok,env=MY_ENV_SECRET', ctx]));
  ok(tsbuild('history', ['history', ref]));
  ok(tsbuild('inspect', ['inspect', ref]));

  const needles: [string, string][] = [
    ['build secret', secret], ['env build secret', envSecret], ['password', password],
    ['base64 password', Buffer.from(password).toString('base64')],
    ['base64 user:password (Basic header)', Buffer.from(`${user}:${password}`).toString('base64')],
    ['base64 secret', Buffer.from(secret).toString('base64')],
  ];
  const leaks: string[] = [];
  for (const r of runs) {
    for (const [name, n] of needles) {
      if (r.stdout.includes(n)) leaks.push(`${name} in stdout of ${r.what}`);
      if (r.stderr.includes(n)) leaks.push(`${name} in stderr of ${r.what}`);
    }
  }
  let scanned = 0;
  // The store (blobs: layers gunzipped, configs with history; cache records; snapshots; temp files), and the registry's storage.
  for (const dir of [root, reg.dir]) {
    for await (const f of filesBelow(dir)) {
      scanned++;
      for (const [name, n] of needles) if (f.bytes.includes(n)) leaks.push(`${name} in ${f.path}`);
    }
  }
  // Docker's config.json holds the credential by design (as docker login does); nothing else under DOCKER_CONFIG may.
  for await (const f of filesBelow(dockerConfig)) {
    if (f.path === cfg) continue;
    for (const [name, n] of needles) if (f.bytes.includes(n)) leaks.push(`${name} in ${f.path}`);
  }
  // Positive control: the scanner finds the credential where it is meant to be.
  assert.ok((await readFile(cfg)).includes(Buffer.from(`${user}:${password}`).toString('base64')), 'config.json holds the login');
  t.diagnostic(`scanned ${runs.length} command outputs and ${scanned} files for ${needles.length} secret forms`);
  assert.ok(scanned > 10, 'the store and registry were actually scanned');
  assert.deepEqual(leaks, []);
});
