// An http(s) URL as the build context (BuildKit's DetectHTTPContext), served on loopback: a .tar.gz is extracted
// and is the context (its Dockerfile, or -f inside it); a plain file is the Dockerfile of an empty context; a 404
// and an unreachable server fail with one line naming the URL; the download's scratch dir is removed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { formatError, TsbuildError } from '../../layer-store/index.js';
import { runBuildPipeline } from '../../builder/index.js';
import { busyboxTar, layerFile, makeBuildEnv, scratchLeft, type BuildEnv } from '../helpers/build-env.js';
import { freePort } from '../helpers/git-server.js';

const run = promisify(execFile);
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let dir: string;
let server: Server;
let base: string;

before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  dir = await mkdtemp(join(tmpdir(), 'tsbuild-urlctx-'));
  const tree = join(dir, 'tree');
  await mkdir(join(tree, 'app'), { recursive: true });
  await writeFile(join(tree, 'Dockerfile'), 'FROM busybox\nCOPY app /app\n');
  await writeFile(join(tree, 'other.Dockerfile'), 'FROM busybox\nCOPY app/main.txt /other.txt\n');
  await writeFile(join(tree, 'app', 'main.txt'), 'from the tarball\n');
  await run('tar', ['-C', tree, '-czf', join(dir, 'ctx.tar.gz'), '.']);
  const files: Record<string, string> = { '/ctx.tar.gz': join(dir, 'ctx.tar.gz') };
  server = createServer((req, res) => {
    if (req.url === '/Dockerfile') {
      res.writeHead(200);
      res.end('FROM busybox\nRUN echo from-a-url-dockerfile > /made.txt\n');
      return;
    }
    const f = files[req.url ?? ''];
    if (!f) {
      res.writeHead(404);
      res.end();
      return;
    }
    readFile(f).then((b) => { res.writeHead(200); res.end(b); }, () => { res.writeHead(500); res.end(); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server?.closeAllConnections();
  server?.close();
  await env?.cleanup();
  await bb?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const pipeline = (context: string, tags: string[], dockerfile?: string): ReturnType<typeof runBuildPipeline> =>
  runBuildPipeline({ context, dockerfile, tags, store: env.store, cache: env.cache, runtime: env.runtime });

test('a .tar.gz URL is extracted and built with its own Dockerfile, or with -f inside it', async () => {
  await pipeline(`${base}/ctx.tar.gz`, ['urlctx:tar']);
  assert.equal(await layerFile(env, 'urlctx:tar', 'app/main.txt'), 'from the tarball\n');
  await pipeline(`${base}/ctx.tar.gz`, ['urlctx:other'], 'other.Dockerfile');
  assert.equal(await layerFile(env, 'urlctx:other', 'other.txt'), 'from the tarball\n');
  assert.deepEqual(await scratchLeft(env.root), []);
});

test('a URL that is not an archive is the Dockerfile of an empty context', async () => {
  await pipeline(`${base}/Dockerfile`, ['urlctx:df']);
  assert.equal(await layerFile(env, 'urlctx:df', 'made.txt'), 'from-a-url-dockerfile\n');
});

test('a 404 and an unreachable server fail with one line naming the URL', async () => {
  for (const [url, re] of [[`${base}/missing.tar.gz`, /HTTP 404/], [`http://127.0.0.1:${await freePort()}/x.tar`, /ECONNREFUSED/]] as const) {
    const e = await pipeline(url, []).then(() => undefined, (x: unknown) => x);
    assert.ok(TsbuildError.is(e), String(e));
    const line = formatError(e);
    assert.match(line, re);
    assert.ok(line.includes(url) && !line.includes('\n'), line);
  }
  assert.deepEqual(await scratchLeft(env.root), []);
});
