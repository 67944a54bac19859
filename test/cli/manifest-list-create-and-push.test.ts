import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
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
  return runCli(['--root', root, '--progress', 'quiet', ...args]);
}

before(async () => {
  bb = await busyboxTar();
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-mlist-'));
});
after(async () => {
  await reg?.stop();
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('manifest create + push assemble one tag from images in two repositories; pull --platform picks the child', async () => {
  const root = join(work, 'root');
  const ok = (r: { code: number | null; stderr: string }): void => assert.equal(r.code, 0, r.stderr);
  ok(tsbuild(root, ['import', '--platform', 'linux/amd64', bb.tar, 'img:amd64']));
  ok(tsbuild(root, ['import', '--platform', 'linux/arm64', '-m', 'arm', bb.tar, 'img:arm64']));
  ok(tsbuild(root, ['push', 'img:amd64', `${reg.host}/src/a:amd64`]));
  ok(tsbuild(root, ['push', 'img:arm64', `${reg.host}/src/b:arm64`]));
  const list = `${reg.host}/multi/app:1`;
  ok(tsbuild(root, ['manifest', 'create', list, `${reg.host}/src/a:amd64`, `${reg.host}/src/b:arm64`]));
  const again = tsbuild(root, ['manifest', 'create', list, `${reg.host}/src/a:amd64`]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exists.*--amend/);
  const pushed = tsbuild(root, ['manifest', 'push', '--purge', list]);
  ok(pushed);
  const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${list}`]);
  const idx = JSON.parse(stdout) as { manifests: { platform: { architecture: string } }[] };
  assert.deepEqual(idx.manifests.map((m) => m.platform.architecture).sort(), ['amd64', 'arm64']);
  const { stdout: arm } = await run('skopeo', ['inspect', '--tls-verify=false', '--override-arch', 'arm64', `docker://${list}`]);
  assert.equal(JSON.parse(arm).Architecture, 'arm64');

  const fresh = join(work, 'fresh');
  ok(tsbuild(fresh, ['pull', '--platform', 'linux/arm64', list]));
  const [inspect] = JSON.parse(tsbuild(fresh, ['inspect', list]).stdout) as { Architecture: string }[];
  assert.equal(inspect?.Architecture, 'arm64');
  const del = tsbuild(root, ['manifest', 'delete', list]);
  ok(del);
  const gone = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${list}`]).then(() => 'present', () => 'gone');
  assert.equal(gone, 'gone');
});
