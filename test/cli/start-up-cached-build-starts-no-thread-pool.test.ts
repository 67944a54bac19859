import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

// A fully cached build and `images` on an empty store make only small metadata calls, synchronous since the
// thread-pool round (cli/README.md, Start-up): neither loads node:fs/promises, whose every call is a trip
// through libuv's thread pool (started at the first). The bundle runs with a preload that writes the builtins
// the command loaded at its exit; the first, uncached build (it packs a layer) shows that the probe sees the
// module when it is loaded. Making a new store (the first images) does not load it either: its directories, files
// and renames are synchronous calls and only its fsyncs go to the pool, through node:fs (layer-store/store/store.ts).

/** Runs the bundled CLI with `args` and returns the Node builtins it had loaded at exit. */
function builtinsLoaded(dir: string, args: readonly string[]): Set<string> {
  const probe = join(dir, 'probe.cjs');
  const out = join(dir, 'loaded.txt');
  writeFileSync(probe, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, process.moduleLoadList.join('\\n')));\n`);
  const env: NodeJS.ProcessEnv = { ...process.env, TSBUILD_CODE_CACHE: '0' }; // no cache or snapshot written into dist/bin
  delete env['NODE_OPTIONS'];
  const r = spawnSync(process.execPath, ['-r', probe, join(repoRoot(), 'dist', 'bin', 'tsbuild.cjs'), ...args], { encoding: 'utf8', env });
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return new Set(readFileSync(out, 'utf8').split('\n').filter((l) => l.startsWith('NativeModule ')).map((l) => l.slice('NativeModule '.length)));
}

test('a fully cached build and images on an empty store never load node:fs/promises', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbuild-no-pool-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ctx = join(dir, 'ctx');
  const root = join(dir, 'root');
  spawnSync('mkdir', ['-p', ctx]);
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
  writeFileSync(join(ctx, 'hello.txt'), 'hello\n');
  const build = ['--root', root, '--progress', 'quiet', 'build', '-t', 'no-pool:latest', ctx];
  assert.ok(builtinsLoaded(dir, build).has('fs/promises'), 'the first build packs a layer: the probe sees fs/promises');
  // The second build may still record the context's stat cache (a file changed within the last second is
  // hashed again, as git's racy-clean rule); the third is the steady no-change rebuild.
  builtinsLoaded(dir, build);
  const cached = builtinsLoaded(dir, build);
  assert.ok(cached.has('fs'), 'the probe lists the builtins');
  assert.equal(cached.has('fs/promises'), false, 'the cached build loaded node:fs/promises');
  const images = ['--root', join(dir, 'empty'), 'images'];
  assert.equal(builtinsLoaded(dir, images).has('fs/promises'), false, 'images making a new store loaded node:fs/promises');
  assert.ok(existsSync(join(dir, 'empty', 'oci-layout')) && existsSync(join(dir, 'empty', 'index.json')), 'the first images made the store');
  assert.equal(builtinsLoaded(dir, images).has('fs/promises'), false, 'images on an empty store loaded node:fs/promises');
});
