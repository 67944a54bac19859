import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';
import { imageTree } from '../conformance/image-tree.js';

// ADD extracts a local archive as moby's archive.Unpack does: the archive's root entry (`./`) is skipped, so an
// existing destination keeps its owner, mode and times; a missing one is created 0755 (owned as --chown says);
// the entries below keep the archive's owners unless --chown is given.
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let ctx: string;
before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-add-root-'));
  await mkdir(join(ctx, 'tree'), { mode: 0o777 });
  await writeFile(join(ctx, 'tree', 'f'), 'f');
  execFileSync('tar', ['-C', join(ctx, 'tree'), '--owner=7', '--group=8', '--mode=go-w', '-cf', join(ctx, 't.tar'), '.']);
});
after(async () => {
  await env?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

test('ADD of an archive with a ./ entry onto an existing directory leaves its owner and mode', async () => {
  assert.match(execFileSync('tar', ['--numeric-owner', '-tvf', join(ctx, 't.tar')], { encoding: 'utf8' }), /7\/8 .* \.\/\n/, 'the archive has a ./ entry owned 7:8');
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest',
    'RUN mkdir -m 0700 /d /d2 && chown 1000:1000 /d /d2',
    'ADD t.tar /d/',
    'ADD --chown=5:5 t.tar /d2/',
    'ADD t.tar /new/',
    'ADD --chown=5:5 t.tar /new2/',
    '',
  ].join('\n'));
  await env.build({ context: ctx, tags: ['add-root:1'] });
  const tree = await imageTree(env.store, 'add-root:1');
  const got = (p: string): string => {
    const n = tree.get(p);
    return n ? `${n.type} ${n.mode.toString(8).padStart(4, '0')} ${n.uid}:${n.gid}` : 'missing';
  };
  const want: Record<string, string> = {
    '/d': 'dir 0700 1000:1000', '/d/f': 'file 0644 7:8',
    '/d2': 'dir 0700 1000:1000', '/d2/f': 'file 0644 5:5',
    '/new': 'dir 0755 0:0', '/new/f': 'file 0644 7:8',
    '/new2': 'dir 0755 5:5', '/new2/f': 'file 0644 5:5',
  };
  assert.deepEqual(Object.fromEntries(Object.keys(want).map((p) => [p, got(p)])), want);
});
