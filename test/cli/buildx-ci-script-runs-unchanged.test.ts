import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/paths.js';
import { runCli } from '../helpers/cli.js';
import { busyboxTar, mountPoints } from '../helpers/build-env.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

// A CI script written for `docker buildx build` runs unchanged: the real docker CLI finds tsbuild's
// bin/docker-buildx as its buildx plugin (DOCKER_CONFIG/cli-plugins) and every build goes to tsbuild.
const run = promisify(execFile);
const hasDocker = spawnSync('docker', ['--version']).status === 0;
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let work: string;
let root: string;
let reg: RegistryHandle;

const SCRIPT = `set -eu
docker buildx create --use
eval "$(ssh-agent -s)" >/dev/null
trap 'ssh-agent -k >/dev/null' EXIT
IMG=$(docker buildx build -q --build-context base=docker-image://busybox:latest .)
echo "image=$IMG"
docker buildx build --load --build-context base=docker-image://busybox:latest -t app:local .
docker buildx build --ssh default -f Dockerfile.ssh -t app:ssh .
docker buildx build --build-context base=docker-image://busybox:latest --metadata-file meta.json \\
  --cache-to type=registry,ref=$REG/app:cache,mode=max --cache-from type=registry,ref=$REG/app:cache \\
  -o type=registry,name=$REG/app:ci .
docker build --build-context base=docker-image://busybox:latest -t app:classic .
`;

before(async () => {
  bb = await busyboxTar();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-buildx-ci-'));
  root = join(work, 'root');
  assert.equal(runCli(['--root', root, 'import', bb.tar, 'busybox:latest']).code, 0);
  reg = await startRegistry();
});
after(async () => {
  await reg?.stop();
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('a buildx CI script (-q, --load, -o type=registry, --build-context, --ssh, registry cache, --metadata-file) runs unchanged', { skip: !hasDocker && 'the docker CLI is not installed' }, async () => {
  const ctx = join(work, 'ctx');
  await mkdir(ctx);
  await writeFile(join(ctx, 'Dockerfile'), 'FROM base\nRUN echo built > /out\n');
  await writeFile(join(ctx, 'Dockerfile.ssh'), 'FROM busybox:latest\nRUN --mount=type=ssh,required=true test -S "$SSH_AUTH_SOCK"\n');
  const config = join(work, 'docker-config');
  await mkdir(join(config, 'cli-plugins'), { recursive: true });
  await symlink(join(repoRoot(), 'bin', 'docker-buildx'), join(config, 'cli-plugins', 'docker-buildx'));
  const r = spawnSync('sh', ['-c', SCRIPT], {
    cwd: ctx, encoding: 'utf8', env: { ...process.env, DOCKER_CONFIG: config, TSBUILD_ROOT: root, REG: reg.host },
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const img = /^image=(sha256:[0-9a-f]{64})$/m.exec(r.stdout)?.[1];
  assert.ok(img, r.stdout);
  // -q printed the ID of an image that is in the store; --load and the classic `docker build` tagged theirs.
  const ins = runCli(['--root', root, 'inspect', '--format', '{{.Id}}', 'app:local']);
  assert.equal(ins.stdout.trim(), img, ins.stderr);
  assert.equal(runCli(['--root', root, 'inspect', '--format', '{{.Id}}', 'app:classic']).stdout.trim(), img);
  assert.equal(runCli(['--root', root, 'inspect', 'app:ssh']).code, 0);
  // -o type=registry pushed; skopeo reads the same digest that --metadata-file recorded; the cache is there too.
  const meta = JSON.parse(await readFile(join(ctx, 'meta.json'), 'utf8')) as Record<string, string>;
  const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${reg.host}/app:ci`]);
  assert.equal(stdout.trim(), meta['containerimage.digest']);
  await run('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${reg.host}/app:cache`]);
  assert.deepEqual(await mountPoints(root), []);
});
