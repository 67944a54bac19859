import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { TSBUILD_BIN } from '../helpers/cli.js';

/** Runs the CLI without blocking this process (the hostile registry is served from it). */
function runCli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [TSBUILD_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function manifestFor(config: Buffer): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: digestOf(config), size: config.length }, layers: [] }));
}

const depth = 100_000;
const nested = (open: string, close: string) => Buffer.from(open.repeat(depth) + close.repeat(depth));
const hugeConfig = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, pad: 'x'.repeat(20 * 1024 * 1024) }));
const nestedConfig = Buffer.from(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"x":${'['.repeat(depth)}${']'.repeat(depth)}}`);

/** What a hostile registry serves as the manifest of each repository (and the blobs those manifests name). */
const CASES: Record<string, { manifest: Buffer; blobs?: Buffer[]; expect: RegExp }> = {
  'huge-manifest': { manifest: Buffer.from(`{"schemaVersion":2,"pad":"${'x'.repeat(5 * 1024 * 1024)}"}`), expect: /larger than 4194304 bytes/ },
  'nested-manifest': { manifest: nested('[', ']'), expect: /manifest/i },
  'nested-object-manifest': { manifest: nested('{"a":', '}'), expect: /manifest/i },
  'not-json-manifest': { manifest: Buffer.from('<html><body>welcome to the captive portal</body></html>'), expect: /not JSON/ },
  'huge-config': { manifest: manifestFor(hugeConfig), blobs: [hugeConfig], expect: /config/i },
  'nested-config': { manifest: manifestFor(nestedConfig), blobs: [nestedConfig], expect: /config/i },
  'not-json-config': { manifest: manifestFor(Buffer.from('not json at all')), blobs: [Buffer.from('not json at all')], expect: /config/i },
};

test('a registry serving huge, deeply nested or non-JSON manifests and configs: a clean one-line error, nothing stored', async (t) => {
  const blobs = new Map<string, Buffer>();
  for (const c of Object.values(CASES)) for (const b of c.blobs ?? []) blobs.set(digestOf(b), b);
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/v2/') return void res.writeHead(200, { 'content-length': '0' }).end();
    const m = /^\/v2\/hostile\/([a-z-]+)\/manifests\/(.+)$/.exec(url);
    const c = m ? CASES[m[1]!] : undefined;
    if (c) {
      res.writeHead(200, { 'content-type': OCI_MANIFEST, 'content-length': String(c.manifest.length), 'docker-content-digest': digestOf(c.manifest) });
      return void res.end(req.method === 'HEAD' ? undefined : c.manifest);
    }
    const b = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url);
    const blob = b ? blobs.get(b[1]!) : undefined;
    if (blob) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(blob.length), 'docker-content-digest': b![1]! });
      return void res.end(req.method === 'HEAD' ? undefined : blob);
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NAME_UNKNOWN","message":"no"}]}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const work = await mkdtemp(join(tmpdir(), 'tsbuild-hostile-docs-'));
  t.after(() => rm(work, { recursive: true, force: true }));

  const results: string[] = [];
  for (const [name, c] of Object.entries(CASES)) {
    const root = join(work, name);
    const r = await runCli(['--root', root, '--progress', 'plain', 'pull', `${host}/hostile/${name}:v1`]);
    const lines = r.stderr.trim().split('\n');
    results.push(`${name}: exit ${r.code}: ${lines.at(-1)}`);
    assert.notEqual(r.code, 0, `${name}: must fail`);
    assert.ok(r.code !== null, `${name}: no crash by signal`);
    assert.equal(lines.filter((l) => l.startsWith('error:')).length, 1, `${name}: one error line\n${r.stderr}`);
    assert.ok(!/\n\s+at /.test(r.stderr), `${name}: no stack trace\n${r.stderr}`);
    assert.match(r.stderr, c.expect, name);
    const stored = await readdir(join(root, 'blobs', 'sha256')).catch(() => [] as string[]);
    assert.deepEqual(stored, [], `${name}: nothing stored`);
    const index = await readFile(join(root, 'index.json'), 'utf8').catch(() => '{"manifests":[]}');
    assert.deepEqual((JSON.parse(index) as { manifests: unknown[] }).manifests, [], `${name}: nothing tagged`);
  }
  t.diagnostic(`hostile documents tried: ${results.length}\n${results.join('\n')}`);
});
