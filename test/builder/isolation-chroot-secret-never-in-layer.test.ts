// A secret mount under --isolation chroot is a copy of the secret file put in the root filesystem for the step
// and taken away before the layer is made (nothing can be mounted): the step reads it (with its mode), the layer
// holds what the step wrote and no trace of the secret (no run/secrets, not its bytes anywhere in the tar), and
// a secret mounted over an image file gives the file back untouched (it is not in the layer).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { busyboxTar, makeBuildEnv, scratchLeft, type BuildEnv } from '../helpers/build-env.js';

const run = promisify(execFile);
const SECRET = 'tsbuild-chroot-secret-4f1c9a';
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let ctx: string;
before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb, { isolation: 'chroot' });
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
});
after(async () => {
  await env?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

test('a secret reaches the step and never the layer', async () => {
  const src = join(ctx, 'secret.txt');
  await writeFile(src, SECRET);
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest',
    'RUN --mount=type=secret,id=tok sha256sum /run/secrets/tok | cut -d" " -f1 > /hash && stat -c %a /run/secrets/tok > /mode',
    'RUN --mount=type=secret,id=tok,target=/etc/passwd grep -q chroot-secret /etc/passwd && echo seen > /over',
    'RUN --mount=type=secret,id=tok,env=TOK [ "$TOK" = ' + SECRET + ' ] && echo env > /env',
    '',
  ].join('\n'));
  await env.build({ context: ctx, tags: ['sec:1'], secrets: [{ id: 'tok', src }], sourceDateEpoch: 0 });
  const img = await env.store.image('sec:1');
  const layers = img.manifest.layers.slice(1).map((l) => env.store.blobPath(l.digest));
  const list = async (blob: string): Promise<string[]> => (await run('tar', ['-tzf', blob])).stdout.trim().split('\n');
  // dev/, proc/ and sys/: the mountpoints runc makes on this base (which has none) are kept as runc leaves them.
  assert.deepEqual(await list(layers[0]!), ['dev/', 'hash', 'mode', 'proc/', 'sys/']);
  assert.deepEqual(await list(layers[1]!), ['over']);
  assert.deepEqual(await list(layers[2]!), ['env']);
  const hash = (await run('tar', ['-xzOf', layers[0]!, 'hash'])).stdout.trim();
  assert.equal(hash, createHash('sha256').update(SECRET).digest('hex'));
  assert.equal((await run('tar', ['-xzOf', layers[0]!, 'mode'])).stdout.trim(), '400');
  for (const blob of layers) assert.ok(!gunzipSync(readFileSync(blob)).includes(SECRET), `the secret is in ${blob}`);
  // The image's /etc/passwd is the base's: the secret mounted over it was put back.
  assert.match((await run('tar', ['-xzOf', env.store.blobPath(img.manifest.layers[0]!.digest), '--wildcards', '*etc/passwd'])).stdout, /^root:/);
  assert.deepEqual(await scratchLeft(env.root), []);
});
