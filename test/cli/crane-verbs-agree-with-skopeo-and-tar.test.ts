/**
 * crane's verbs (digest, config, blob, catalog, export, append, mutate, flatten) on remote images in a loopback
 * registry and on local ones in the store, checked against skopeo, the registry's own API and GNU tar.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { runCli, TSBUILD_LAUNCHER } from '../helpers/cli.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

const run = promisify(execFile);
let reg: RegistryHandle;
let work: string;
let root: string;

const ts = (...args: string[]) => runCli(['--root', root, '--progress', 'quiet', ...args]);
function ok(r: ReturnType<typeof runCli>): string {
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}
/** Runs tsbuild with binary stdout. */
function tsBytes(...args: string[]): Buffer {
  const r = spawnSync(TSBUILD_LAUNCHER, ['--root', root, '--progress', 'quiet', ...args], { maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout;
}
const skopeoJson = async (...args: string[]) => JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', ...args], { maxBuffer: 64 << 20 })).stdout) as Record<string, unknown>;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
/** The file names GNU tar lists in a tar (directories without their slash), sorted. */
async function tarNames(file: string): Promise<string[]> {
  return (await run('tar', ['-tf', file])).stdout.split('\n').filter(Boolean).map((n) => n.replace(/^\.\//, '').replace(/\/$/, '')).filter(Boolean).sort();
}
async function dirTar(name: string, files: Record<string, string>, o: { gzip?: boolean } = {}): Promise<string> {
  const dir = join(work, name);
  for (const [f, content] of Object.entries(files)) {
    await mkdir(join(dir, f, '..'), { recursive: true });
    await writeFile(join(dir, f), content);
  }
  const out = join(work, `${name}.tar${o.gzip ? '.gz' : ''}`);
  await run('tar', [o.gzip ? '-czf' : '-cf', out, '-C', dir, '.']);
  return out;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tsbuild-crane-'));
  root = join(work, 'root');
  ok(ts('import', await dirTar('base', { 'etc/a': 'a\n', 'gone/f': 'f\n', 'keep/x': 'x\n' }), 'app:1'));
  reg = await startRegistry();
  ok(ts('copy', 'app:1', `${reg.host}/c/app:1`));
});
after(async () => {
  await reg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test('digest and config agree with skopeo, for the registry and the store alike', async () => {
  const remote = `${reg.host}/c/app:1`;
  const s = await skopeoJson(`docker://${remote}`);
  assert.equal(ok(ts('digest', remote)), `${s.Digest as string}\n`);
  assert.equal(ok(ts('digest', 'app:1')), `${s.Digest as string}\n`, 'a bare local name is read from the store');
  assert.equal(ok(ts('digest', `docker://${remote}`)), `${s.Digest as string}\n`);
  const cfg = (await run('skopeo', ['inspect', '--tls-verify=false', '--config', '--raw', `docker://${remote}`])).stdout;
  assert.equal(tsBytes('config', remote).toString('utf8'), cfg);
  assert.equal(tsBytes('config', 'store:app:1').toString('utf8'), cfg);
});

test('blob writes the verified bytes of a layer, remote and local; catalog lists the registry\'s repositories', async () => {
  const s = await skopeoJson(`docker://${reg.host}/c/app:1`);
  const layer = (s.Layers as string[])[0]!;
  const remote = tsBytes('blob', `${reg.host}/c/app@${layer}`);
  assert.equal(sha(remote), layer);
  assert.equal(sha(tsBytes('blob', `app@${layer}`)), layer);
  await writeFile(join(work, 'l.tar.gz'), remote);
  assert.deepEqual(await tarNames(join(work, 'l.tar.gz')), ['etc', 'etc/a', 'gone', 'gone/f', 'keep', 'keep/x']);
  const bad = ts('blob', `${reg.host}/c/app@sha256:${'0'.repeat(64)}`);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /no blob sha256:0{64} in /);

  ok(ts('copy', 'app:1', `${reg.host}/d/other:1`));
  const listed = ok(ts('catalog', reg.host)).split('\n').filter(Boolean);
  const api = (await (await fetch(`http://${reg.host}/v2/_catalog`)).json()) as { repositories: string[] };
  assert.deepEqual(listed, api.repositories);
  assert.ok(listed.includes('c/app') && listed.includes('d/other'));
  assert.ok(ok(ts('catalog', reg.host, '--full-ref')).includes(`${reg.host}/c/app\n`));
});

test('append adds a layer (gzipped as given), export applies whiteouts and opaque dirs, as GNU tar sees it', async () => {
  const l2 = await dirTar('l2', { 'etc/b': 'b\n', '.wh.gone': '' }, { gzip: true });
  const out = ok(ts('append', '-f', l2, `${reg.host}/c/app:1`, '-t', `${reg.host}/c/app:2`));
  const s = await skopeoJson(`docker://${reg.host}/c/app:2`);
  assert.equal(out, `${reg.host}/c/app@${s.Digest as string}\n`);
  const gz = await readFile(l2);
  assert.deepEqual((s.Layers as string[]).slice(1), [sha(gz)], 'a gzipped layer is stored as given');
  const cfg = JSON.parse(tsBytes('config', `${reg.host}/c/app:2`).toString()) as { rootfs: { diff_ids: string[] } };
  assert.equal(cfg.rootfs.diff_ids[1], sha(gunzipSync(gz)));

  await writeFile(join(work, 'e2.tar'), tsBytes('export', `${reg.host}/c/app:2`, '-'));
  assert.deepEqual(await tarNames(join(work, 'e2.tar')), ['etc', 'etc/a', 'etc/b', 'keep', 'keep/x']);

  // crane's -b spelling, a plain tar, and an opaque directory: etc's lower content is hidden, keep/ is not
  const l3 = await dirTar('l3', { 'etc/.wh..wh..opq': '', 'etc/c': 'c\n' });
  ok(ts('append', '-f', l3, '-b', `${reg.host}/c/app:2`, '-t', 'local:3'));
  const file = join(work, 'e3.tar');
  ok(ts('export', 'local:3', file));
  assert.deepEqual(await tarNames(file), ['etc', 'etc/c', 'keep', 'keep/x']);
  assert.equal((await run('tar', ['-xOf', file, './etc/c'])).stdout, 'c\n');

  const notTar = join(work, 'not.tar');
  await writeFile(notTar, 'hello, not a tar'.repeat(100));
  const refused = ts('append', '-f', notTar, 'app:1', '-t', 'never:1');
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /not\.tar/);
});

test('mutate changes the config only; flatten makes one layer with the same files and config', async () => {
  const out = ok(ts('mutate', `${reg.host}/c/app:2`, '--entrypoint', '/bin/sh,-c', '--cmd', 'echo hi', '-e', 'A=1', '--env', 'B=2', '-l', 'k=v', '--workdir', '/w', '-u', '7', '-t', `${reg.host}/c/app:3`));
  const s2 = await skopeoJson(`docker://${reg.host}/c/app:2`);
  const s3 = await skopeoJson(`docker://${reg.host}/c/app:3`);
  assert.equal(out, `${reg.host}/c/app@${s3.Digest as string}\n`);
  assert.deepEqual(s3.Layers, s2.Layers);
  const c3 = JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', '--config', '--raw', `docker://${reg.host}/c/app:3`])).stdout) as { config: Record<string, unknown> };
  assert.deepEqual(c3.config.Entrypoint, ['/bin/sh', '-c']);
  assert.deepEqual(c3.config.Cmd, ['echo hi']);
  assert.deepEqual(c3.config.Env, ['A=1', 'B=2']);
  assert.deepEqual(c3.config.Labels, { k: 'v' });
  assert.equal(c3.config.WorkingDir, '/w');
  assert.equal(c3.config.User, '7');

  ok(ts('flatten', `${reg.host}/c/app:3`, '-t', `${reg.host}/c/flat:1`));
  const sf = await skopeoJson(`docker://${reg.host}/c/flat:1`);
  assert.equal((sf.Layers as string[]).length, 1);
  await writeFile(join(work, 'ef.tar'), tsBytes('export', `${reg.host}/c/flat:1`));
  assert.deepEqual(await tarNames(join(work, 'ef.tar')), ['etc', 'etc/a', 'etc/b', 'keep', 'keep/x']);
  const cf = JSON.parse(tsBytes('config', `${reg.host}/c/flat:1`).toString()) as { config: Record<string, unknown>; history: unknown[] };
  assert.deepEqual(cf.config, c3.config);
  assert.equal(cf.history.length, 1);

  // local in, local out: the store gets the image, skopeo reads it through an OCI layout
  ok(ts('mutate', 'app:1', '--env', 'LOCAL=1', '-t', 'app:m'));
  ok(ts('copy', 'app:m', `oci:${join(work, 'lay')}:m`));
  const cl = JSON.parse((await run('skopeo', ['inspect', '--config', '--raw', `oci:${join(work, 'lay')}:m`])).stdout) as { config: Record<string, unknown> };
  assert.deepEqual(cl.config.Env, ['LOCAL=1']);
});
