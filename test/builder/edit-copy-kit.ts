/**
 * What the edited-COPY tests share (edit-copy-big-layer-compressed-behind-run, edit-copy-run-before-layer-identified):
 * the two-step Dockerfile, the builds that leave an edit to rebuild, and the checks that a build failed behind its
 * steps left nothing behind.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { mountPoints, scratchLeft, type BuildEnv } from '../helpers/build-env.js';
import { RACY_MARGIN_MS } from '../../layer-store/index.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'tsbuild.cjs');
export const EPOCH = 1_700_000_000;
export const DOCKERFILE = 'FROM busybox:latest\nCOPY files/ /app/files/\nRUN cat /app/files/d*/* | wc -c > /count\n';

/**
 * A cold build (`NAME:0`) and one edit rebuild (`NAME:1`) of `files/d0/f0.EXT`, then an edit of `files/d7/f7.EXT`
 * left to rebuild (each edit after the stat cache's racy margin, so it is seen).
 */
export async function buildThenEditTwice(env: BuildEnv, ctx: string, name: string, ext: string): Promise<void> {
  await env.build({ context: ctx, tags: [`${name}:0`], sourceDateEpoch: EPOCH });
  await sleep(RACY_MARGIN_MS + 50);
  await appendFile(join(ctx, 'files', 'd0', `f0.${ext}`), 'a first edit\n');
  await env.build({ context: ctx, tags: [`${name}:1`], sourceDateEpoch: EPOCH });
  await sleep(RACY_MARGIN_MS + 50);
  await appendFile(join(ctx, 'files', 'd7', `f7.${ext}`), 'one more line\n');
}

/** After a failed build meant to tag `kept` (whose manifest was `before`) and `added`: no tag moved or made, no half-written blob, scratch dir or mount, and fsck finds the store consistent. */
export async function assertFailedBuildLeftNothing(env: BuildEnv, kept: string, before: unknown, added: string): Promise<void> {
  assert.deepEqual((await env.store.image(kept)).manifest, before, 'no tag moved');
  await assert.rejects(env.store.image(added), 'no new tag');
  assert.deepEqual((await readdir(join(env.root, 'blobs', 'sha256'))).filter((n) => n.startsWith('.')), [], 'no half-written blob');
  assert.deepEqual(await scratchLeft(env.root), [], 'no scratch dir left');
  assert.deepEqual(await mountPoints(env.root), [], 'no mount left');
  const { stdout } = await promisify(execFile)('node', [cli, '--root', env.root, 'fsck']);
  assert.match(stdout, /consistent|ok|no problem/i, stdout);
}
