import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/paths.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

const run = promisify(execFile);
/** Debian's busybox-static:arm64, unpacked by scripts/setup.sh. */
const ARM64_BUSYBOX = join(repoRoot(), '.tmp', 'arm64', 'bin', 'busybox');
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let reg: RegistryHandle;
let work: string;

function tsbuild(root: string, args: string[]): CliResult {
  return runCli(['--root', root, ...args]);
}
const ok = (r: { code: number | null; stderr: string }): void => assert.equal(r.code, 0, r.stderr);

before(async () => {
  bb = await busyboxTar();
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-multi-'));
});
after(async () => {
  await reg?.stop();
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('one command builds linux/amd64 and linux/arm64 (RUN under QEMU), shares the BUILDPLATFORM stage, and pushes one tag', async (t) => {
  if (!existsSync(ARM64_BUSYBOX) || !existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64')) {
    assert.fail('run scripts/setup.sh as root: it unpacks busybox-static:arm64 into .tmp/arm64 and registers qemu-aarch64 with binfmt_misc');
  }
  // A two-platform busybox base in the registry, assembled from two local imports.
  const seed = join(work, 'seed');
  await run('sh', [join(repoRoot(), 'fixtures', 'scripts', 'make-busybox-rootfs.sh'), join(work, 'arm64-rootfs'), '-o', join(work, 'arm64.tar'), '-b', ARM64_BUSYBOX]);
  ok(tsbuild(seed, ['import', '--platform', 'linux/amd64', bb.tar, 'bb:amd64']));
  ok(tsbuild(seed, ['import', '--platform', 'linux/arm64', join(work, 'arm64.tar'), 'bb:arm64']));
  ok(tsbuild(seed, ['push', 'bb:amd64', `${reg.host}/base/busybox:amd64`]));
  ok(tsbuild(seed, ['push', 'bb:arm64', `${reg.host}/base/busybox:arm64`]));
  const base = `${reg.host}/base/busybox:latest`;
  ok(tsbuild(seed, ['manifest', 'create', base, `${reg.host}/base/busybox:amd64`, `${reg.host}/base/busybox:arm64`]));
  ok(tsbuild(seed, ['manifest', 'push', base]));

  const ctx = join(work, 'ctx');
  await mkdir(ctx);
  await writeFile(join(ctx, 'Dockerfile'), [
    `FROM --platform=$BUILDPLATFORM ${base} AS prep`,
    'RUN echo "native $(uname -m)" > /native',
    'ARG TARGETARCH',
    'RUN echo "prepared for $TARGETARCH" > /prep',
    `FROM ${base}`,
    'ARG TARGETPLATFORM',
    'COPY --from=prep /native /prep /',
    'RUN echo "$TARGETPLATFORM $(uname -m)" > /arch',
    '',
  ].join('\n'));
  const root = join(work, 'root');
  const image = `${reg.host}/apps/multi:1`;
  const r = tsbuild(root, ['build', '--progress', 'json', '--platform', 'linux/amd64,linux/arm64', '-t', image, '--push', '--metadata-file', join(work, 'meta.json'), ctx]);
  ok(r);
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; id?: string; name?: string });
  const names = new Map(events.filter((e) => e.type === 'step.start').map((e) => [e.id, e.name]));
  const cached = events.filter((e) => e.type === 'step.cached').map((e) => names.get(e.id));
  assert.ok(cached.some((n) => /linux\/arm64.*RUN echo "native/.test(n ?? '')), `the BUILDPLATFORM step is shared: ${cached.join(', ')}`);

  const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${image}`]);
  const idx = JSON.parse(stdout) as { mediaType: string; manifests: { digest: string; platform: { architecture: string } }[] };
  assert.equal(idx.mediaType, 'application/vnd.oci.image.index.v1+json');
  // Then buildx's default mode=min provenance of each pushed platform image (README: Attestations).
  assert.deepEqual(idx.manifests.map((m) => m.platform.architecture), ['amd64', 'arm64', 'unknown', 'unknown']);
  const meta = JSON.parse(await readFile(join(work, 'meta.json'), 'utf8')) as Record<string, string>;
  assert.equal(meta['containerimage.digest'], 'sha256:' + (await run('sh', ['-c', `printf '%s' '${stdout.trim()}' | sha256sum`])).stdout.split(' ')[0]);

  for (const [platform, expected] of [['linux/amd64', 'linux/amd64 x86_64\n'], ['linux/arm64', 'linux/arm64 aarch64\n']] as const) {
    const out = tsbuild(root, ['run', '--platform', platform, image, 'cat', '/arch']);
    ok(out);
    assert.equal(out.stdout, expected);
    const prep = tsbuild(root, ['run', '--platform', platform, image, 'cat', '/native', '/prep']);
    assert.equal(prep.stdout, `native x86_64\nprepared for ${platform.split('/')[1]}\n`);
  }
  // skopeo --override-arch arm64 (an independent client) gets the arm64 image; its /arch says aarch64.
  const arch = join(work, 'arm64.docker.tar');
  await run('skopeo', ['copy', '--src-tls-verify=false', '--override-arch', 'arm64', `docker://${image}`, `docker-archive:${arch}`]);
  const x = join(work, 'x');
  await mkdir(x);
  await run('tar', ['-C', x, '-xf', arch]);
  const manifest = JSON.parse(await readFile(join(x, 'manifest.json'), 'utf8')) as { Layers: string[] }[];
  const top = manifest[0]!.Layers[manifest[0]!.Layers.length - 1]!;
  const { stdout: archFile } = await run('tar', ['-xOf', join(x, top), 'arch']);
  assert.equal(archFile, 'linux/arm64 aarch64\n');
  // pull --platform into a fresh root picks the child from the pushed index.
  const fresh = join(work, 'fresh');
  ok(tsbuild(fresh, ['pull', '--platform', 'linux/arm64', image]));
  assert.equal(JSON.parse(tsbuild(fresh, ['inspect', image]).stdout)[0].Architecture, 'arm64');
  void t;
});
