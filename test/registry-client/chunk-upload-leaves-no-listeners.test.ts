/**
 * An upload chunk goes up as many writes, each waiting for the socket to drain; the listeners of each wait are
 * removed when it ends. Before, every wait left a 'close' listener on the request, and a chunk of more than ten
 * blocks printed "MaxListenersExceededWarning: 11 close listeners added to [ClientRequest]" (a T1 push: dozens).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { startRegistry } from '../helpers/registry.js';
import { RegistryClient, parseReference } from '../../registry-client/index.js';
import { makeImage, pullAll } from './fixture.js';

/** `bytes` as a stream of blocks of `size` bytes (the last shorter), as the store reads a blob. */
function blocks(bytes: Buffer, size: number): Readable {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return Readable.from(out);
}

test('a chunk of many blocks goes up without piling listeners on its request (no MaxListenersExceededWarning)', async (t) => {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => { warnings.push(w); };
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const client = new RegistryClient({ chunkSize: 16 * 1024 * 1024 });
  t.after(() => client.close());
  const img = await makeImage([24 * 1024 * 1024]);
  const layer = img.layers[0]!;
  const ref = parseReference(`${reg.host}/listeners/app:v1`);
  const dst = client.destination(ref);
  for (const d of [img.config, layer]) {
    const b = img.blobs.get(d.digest)!;
    // 1 MiB blocks, as the store reads them: a first PATCH of 16 writes, most of them waiting for a drain.
    await dst.putBlob(blocks(b, 1024 * 1024), d, { reopen: async () => blocks(b, 1024 * 1024) });
  }
  await dst.putManifest(img.manifest);
  await dst.commit(['v1']);
  // Warnings are emitted on the next tick.
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message), []);
  const pulled = await pullAll(client.source(ref));
  assert.deepEqual(pulled.blobs.get(layer.digest), img.blobs.get(layer.digest));
});
