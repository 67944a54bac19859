import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { busyboxTar, layerFile, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';
import { runCli } from '../helpers/cli.js';

const run = promisify(execFile);
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let ctx: string;
before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-secretenv-'));
  await writeFile(join(ctx, 'tok.txt'), 'file-secret');
});
after(async () => {
  await env?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});


test('RUN --mount=type=secret,env=VAR sets VAR in the step and mounts no file', async () => {
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest',
    "RUN --mount=type=secret,id=tok,env=TOKEN sh -c 'echo \"$TOKEN\" | wc -c > /len; ls /run/secrets > /files 2>&1; true'",
    "RUN --mount=type=secret,id=tok,env=TOKEN,target=/t sh -c 'test \"$TOKEN\" = \"$(cat /t)\" && cat /t > /both'",
    "RUN sh -c 'echo \"[$TOKEN]\" > /after'",
    '',
  ].join('\n'));
  const r = await env.build({ context: ctx, tags: ['senv:1'], secrets: [{ id: 'tok', src: join(ctx, 'tok.txt') }] });
  const img = await env.store.image('senv:1');
  assert.equal(r.steps.length, 3);
  assert.equal((await run('tar', ['-xzOf', env.store.blobPath(img.manifest.layers[1]!.digest), 'len'])).stdout.trim(), '12');
  assert.match((await run('tar', ['-xzOf', env.store.blobPath(img.manifest.layers[1]!.digest), 'files'])).stdout, /No such file|can't open|not found/i);
  assert.equal((await run('tar', ['-xzOf', env.store.blobPath(img.manifest.layers[2]!.digest), 'both'])).stdout, 'file-secret');
  assert.equal(await layerFile(env, 'senv:1', 'after'), '[]\n', 'the variable is the step\'s only');
  assert.ok(!JSON.stringify(img.config).includes('file-secret'), 'not in the config or history');
});

test('a secret given from the environment reaches the step; an unset variable fails before the build', async () => {
  await writeFile(join(ctx, 'Dockerfile'), "FROM busybox:latest\nRUN --mount=type=secret,id=api,env=API_KEY sh -c 'test -n \"$API_KEY\" && echo \"$API_KEY\" > /k'\n");
  process.env.TSBUILD_TEST_API_KEY = 'from-env';
  try {
    await env.build({ context: ctx, tags: ['senv:2'], secrets: [{ id: 'api', env: 'TSBUILD_TEST_API_KEY' }] });
  } finally {
    delete process.env.TSBUILD_TEST_API_KEY;
  }
  assert.equal(await layerFile(env, 'senv:2', 'k'), 'from-env\n');
  const t0 = Date.now();
  await assert.rejects(env.build({ context: ctx, tags: ['senv:3'], secrets: [{ id: 'api', env: 'TSBUILD_TEST_API_KEY' }] }),
    (e: Error) => /--secret id=api,env=TSBUILD_TEST_API_KEY: environment variable TSBUILD_TEST_API_KEY is not set/.test(e.message));
  assert.ok(Date.now() - t0 < 2000);
  await assert.rejects(env.store.image('senv:3'));
});

test('--secret with a missing or unreadable src fails before the build starts, naming the flag', async () => {
  await writeFile(join(ctx, 'Dockerfile'), "FROM busybox:latest\nRUN --mount=type=secret,id=tok sleep 30\n");
  const missing = join(ctx, 'no-such-secret');
  const r = runCli(['--root', env.root, 'build', '--progress', 'plain', '--secret', `id=tok,src=${missing}`, '-t', 'smiss:1', ctx]);
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, new RegExp(`--secret id=tok,src=${missing}: ${missing}: no such file`));
  assert.doesNotMatch(r.stderr, /RUN|sleep/);
  const dir = runCli(['--root', env.root, 'build', '--secret', `id=tok,src=${ctx}`, '-t', 'smiss:2', ctx]);
  assert.equal(dir.code, 2, dir.stderr);
  assert.match(dir.stderr, /not a regular file/);
  await assert.rejects(env.store.image('smiss:1'));
});

test('secrets work with a relative --root', async () => {
  await writeFile(join(ctx, 'Dockerfile'), "FROM busybox:latest\nRUN --mount=type=secret,id=tok cat /run/secrets/tok > /got\n");
  const cwd = join(env.root, '..');
  const rel = relative(cwd, env.root);
  const r = runCli(['--root', rel, 'build', '--progress', 'plain', '--secret', `id=tok,src=${join(ctx, 'tok.txt')}`, '-t', 'srel:1', ctx], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await layerFile(env, 'srel:1', 'got'), 'file-secret');
});
