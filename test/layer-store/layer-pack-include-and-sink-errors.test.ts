import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { TsbuildError } from '../../layer-store/core/index.js';
import { packLayer } from '../../layer-store/layer/index.js';
import { packToFile, tmp, sh } from './layer-test-kit.js';

function tree(src: string): void {
  mkdirSync(join(src, 'app/lib'), { recursive: true });
  mkdirSync(join(src, 'etc'), { recursive: true });
  writeFileSync(join(src, 'app/lib/a.js'), 'a');
  writeFileSync(join(src, 'app/main.js'), 'm');
  writeFileSync(join(src, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  writeFileSync(join(src, 'big'), Buffer.alloc(8 * 1024 * 1024, 3));
}

test('include packs only the listed paths, their subtrees and their ancestor directories', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  mkdirSync(src);
  tree(src);
  await packToFile(src, join(d, 'l'), { compression: 'none', include: ['app/lib', '/etc/passwd'] });
  assert.deepEqual(sh(`tar -tf ${join(d, 'l')}`).trim().split('\n'), ['app/', 'app/lib/', 'app/lib/a.js', 'etc/', 'etc/passwd']);
  await packToFile(src, join(d, 'f'), { compression: 'none', filter: (rel) => rel !== 'app' && rel !== 'big' });
  assert.deepEqual(sh(`tar -tf ${join(d, 'f')}`).trim().split('\n'), ['etc/', 'etc/passwd']);
});

test('a failing sink makes packLayer reject with the sink error (no hang)', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  mkdirSync(src);
  tree(src);
  const boom = new TsbuildError('IO', 'disk full');
  const sink = async (s: Readable): Promise<void> => {
    let n = 0;
    for await (const c of s) {
      n += (c as Buffer).length;
      if (n > 1000) throw boom;
    }
  };
  await assert.rejects(packLayer(src, { sink, compression: 'none' }), (e: unknown) => e === boom);
});

test('an aborted pack rejects and the sink sees an error, not a clean end', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  mkdirSync(src);
  tree(src);
  const ac = new AbortController();
  let sinkEndedCleanly = false;
  const sink = async (s: Readable): Promise<void> => {
    for await (const _ of s) ac.abort();
    sinkEndedCleanly = true;
  };
  await assert.rejects(packLayer(src, { sink, compression: 'gzip', signal: ac.signal }));
  assert.equal(sinkEndedCleanly, false);
});
