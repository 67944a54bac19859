import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { configuredInsecureRegistries } from '../../cli/commands/registry.js';
import { TsbuildError } from '../../layer-store/index.js';

const run = promisify(execFile);
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let reg: RegistryHandle;
let work: string;

before(async () => {
  bb = await busyboxTar();
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-copy-'));
});
after(async () => {
  await reg?.stop();
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('copy within one registry mounts blobs from the source repository; skopeo sees the same digest', async () => {
  const root = join(work, 'root');
  assert.equal(runCli(['--root', root, 'import', bb.tar, 'bb:1']).code, 0);
  const p = runCli(['--root', root, 'push', 'bb:1', `${reg.host}/team/a:1`]);
  assert.equal(p.code, 0, p.stderr);
  const c = runCli(['--root', root, 'copy', `${reg.host}/team/a:1`, `${reg.host}/team/b:1`]);
  assert.equal(c.code, 0, c.stderr);
  const digest = async (ref: string) => JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`])).stdout).Digest as string;
  assert.equal(await digest(`${reg.host}/team/b:1`), await digest(`${reg.host}/team/a:1`));
  const uploads = reg.log().split('\n').filter((l) => l.includes('/v2/team/b/blobs/uploads')).map((l) => /http\.request\.method=(\w+).*http\.request\.uri="?([^" ]+)/.exec(l)?.slice(1).join(' ')).join('\n');
  assert.match(uploads, /POST \/v2\/team\/b\/blobs\/uploads\/\?\S*(from=team%2Fa|from=team\/a)/);
  assert.doesNotMatch(uploads, /^(PATCH|PUT) /m, 'no blob bytes were uploaded into b');
});

test('insecure registries come from the config file; a broken file is one clear error', async () => {
  const f = join(work, 'config.json');
  await writeFile(f, JSON.stringify({ 'insecure-registries': ['registry.internal:5000'] }));
  assert.deepEqual(configuredInsecureRegistries({ TSBUILD_CONFIG: f }), ['registry.internal:5000']);
  assert.deepEqual(configuredInsecureRegistries({ TSBUILD_CONFIG: join(work, 'missing.json') }), []);
  await writeFile(f, '{ not json');
  assert.throws(() => configuredInsecureRegistries({ TSBUILD_CONFIG: f }), (e: unknown) => TsbuildError.is(e) && e.message.includes(f));
  const r = runCli(['--root', join(work, 'r2'), 'tags', `${reg.host}/team/a`], { env: { ...process.env, TSBUILD_CONFIG: f } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: invalid JSON in .*config\.json/);
});
