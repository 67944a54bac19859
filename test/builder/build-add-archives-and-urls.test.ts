import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { runImage } from '../../builder/index.js';
import { TsbuildError } from '../../layer-store/index.js';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';

const run = promisify(execFile);
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let ctx: string;
let server: Server;
let base: string;
const PAYLOAD = 'downloaded payload\n';

before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
  await mkdir(join(ctx, 'tree', 'sub'), { recursive: true });
  await writeFile(join(ctx, 'tree', 'top.txt'), 'top\n');
  await writeFile(join(ctx, 'tree', 'sub', 'deep.txt'), 'deep\n');
  await run('tar', ['-C', join(ctx, 'tree'), '-czf', join(ctx, 'tree.tar.gz'), '.']);
  await run('tar', ['-C', join(ctx, 'tree'), '-cjf', join(ctx, 'tree.tar.bz2'), '.']);
  await run('sh', ['-c', `printf 'not a tar' | gzip > ${join(ctx, 'plain.gz')}`]);
  server = createServer((req, res) => {
    if (req.url === '/file.txt') {
      res.writeHead(200, { 'last-modified': 'Wed, 21 Oct 2015 07:28:00 GMT' });
      res.end(PAYLOAD);
    } else if (req.url === '/to-file') {
      res.writeHead(302, { location: 'file:///etc/passwd' });
      res.end();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server?.close();
  await env?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

async function sh(image: string, script: string): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const code = await runImage({ store: env.store, runtime: env.runtime, image, cmd: ['sh', '-c', script], stdout: out, stderr: process.stderr });
  assert.equal(code, 0);
  return Buffer.concat(chunks).toString();
}

test('ADD extracts local tar archives (gzip, bzip2) and copies a gzip that is not a tar as a file', async () => {
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nADD tree.tar.gz /gz/\nADD tree.tar.bz2 /bz\nADD plain.gz /p/\n');
  await env.build({ context: ctx, tags: ['add:1'] });
  assert.equal(await sh('add:1', 'cat /gz/top.txt /gz/sub/deep.txt /bz/sub/deep.txt; ls /p'), 'top\ndeep\ndeep\nplain.gz\n');
});

test('ADD downloads a URL with mode 0600, Last-Modified as mtime, and checks --checksum', async () => {
  const sum = 'sha256:' + createHash('sha256').update(PAYLOAD).digest('hex');
  await writeFile(join(ctx, 'Dockerfile'), `FROM busybox:latest\nADD --checksum=${sum} ${base}/file.txt /dl/\n`);
  await env.build({ context: ctx, tags: ['add:2'] });
  assert.equal(await sh('add:2', 'cat /dl/file.txt; stat -c "%a %Y" /dl/file.txt'), `${PAYLOAD}600 1445412480\n`);
  await writeFile(join(ctx, 'Dockerfile'), `FROM busybox:latest\nADD --checksum=sha256:${'0'.repeat(64)} ${base}/file.txt /dl/\n`);
  await assert.rejects(env.build({ context: ctx, tags: ['add:3'] }), (e: unknown) => TsbuildError.is(e) && /checksum mismatch/.test(e.message));
});

test('ADD refuses a redirect to file:// and a non-http scheme', async () => {
  await writeFile(join(ctx, 'Dockerfile'), `FROM busybox:latest\nADD ${base}/to-file /x\n`);
  await assert.rejects(env.build({ context: ctx, tags: ['add:4'] }), (e: unknown) => TsbuildError.is(e) && /refusing to follow a redirect to file:/.test(e.message));
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nADD ftp://example.com/x /x\n');
  await assert.rejects(env.build({ context: ctx, tags: ['add:5'] }), (e: unknown) => TsbuildError.is(e) && /only http and https/.test(e.message));
});

test('COPY --parents keeps source paths; --exclude leaves matching files out', async () => {
  await mkdir(join(ctx, 'pkgs', 'a', 'src'), { recursive: true });
  await mkdir(join(ctx, 'pkgs', 'b', 'src'), { recursive: true });
  await writeFile(join(ctx, 'pkgs', 'a', 'src', 'x.js'), 'a\n');
  await writeFile(join(ctx, 'pkgs', 'b', 'src', 'y.js'), 'b\n');
  await writeFile(join(ctx, 'pkgs', 'b', 'src', 'y.test.js'), 't\n');
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY --parents pkgs/*/src /out/\nCOPY --exclude=*.test.js pkgs/b/src /ex/\n');
  await env.build({ context: ctx, tags: ['par:1'] });
  assert.equal(await sh('par:1', 'find /out /ex -type f | sort'), '/ex/y.js\n/out/pkgs/a/src/x.js\n/out/pkgs/b/src/y.js\n/out/pkgs/b/src/y.test.js\n');
});
