import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry } from '../helpers/registry.js';
import { startFaultyProxy } from '../helpers/faulty-proxy.js';
import { onlyErrorLine, runCliAsync } from '../helpers/cli.js';
import { DEFAULT_RETRY_POLICY } from '../../registry-client/index.js';

/** Imports a one-layer image (300 kB of random bytes) as `name` into `root`; returns the layer's digest. */
async function seedImage(dir: string, root: string, name: string): Promise<string> {
  await mkdir(join(dir, 'rootfs'), { recursive: true });
  await writeFile(join(dir, 'rootfs', 'data'), randomBytes(300_000));
  execFileSync('tar', ['-C', join(dir, 'rootfs'), '-cf', join(dir, 'rootfs.tar'), '.']);
  const r = await runCliAsync(['--root', root, 'import', join(dir, 'rootfs.tar'), name]);
  assert.equal(r.code, 0, r.stderr);
  // The layer's digest, read from the store's own OCI layout (index.json → manifest).
  const index = JSON.parse(await readFile(join(root, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(await readFile(join(root, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: { digest: string; size: number }[] };
  const big = manifest.layers.find((l) => l.size > 200_000);
  assert.ok(big, 'the layer holds the random bytes');
  return big.digest;
}

test('a blob the registry cuts short on every try fails with its digest, the registry and a hint, after bounded retries', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-trunc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const proxy = await startFaultyProxy(reg.host);
  t.after(() => proxy.stop());
  const src = join(dir, 'src');
  const layer = await seedImage(dir, src, 'app:1');
  const pushed = await runCliAsync(['--root', src, '--progress', 'quiet', 'push', 'app:1', `${reg.host}/t/app:1`]);
  assert.equal(pushed.code, 0, pushed.stderr);

  // Pull through the proxy, which sends the layer's headers and only 100 bytes of its body, every time.
  const isLayerGet = (r: { method: string; url: string }) => r.method === 'GET' && r.url.includes(`/blobs/${layer}`);
  for (const kind of ['truncate', 'drop-response'] as const) {
    proxy.setRule((r) => (isLayerGet(r) ? { kind, afterBytes: 100 } : undefined));
    proxy.log.length = 0;
    const dst = join(dir, `dst-${kind}`);
    const r = await runCliAsync(['--root', dst, '--progress', 'quiet', 'pull', `${proxy.host}/t/app:1`]);
    assert.equal(r.code, 1, r.stderr);
    const line = onlyErrorLine(r);
    assert.ok(line.startsWith(`error: blob ${layer} could not be downloaded from ${proxy.host}: the transfer broke off ${DEFAULT_RETRY_POLICY.maxAttempts} times, the last after `), `${kind}: ${line}`);
    assert.match(line, new RegExp(`\\(${proxy.host.replace(/[.]/g, '\\.')}/t/app:1\\): the registry or a proxy in front of it cuts the transfer short every time; check the network and any proxy, then retry`));
    assert.equal(proxy.log.filter(isLayerGet).length, DEFAULT_RETRY_POLICY.maxAttempts, 'bounded: one GET per allowed attempt, each resuming (Range)');
    assert.ok(proxy.log.filter(isLayerGet).slice(1).every((e) => e.requestRange?.startsWith('bytes=')), 'retries resume where the last one stopped');
    const index = JSON.parse(await readFile(join(dst, 'index.json'), 'utf8')) as { manifests: unknown[] };
    assert.deepEqual(index.manifests, [], 'no image named or recorded');
    assert.deepEqual((await readdir(join(dst, 'blobs', 'sha256'))).filter((f) => f.startsWith('.') || f === layer.slice(7)), [], 'neither the layer nor a temp file stored');
  }
});

test('a push whose every upload request is dropped fails naming the blob and the registry, after a bounded number of requests', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-trunc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const proxy = await startFaultyProxy(reg.host, (r) => ((r.method === 'PUT' || r.method === 'PATCH') && r.url.includes('/blobs/uploads/') ? { kind: 'drop-request' } : undefined));
  t.after(() => proxy.stop());
  const src = join(dir, 'src');
  await seedImage(dir, src, 'app:1');
  const r = await runCliAsync(['--root', src, '--progress', 'quiet', 'push', 'app:1', `${proxy.host}/t/app:1`]);
  assert.equal(r.code, 1, r.stderr);
  const line = onlyErrorLine(r);
  // The connection error as the HTTP client words it: Node's (direct route) or undici's (proxy route).
  assert.match(line, new RegExp(`^error: upload of sha256:[0-9a-f]{64} was lost by the registry: commit blob \\((?:socket hang up|other side closed)\\): PUT http://${proxy.host.replace(/[.]/g, '\\.')}/v2/t/app/blobs/uploads/`));
  assert.match(line, /: retry the push/);
  // Per blob: 1 + 3 upload sessions, each PUT tried maxAttempts times; two blobs (config, layer).
  const puts = proxy.log.filter((e) => e.method === 'PUT').length;
  assert.ok(puts <= 2 * 4 * DEFAULT_RETRY_POLICY.maxAttempts, `bounded: ${puts} PUTs`);
  assert.ok(!proxy.log.some((e) => e.method === 'PUT' && e.url.includes('/manifests/')), 'no manifest pushed after lost blobs');
});
