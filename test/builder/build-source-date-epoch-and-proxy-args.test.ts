// Build args BuildKit treats specially, end to end: SOURCE_DATE_EPOCH (build arg, or a source-only stage read over
// HTTP) sets created and history times and is in every step's key; proxy args reach RUN in both spellings but stay
// out of the key and history (a second build with another proxy value is cached, as in testBuiltinArgs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { END_OF_ARCHIVE, encodeHeader, padding } from '../../layer-store/index.js';
import { busyboxTar, layerFile, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let ctx: string;
let server: Server;
let url = '';
const ARCHIVE_TIME = 1700000402;

before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
  const body = Buffer.from('bar');
  const tar = Buffer.concat([
    encodeHeader({ name: 'old', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1000 }),
    encodeHeader({ name: 'foo', type: 'file', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: ARCHIVE_TIME }),
    body, padding(body.length),
    encodeHeader({ name: 'dir/', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: ARCHIVE_TIME + 100 }),
    END_OF_ARCHIVE,
  ]);
  const routes: Record<string, { body: Buffer; lastModified?: string }> = {
    '/src.tar.gz': { body: gzipSync(tar) },
    '/dated': { body: Buffer.from('x'), lastModified: new Date(1600000000 * 1000).toUTCString() },
  };
  server = createServer((req, res) => {
    const r = routes[req.url ?? ''];
    if (!r) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-length': String(r.body.length), ...(r.lastModified ? { 'last-modified': r.lastModified } : {}) });
    res.end(r.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await env?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
  await new Promise((r) => server?.close(r));
});

const iso = (s: number): string => new Date(s * 1000).toISOString();

test('build arg SOURCE_DATE_EPOCH sets created and every new history time; ARG sees it; another epoch is a miss', async () => {
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nARG SOURCE_DATE_EPOCH\nRUN echo -n "$SOURCE_DATE_EPOCH" > /epoch\nENTRYPOINT foo bar\n');
  const a = await env.build({ context: ctx, tags: ['sde:a'], buildArgs: { SOURCE_DATE_EPOCH: '1700000001' } });
  assert.equal(a.config.created, iso(1700000001));
  assert.ok(a.config.history!.slice(-3).every((h) => h.created === iso(1700000001)), JSON.stringify(a.config.history));
  assert.equal(await layerFile(env, 'sde:a', 'epoch'), '1700000001');
  assert.deepEqual(a.events.filter((e) => e.type === 'warning' && !e.rule), [], 'SOURCE_DATE_EPOCH is never an unused build arg');
  const same = await env.build({ context: ctx, tags: ['sde:a2'], buildArgs: { SOURCE_DATE_EPOCH: '1700000001' } });
  assert.equal(same.imageDigest, a.imageDigest);
  // The option (the CLI's $SOURCE_DATE_EPOCH) counts as that build arg when none is given.
  const b = await env.build({ context: ctx, tags: ['sde:b'], sourceDateEpoch: 1700000009 });
  assert.equal(b.config.created, iso(1700000009));
  assert.equal(b.steps.find((s) => s.name.includes('RUN'))?.cached, false, 'a different epoch is a different key');
  assert.equal(await layerFile(env, 'sde:b', 'epoch'), '1700000009');
});

test('SOURCE_DATE_EPOCH naming a source-only stage: the URL\'s Last-Modified, else its archive\'s newest file', async () => {
  await writeFile(join(ctx, 'Dockerfile'), `ARG SOURCE_DATE_EPOCH=mysource\nFROM scratch AS mysource\nADD ${url}/src.tar.gz /\nFROM busybox:latest\nARG SOURCE_DATE_EPOCH\nRUN echo -n "$SOURCE_DATE_EPOCH" > /epoch\n`);
  const r = await env.build({ context: ctx, tags: ['sde:stage'] });
  assert.equal(r.config.created, iso(ARCHIVE_TIME));
  assert.equal(await layerFile(env, 'sde:stage', 'epoch'), String(ARCHIVE_TIME));
  await writeFile(join(ctx, 'Dockerfile'), `ARG SOURCE_DATE_EPOCH=s\nFROM scratch AS s\nADD ${url}/dated /\nFROM busybox:latest\nLABEL a=b\n`);
  assert.equal((await env.build({ context: ctx, tags: ['sde:lm'] })).config.created, iso(1600000000));
  await writeFile(join(ctx, 'Dockerfile'), `ARG SOURCE_DATE_EPOCH=s\nFROM scratch AS s\nADD ${url}/missing /\nFROM busybox:latest\n`);
  await assert.rejects(env.build({ context: ctx, tags: ['sde:404'] }), /SOURCE_DATE_EPOCH: download of .*\/missing failed with HTTP 404/);
});

test('proxy build args reach RUN in both spellings, stay out of history, and a new value is still a cache hit', async () => {
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nARG FOO\nRUN echo -n "$HTTP_PROXY:$http_proxy:$NO_PROXY:$no_proxy:$FOO" > /out\n');
  const a = await env.build({ context: ctx, tags: ['px:a'], buildArgs: { http_proxy: 'hp1', NO_PROXY: 'np', FOO: 'f' } });
  assert.equal(await layerFile(env, 'px:a', 'out'), 'hp1:hp1:np:np:f');
  const run = a.config.history!.at(-1)!.created_by!;
  assert.ok(run.startsWith('RUN |1 FOO=f ') && !run.includes('hp1'), run);
  assert.deepEqual(a.events.filter((e) => e.type === 'warning' && !e.rule), [], 'proxy args are never unused build args');
  const b = await env.build({ context: ctx, tags: ['px:b'], buildArgs: { http_proxy: 'hp2', FOO: 'f' } });
  assert.equal(b.steps.find((s) => s.name.includes('RUN'))?.cached, true);
  assert.equal(b.imageDigest, a.imageDigest);
});
