import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onlyErrorLine, runCliAsync } from '../helpers/cli.js';

/** A port nothing listens on (bound, then closed): a registry that cannot be reached. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('a local base without the target platform is reported with the platforms it has, not as a failed pull', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-baseplat-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  const cli = (args: string[]) => runCliAsync(['--root', root, '--progress', 'quiet', ...args]);
  await mkdir(join(dir, 'rootfs', 'etc'), { recursive: true });
  await writeFile(join(dir, 'rootfs', 'etc', 'hostname'), 'x\n');
  execFileSync('tar', ['-C', join(dir, 'rootfs'), '-cf', join(dir, 'rootfs.tar'), '.']);
  const port = await deadPort();
  const registryNamed = `127.0.0.1:${port}/team/base:1`;
  for (const name of ['base:1', registryNamed]) {
    const r = await cli(['import', '--platform', 'linux/amd64', join(dir, 'rootfs.tar'), name]);
    assert.equal(r.code, 0, r.stderr);
  }
  // A local index for linux/amd64 and linux/s390x (COPY only: nothing runs).
  const idxCtx = join(dir, 'idx');
  await mkdir(idxCtx);
  await writeFile(join(idxCtx, 'Dockerfile'), 'FROM scratch\nCOPY Dockerfile /\n');
  const built = await cli(['build', '--platform', 'linux/amd64,linux/s390x', '-t', 'multi:1', idxCtx]);
  assert.equal(built.code, 0, built.stderr);

  const ctx = join(dir, 'ctx');
  await mkdir(ctx);
  const index = await readFile(join(root, 'index.json'), 'utf8');
  const cases: [string, RegExp][] = [
    // A bare name (docker.io implied) held locally: no Docker Hub lookup, at once.
    ['base:1', /^error: base image base:1 has no linux\/arm64 image: the store has it for linux\/amd64 only \(Dockerfile:1\): build with --platform linux\/amd64, or make base:1 for linux\/arm64 first \(tsbuild build --platform linux\/arm64 -t base:1 …\), or pass --pull to fetch it for linux\/arm64 from docker\.io$/],
    // A local index: the platforms it lists.
    ['multi:1', /^error: base image multi:1 has no linux\/arm64 image: the store has it for linux\/amd64, linux\/s390x only \(Dockerfile:1\): build with --platform linux\/amd64, or make multi:1/],
    // A name that writes its registry: the pull is tried there; when it fails, the local platforms are the news.
    [registryNamed, new RegExp(`^error: base image ${registryNamed.replace(/[.]/g, '\\.')} has no linux/arm64 image: the store has it for linux/amd64 only \\(Dockerfile:1\\): pulling it for linux/arm64 from 127\\.0\\.0\\.1:${port} failed too \\(.*\\); build with --platform linux/amd64`)],
  ];
  for (const [base, want] of cases) {
    await writeFile(join(ctx, 'Dockerfile'), `FROM ${base}\nRUN touch /marker\n`);
    const started = Date.now();
    const r = await cli(['build', '--platform', 'linux/arm64', '-t', 'out:1', ctx]);
    const ms = Date.now() - started;
    assert.equal(r.code, 1, r.stderr);
    const line = onlyErrorLine(r);
    assert.match(line, want);
    assert.doesNotMatch(line, /ENOTFOUND|registry-1\.docker\.io/, 'never went to Docker Hub');
    if (base !== registryNamed) assert.ok(ms < 5_000, `${base}: decided locally in ${ms} ms`);
    assert.equal(await readFile(join(root, 'index.json'), 'utf8'), index, 'no image or name added');
    assert.deepEqual(await readdir(join(root, 'tmp')), [], 'no scratch left');
  }
});
