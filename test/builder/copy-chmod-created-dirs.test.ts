import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';
import { imageTree } from '../conformance/image-tree.js';

// fsutil's copy creates the destination and its missing parents with an octal --chmod's permission bits (not the
// special bits), owned as --chown says; a symbolic --chmod leaves them 0755 (BuildKit's testCopyChmod). COPY, ADD
// of a local file and COPY of a heredoc all go through it.
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let ctx: string;
before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-chmod-dirs-'));
  await writeFile(join(ctx, 'f'), 'f', { mode: 0o644 });
});
after(async () => {
  await env?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

test('directories a COPY/ADD --chmod creates get its mode', async () => {
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest',
    'COPY --chmod=750 f /a/b/f',
    'COPY --chmod=u+x f /s/t/f',
    'COPY --chmod=700 --chown=5:6 f /o/p/',
    'ADD --chmod=710 f /add/x/f',
    'COPY --chmod=2750 f /sg/f',
    'COPY --chmod=700 <<EOF /h/d/x', 'hi', 'EOF',
    'COPY f /plain/q/f',
    'RUN mkdir -m 0701 /pre',
    'COPY --chmod=777 f /pre/new/f',
    '',
  ].join('\n'));
  await env.build({ context: ctx, tags: ['chmod-dirs:1'] });
  const tree = await imageTree(env.store, 'chmod-dirs:1');
  const got = (p: string): string => {
    const n = tree.get(p);
    return n ? `${n.type} ${n.mode.toString(8).padStart(4, '0')} ${n.uid}:${n.gid}` : 'missing';
  };
  const want: Record<string, string> = {
    '/a': 'dir 0750 0:0', '/a/b': 'dir 0750 0:0', '/a/b/f': 'file 0750 0:0',
    '/s': 'dir 0755 0:0', '/s/t': 'dir 0755 0:0', '/s/t/f': 'file 0744 0:0',
    '/o': 'dir 0700 5:6', '/o/p': 'dir 0700 5:6', '/o/p/f': 'file 0700 5:6',
    '/add': 'dir 0710 0:0', '/add/x': 'dir 0710 0:0', '/add/x/f': 'file 0710 0:0',
    '/sg': 'dir 0750 0:0', '/sg/f': 'file 2750 0:0',
    '/h': 'dir 0700 0:0', '/h/d': 'dir 0700 0:0', '/h/d/x': 'file 0700 0:0',
    '/plain': 'dir 0755 0:0', '/plain/q': 'dir 0755 0:0',
    '/pre': 'dir 0701 0:0', '/pre/new': 'dir 0777 0:0',
  };
  assert.deepEqual(Object.fromEntries(Object.keys(want).map((p) => [p, got(p)])), want);
});
