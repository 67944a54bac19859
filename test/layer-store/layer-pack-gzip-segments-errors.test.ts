import assert from 'node:assert/strict';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Readable } from 'node:stream';
import { LayerSourceChangedError, packLayer } from '../../layer-store/layer/index.js';
import { tmp } from './layer-test-kit.js';

function tree(src: string): void {
  for (let i = 0; i < 300; i++) {
    mkdirSync(join(src, `d${i % 3}`), { recursive: true });
    writeFileSync(join(src, `d${i % 3}/f${i}`), `content ${i}\n`.repeat(400));
  }
  writeFileSync(join(src, 'd1/zbig'), Buffer.alloc(3 << 20, 1));
}

test('segmented gzip: a failing sink rejects with its error, and a file shrinking mid-pack errors the sink stream', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  tree(src);

  const boom = new Error('disk full');
  const failingSink = async (s: Readable): Promise<void> => {
    let n = 0;
    for await (const c of s) { n += (c as Buffer).length; if (n > 1024) throw boom; }
  };
  await assert.rejects(packLayer(src, { sink: failingSink, xattrs: false }), (e: unknown) => e === boom);

  // The big file shrinks after it was stat'ed (the filter runs during the walk, before the tar is read).
  let sinkSaw: unknown = 'clean end';
  const sink = async (s: Readable): Promise<void> => {
    try { for await (const _ of s) { /* drain */ } } catch (e) { sinkSaw = e; throw e; }
  };
  await assert.rejects(
    packLayer(src, { sink, xattrs: false, filter: (rel) => { if (rel === 'd1/zbig') truncateSync(join(src, rel), 1 << 20); return true; } }),
    (e: unknown) => e instanceof LayerSourceChangedError,
  );
  assert.notEqual(sinkSaw, 'clean end', 'the sink saw an error, so a verifying sink keeps nothing');
});
