import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { packToFile, tmp, sh } from './layer-test-kit.js';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

test("skopeo (Go's gzip reader) decompresses a segmented gzip layer to the diffID", async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  for (let i = 0; i < 300; i++) {
    mkdirSync(join(src, `d${i % 4}`), { recursive: true });
    writeFileSync(join(src, `d${i % 4}/f${i}.txt`), `segment test ${i}\n`.repeat(20 + i * 3));
  }
  writeFileSync(join(src, 'big.bin'), Buffer.alloc(3 * 1024 * 1024 + 5, 0x5a));
  const layout = join(d, 'layout');
  mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
  const tmpBlob = join(d, 'layer.tgz');
  const l = await packToFile(src, tmpBlob, { xattrs: false });
  assert.ok((l.segments?.segments.length ?? 0) > 4);
  renameSync(tmpBlob, join(layout, 'blobs/sha256', l.digest.slice(7)));

  const put = (o: object): { digest: string; size: number } => {
    const b = Buffer.from(JSON.stringify(o));
    const h = sha(b);
    writeFileSync(join(layout, 'blobs/sha256', h), b);
    return { digest: `sha256:${h}`, size: b.length };
  };
  const config = put({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [l.diffId] }, config: {} });
  const manifest = put({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: l.mediaType, digest: l.digest, size: l.size }],
  });
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'seg' } }],
  }));
  const out = join(d, 'out');
  sh(`skopeo copy --quiet --dest-decompress oci:${layout}:seg dir:${out}`);
  // The decompressed layer is stored under its diffID; Go's reader checked the gzip CRC and length on the way.
  const data = readFileSync(join(out, l.diffId.slice(7)));
  assert.equal(sha(data), l.diffId.slice(7));
  assert.equal(data.length, l.uncompressedSize);
});
