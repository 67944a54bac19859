/**
 * pull and push set their one V8 flag (no incremental marking) before any code is compiled and never change it
 * (cli/chunk-loader.ts BULK_COMMANDS): a V8 flag changed later changes the flag hash code caches are checked
 * against, so the chunks loaded before it had their caches rejected and rewritten at every exit. Observable: once
 * a pull and a push have each run, running them again writes no code cache, also for an image with a blob big
 * enough (>= 32 MiB) to have made the flag change mid-run before. A copy of the installed executable is used, so
 * the caches are this test's own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { RegistryClient, parseReference } from '../../registry-client/index.js';
import { startRegistry } from '../helpers/registry.js';
import { makeImage, pushImage } from './fixture.js';
import { installedCopy } from '../helpers/installed-copy.js';

const skip = typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? false : 'zlib.crc32 needs Node ≥ 20.15 (without it there is no code cache)';

test('a second pull and a second push write no V8 code cache (their flag is set before any code and never changed)', { skip, timeout: 300_000 }, async (t) => {
  const { dir, bin, chunks } = installedCopy(t, 'tsb-move-cache-');

  const reg = await startRegistry();
  t.after(() => reg.stop());
  const seed = new RegistryClient();
  t.after(() => seed.close());
  // One layer over 32 MiB (the size from which the flag used to change mid-run), one small.
  const img = await makeImage([33 * 1024 * 1024, 10_000]);
  await pushImage(seed.destination(parseReference(`${reg.host}/cache/app:v1`)), img, ['v1']);

  const caches = (): Map<string, number> => new Map(readdirSync(chunks).filter((f) => f.endsWith('.v8-cache')).map((f) => [f, statSync(join(chunks, f)).mtimeMs]));
  const run = (args: readonly string[]): void => {
    const r = spawnSync(bin, ['--progress', 'quiet', ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, `tsbuild ${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
  };
  const pullPush = (n: number): void => {
    const root = join(dir, `root-${n}`);
    run(['--root', root, 'pull', `${reg.host}/cache/app:v1`]);
    run(['--root', root, 'push', `${reg.host}/cache/app:v1`, `${reg.host}/cache/copy-${n}:v1`]);
  };
  pullPush(1);
  const first = caches();
  assert.ok(first.size > 3, `caches written by the first pull and push: ${[...first.keys()].join(', ')}`);
  pullPush(2);
  const rewritten = [...caches()].filter(([f, m]) => first.get(f) !== m).map(([f]) => f);
  assert.deepEqual(rewritten, [], 'code caches written again by the second pull and push');
});
