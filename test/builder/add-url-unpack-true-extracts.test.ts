import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';
import { imageTree } from '../conformance/image-tree.js';

// ADD of a downloaded archive copies it as a file, unless --unpack=true (BuildKit's AttemptUnpack for http
// sources), which extracts it into the destination as a local archive is.
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let ctx: string;
let server: Server;
let base = '';
before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-url-unpack-'));
  await mkdir(join(ctx, 'src'));
  await writeFile(join(ctx, 'src', 'foo'), 'foo-data');
  execFileSync('tar', ['-C', join(ctx, 'src'), '-czf', join(ctx, 't.tar.gz'), 'foo']);
  const body = readFileSync(join(ctx, 't.tar.gz'));
  server = createServer((req, res) => {
    if (req.url !== '/t.tar.gz') { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-length': String(body.length) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await env?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

test('ADD --unpack=true extracts a downloaded archive; without it the archive is copied', async () => {
  await writeFile(join(ctx, 'Dockerfile'), `FROM busybox:latest\nADD ${base}/t.tar.gz /c/\nADD --unpack=true ${base}/t.tar.gz /u/\n`);
  await env.build({ context: ctx, tags: ['url-unpack:1'] });
  const tree = await imageTree(env.store, 'url-unpack:1');
  assert.equal(tree.get('/c/t.tar.gz')?.type, 'file');
  assert.equal(tree.get('/c/foo'), undefined);
  assert.equal(tree.get('/u/foo')?.content?.toString('utf8'), 'foo-data');
  assert.equal(tree.get('/u/t.tar.gz'), undefined);
});
