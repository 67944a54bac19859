import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TsbuildError } from '../../layer-store/index.js';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';
import { imageTree } from '../conformance/image-tree.js';

// COPY --parents from the context, as BuildKit: the part before a `/./` pivot is where the copy starts, the rest
// an include pattern (`**` spans directories, a matched directory brings its contents), .dockerignore still
// applies, the directories above a match are made with their source's mode, the destination is created even when
// nothing matches (but not when a wildcard before the pivot matches nothing), and a path without wildcards must
// exist: `"/path": not found`.
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let ctx: string;
before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-parents-'));
  for (const d of ['src/a/x/deep', 'src/a/y', 'priv', 'ign']) await mkdir(join(ctx, d), { recursive: true });
  for (const f of ['src/a/x/deep/keep.txt', 'src/a/y/keep.txt', 'src/a/y/skip.log', 'priv/f', 'ign/secret', 'ign/ok']) await writeFile(join(ctx, f), f);
  await chmod(join(ctx, 'priv'), 0o700);
  await writeFile(join(ctx, '.dockerignore'), 'ign/secret\n');
});
after(async () => {
  await env?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

test('COPY --parents: pivot, ** patterns, .dockerignore, parents with their mode, empty matches', async () => {
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest',
    'COPY --parents src/./a/**/keep.txt /p1/',
    'COPY --parents priv/f /p2/',
    'COPY --parents ign/* /p3/',
    'COPY --parents src/./nomatch* /p4/',
    'COPY --parents nobase*/./x /p5/',
    'COPY --parents ./src/a/y/./keep.txt /p6',
    '',
  ].join('\n'));
  await env.build({ context: ctx, tags: ['parents:1'] });
  const tree = await imageTree(env.store, 'parents:1');
  const under = (dir: string): string[] => [...tree.keys()].filter((p) => p.startsWith(dir + '/')).sort();
  assert.deepEqual(under('/p1'), ['/p1/a', '/p1/a/x', '/p1/a/x/deep', '/p1/a/x/deep/keep.txt', '/p1/a/y', '/p1/a/y/keep.txt']);
  assert.deepEqual(under('/p2'), ['/p2/priv', '/p2/priv/f']);
  assert.equal(tree.get('/p2/priv')?.mode, 0o700, 'a directory above a match has its source mode');
  assert.deepEqual(under('/p3'), ['/p3/ign', '/p3/ign/ok']);
  assert.equal(tree.get('/p4')?.type, 'dir', 'an empty match still creates the destination');
  assert.deepEqual(under('/p4'), []);
  assert.equal(tree.get('/p5'), undefined, 'a wildcard base matching nothing copies nothing');
  assert.equal(tree.get('/p6')?.type, 'dir', 'with --parents the destination is a directory');
  assert.deepEqual(under('/p6'), ['/p6/keep.txt']);
});

test('COPY --parents of a missing path names it as BuildKit does, with the Dockerfile line', async () => {
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY --parents src/./a/missing /p/\n');
  await assert.rejects(env.build({ context: ctx, tags: ['parents:2'] }), (e: unknown) => {
    assert.ok(TsbuildError.is(e));
    assert.match(e.message, /^COPY source "\/src\/a\/missing": not found in the build context$/);
    assert.deepEqual(e.location && 'line' in e.location ? e.location.line : undefined, 2);
    assert.ok(e.hint);
    return true;
  });
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY nothere /p/\n');
  await assert.rejects(env.build({ context: ctx, tags: ['parents:3'] }), /COPY source "\/nothere": not found in the build context$/);
});
