/**
 * An upload chunk is sent as views of the blocks its bytes were read in, never joined: chunk boundaries, a 413
 * that halves the piece size and a resume from the registry's acknowledged offset all fall inside blocks, and the
 * registry still gets every byte in order (it checks the digest at commit; the blob is read back and compared).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { startRegistry } from '../helpers/registry.js';
import { startFaultyProxy } from '../helpers/faulty-proxy.js';
import { RegistryClient, parseReference } from '../../registry-client/index.js';
import { makeImage, pullAll } from './fixture.js';

const fast = { maxAttempts: 6, baseDelayMs: 10, maxDelayMs: 200, maxTotalMs: 20_000, retryStatuses: [429, 500, 502, 503, 504] };

/** `bytes` as a stream of blocks of `size` bytes (the last shorter). */
function blocks(bytes: Buffer, size: number): Readable {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return Readable.from(out);
}

test('chunks cut across 7,001-byte read blocks, halved by a 413 and resumed mid-chunk, arrive whole and in order', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const proxy = await startFaultyProxy(reg.host);
  t.after(() => proxy.stop());
  const chunkSize = 128 * 1024;
  const client = new RegistryClient({ chunkSize, retry: fast });
  t.after(() => client.close());
  const img = await makeImage([600_000]);
  const layer = img.layers[0]!;
  const bytes = img.blobs.get(layer.digest)!;
  const ref = parseReference(`${proxy.host}/blocks/app:v1`);
  const dst = client.destination(ref);

  let patches = 0;
  proxy.setRule((r) => {
    if (r.method !== 'PATCH') return undefined;
    patches++;
    if (patches === 2) return { kind: 'status', status: 413 }; // the piece size halves: 64 KiB pieces of 128 KiB chunks
    if (patches === 4) return { kind: 'drop-request' }; // the second half of that chunk: resumed mid-chunk
    return undefined;
  });
  for (const d of [img.config, layer]) {
    const b = img.blobs.get(d.digest)!;
    await dst.putBlob(blocks(b, 7001), d, { reopen: async () => blocks(b, 7001) });
  }
  await dst.putManifest(img.manifest);
  await dst.commit([]);

  const sent = proxy.log.filter((e) => e.method === 'PATCH' && e.status === 202);
  const ranges = sent.map((e) => e.requestRange!.split('-').map(Number) as [number, number]);
  assert.ok(ranges.some(([a, b]) => b - a + 1 === chunkSize / 2 && a % chunkSize === chunkSize / 2), `a 64 KiB piece starting mid-chunk after the 413 and the drop (${JSON.stringify(ranges)})`);
  // Every acknowledged range starts where the previous one ended, and together they cover the blob.
  let next = 0;
  for (const [a, b] of ranges) {
    assert.equal(a, next, `contiguous ranges: ${JSON.stringify(ranges)}`);
    next = b + 1;
  }
  assert.equal(next, bytes.length, 'the PATCHes together cover the blob');

  const back = await pullAll(client.source(parseReference(`${reg.host}/blocks/app:v1`)));
  assert.deepEqual(back.blobs.get(layer.digest), bytes);
});
