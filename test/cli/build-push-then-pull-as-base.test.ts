import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

const run = promisify(execFile);
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let reg: RegistryHandle;
let work: string;

function tsbuild(root: string, args: string[]): CliResult {
  return runCli(['--root', root, '--progress', 'plain', ...args]);
}

before(async () => {
  bb = await busyboxTar();
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-push-'));
});
after(async () => {
  await reg?.stop();
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('build --push puts the image in a real registry (skopeo agrees), and a fresh root pulls it as a FROM base', async () => {
  const rootA = join(work, 'rootA');
  const rootB = join(work, 'rootB');
  const ctx = join(work, 'ctx');
  await run('mkdir', ['-p', ctx]);
  await writeFile(join(ctx, 'msg'), 'pushed and pulled\n');
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY msg /msg\nRUN cat /msg > /copy\nCMD ["cat", "/copy"]\n');
  assert.equal(tsbuild(rootA, ['import', bb.tar, 'busybox:latest']).code, 0);
  const ref = `${reg.host}/demo/app:1`;
  const meta = join(work, 'meta.json');
  const b = tsbuild(rootA, ['build', '-t', ref, '--push', '--metadata-file', meta, ctx]);
  assert.equal(b.code, 0, b.stderr);
  const { readFile } = await import('node:fs/promises');
  const digest = JSON.parse(await readFile(meta, 'utf8'))['containerimage.digest'] as string;
  const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`]);
  assert.equal(JSON.parse(stdout).Digest, digest, 'skopeo sees the digest tsbuild built');

  // A fresh, empty root: FROM the pushed image is pulled automatically.
  const ctx2 = join(work, 'ctx2');
  await run('mkdir', ['-p', ctx2]);
  await writeFile(join(ctx2, 'Dockerfile'), `FROM ${ref}\nRUN cat /copy > /again\n`);
  const b2 = tsbuild(rootB, ['build', '-t', 'child:1', ctx2]);
  assert.equal(b2.code, 0, b2.stderr);
  assert.match(b2.stderr, /pulling 127\.0\.0\.1:\d+\/demo\/app:1/);
  const r = tsbuild(rootB, ['run', 'child:1', 'cat', '/again']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'pushed and pulled\n');

  // tsbuild pull by digest into another fresh root gives the same image.
  const rootC = join(work, 'rootC');
  const p = tsbuild(rootC, ['pull', `${reg.host}/demo/app@${digest}`]);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, new RegExp(digest));
});
