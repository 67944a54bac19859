import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LayerStore, MAX_CONFIG_BYTES, MAX_JSON_DEPTH, MAX_MANIFEST_BYTES, MediaTypes, TsbuildError, digestOf, type Descriptor,
} from '../../layer-store/index.js';
import { RegistryClient, parseReference } from '../../registry-client/index.js';

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const nested = (n: number): string => '['.repeat(n) + ']'.repeat(n);
const EMPTY_LAYERS_CONFIG = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } };

function manifestFor(config: Buffer, mediaType: string = MediaTypes.ociManifest): Buffer {
  return json({ schemaVersion: 2, mediaType, config: { mediaType: MediaTypes.ociConfig, digest: digestOf(config), size: config.length }, layers: [] });
}

/** Each hostile document: the manifest served (with its Content-Type) and, for config cases, the config blob. */
interface Case { readonly manifest: Buffer; readonly contentType: string; readonly config?: Buffer }
const okConfig = json(EMPTY_LAYERS_CONFIG);
const hugeConfig = json({ ...EMPTY_LAYERS_CONFIG, pad: 'x'.repeat(MAX_CONFIG_BYTES) });
const deepConfig = Buffer.from(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"x":${nested(MAX_JSON_DEPTH + 1)}}`);
const CASES: Record<string, Case> = {
  'oversized-manifest': { manifest: Buffer.concat([manifestFor(okConfig).subarray(0, -1), Buffer.from(`,"pad":"${'x'.repeat(MAX_MANIFEST_BYTES)}"}`)]), contentType: MediaTypes.ociManifest },
  'too-deep-manifest': { manifest: Buffer.concat([manifestFor(okConfig).subarray(0, -1), Buffer.from(`,"x":${nested(MAX_JSON_DEPTH + 1)}}`)]), contentType: MediaTypes.ociManifest },
  'not-json-manifest': { manifest: Buffer.from('<html>captive portal</html>'), contentType: MediaTypes.ociManifest },
  'wrong-media-type-manifest': { manifest: manifestFor(okConfig, 'application/vnd.example.thing.v1+json'), contentType: 'application/vnd.example.thing.v1+json' },
  'schema1-manifest': { manifest: json({ schemaVersion: 1, name: 'old/app', tag: 'v1', fsLayers: [], history: [] }), contentType: MediaTypes.dockerSchema1Signed },
  'oversized-config': { manifest: manifestFor(hugeConfig), contentType: MediaTypes.ociManifest, config: hugeConfig },
  'too-deep-config': { manifest: manifestFor(deepConfig), contentType: MediaTypes.ociManifest, config: deepConfig },
};

/** The parts of an error that must agree: class, code and message (locations name different sources). */
function shape(e: unknown): string {
  assert.ok(TsbuildError.is(e), `not a TsbuildError: ${String(e)}`);
  return `${e.name} ${e.code}: ${e.message}`;
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => assert.fail('should have been rejected'), (e: unknown) => e);
}

test('the store and the registry client reject the same oversized, too-deep and wrong-media-type documents with the same error', async (t) => {
  const blobs = new Map<string, Buffer>();
  for (const c of Object.values(CASES)) if (c.config) blobs.set(digestOf(c.config), c.config);
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/v2/') return void res.writeHead(200, { 'content-length': '0' }).end();
    const m = /^\/v2\/hostile\/([a-z0-9-]+)\/manifests\/.+$/.exec(url);
    const c = m ? CASES[m[1]!] : undefined;
    if (c) return void res.writeHead(200, { 'content-type': c.contentType, 'content-length': String(c.manifest.length) }).end(c.manifest);
    const b = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url);
    const blob = b ? blobs.get(b[1]!) : undefined;
    if (blob) return void res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) }).end(blob);
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NAME_UNKNOWN","message":"no"}]}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new RegistryClient();
  t.after(() => client.close());
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-docs-alike-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await LayerStore.open(root);

  for (const [name, c] of Object.entries(CASES)) {
    const src = client.source(parseReference(`${host}/hostile/${name}:v1`));
    let fromRegistry: unknown;
    let fromStore: unknown;
    if (!c.config) {
      fromRegistry = await failure(src.getManifest());
      fromStore = await failure(store.destination().putManifest({ mediaType: c.contentType, bytes: c.manifest, digest: digestOf(c.manifest) }));
    } else {
      const cfg: Descriptor = { mediaType: MediaTypes.ociConfig, digest: digestOf(c.config), size: c.config.length };
      fromRegistry = await failure((async () => {
        const raw = await src.getManifest();
        for await (const chunk of await src.getBlob(cfg)) void chunk;
        return raw;
      })());
      await store.putBytes(c.config, { digest: cfg.digest });
      const md = await store.putBytes(c.manifest, { digest: digestOf(c.manifest), mediaType: MediaTypes.ociManifest });
      fromStore = await failure(store.load(md));
    }
    t.diagnostic(`${name}: ${shape(fromRegistry)}`);
    assert.equal(shape(fromStore), shape(fromRegistry), name);
    assert.match(shape(fromRegistry), name.startsWith('oversized') ? /larger than \d+ bytes/ : name.startsWith('too-deep') ? /nested deeper than 64 levels/ : /./, name);
  }
});
