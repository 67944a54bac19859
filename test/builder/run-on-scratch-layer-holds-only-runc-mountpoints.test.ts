// A RUN on a base without /dev, /proc, /sys or /etc (FROM scratch + busybox): its layer holds what the command
// wrote plus the empty dev/, proc/ and sys/ that runc makes for its mounts, as BuildKit's does (its
// MountStubsCleaner removes only the /etc/hosts and /etc/resolv.conf stubs and the step's own mount targets,
// with their missing parents: moby/buildkit#3455 shows proc/ and sys/ in a busybox RUN layer); no etc/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';

const run = promisify(execFile);
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let ctx: string;
before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
});
after(async () => {
  await env?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

test('the RUN layer over scratch lists its output and the dev/, proc/, sys/ mountpoints, nothing under etc/', async () => {
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM scratch',
    'COPY --from=busybox:latest /bin/busybox /bin/busybox',
    'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox echo hi > /out && /bin/busybox test -s /etc/resolv.conf && /bin/busybox test -d /proc/self"]',
    '',
  ].join('\n'));
  await env.build({ context: ctx, tags: ['stubs:1'] });
  const img = await env.store.image('stubs:1');
  assert.equal(img.manifest.layers.length, 2);
  const { stdout } = await run('tar', ['-tzvf', env.store.blobPath(img.manifest.layers[1]!.digest)]);
  const lines = stdout.trim().split('\n');
  const names = lines.map((l) => l.split(/\s+/).pop()!).sort();
  assert.deepEqual(names, ['dev/', 'out', 'proc/', 'sys/'], stdout);
  for (const l of lines.filter((x) => x.endsWith('/'))) assert.match(l, /^drwxr-xr-x 0\/0 /, l);
  assert.equal(img.config.config?.WorkingDir, '/');
});
