import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildEvent, MissReason } from '../../layer-store/index.js';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let ctx: string;
const DOCKERFILE = [
  'FROM busybox:latest',
  'WORKDIR /app',
  'COPY deps.txt ./',
  'RUN cat deps.txt > installed.txt',
  'COPY src/ ./src/',
  'ARG FLAVOUR=plain',
  'RUN echo "$FLAVOUR" > flavour && ls src > listing',
  '',
].join('\n');

before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
  await writeFile(join(ctx, 'Dockerfile'), DOCKERFILE);
  await writeFile(join(ctx, 'deps.txt'), 'dep-a\n');
  await rm(join(ctx, 'src'), { recursive: true, force: true });
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(ctx, 'src'));
  await writeFile(join(ctx, 'src', 'main.c'), 'int main(){}\n');
});
after(async () => {
  await env?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

/** Per layer-producing step (by instruction text): 'cached' or the miss reason. */
function outcome(events: readonly BuildEvent[]): Map<string, 'cached' | MissReason> {
  const names = new Map<string, string>();
  const out = new Map<string, 'cached' | MissReason>();
  for (const e of events) {
    if (e.type === 'step.start') names.set(e.id, e.name.replace(/^\[[^\]]*\]\s*/, ''));
    if (e.type === 'step.cached') out.set(names.get(e.id)!, 'cached');
    if (e.type === 'step.miss') out.set(names.get(e.id)!, e.reason);
  }
  return out;
}

test('warm rebuild, edited file, changed build arg, changed line and changed base: exactly the right steps run, each miss explained', async () => {
  const first = await env.build({ context: ctx, tags: ['app:dev'] });
  assert.ok([...outcome(first.events).values()].every((v) => v !== 'cached'));

  // 1. No change: every step is a hit, and the image is the same layers.
  const warm = await env.build({ context: ctx, tags: ['app:dev'] });
  assert.deepEqual([...outcome(warm.events).values()], ['cached', 'cached', 'cached', 'cached', 'cached']);
  assert.deepEqual(warm.config.rootfs.diff_ids, first.config.rootfs.diff_ids);
  assert.equal(warm.imageDigest, first.imageDigest, 'a fully cached rebuild reproduces the same image');

  // 2. Edit one copied file: the steps before its COPY hit; the COPY names the file; later steps run.
  await writeFile(join(ctx, 'src', 'main.c'), 'int main(){return 1;}\n');
  const edited = outcome((await env.build({ context: ctx, tags: ['app:dev'] })).events);
  assert.equal(edited.get('WORKDIR /app'), 'cached');
  assert.equal(edited.get('COPY deps.txt ./'), 'cached');
  assert.equal(edited.get('RUN cat deps.txt > installed.txt'), 'cached');
  const copyMiss = edited.get('COPY src/ ./src/') as MissReason;
  assert.equal(copyMiss.kind, 'file');
  assert.match(copyMiss.detail, /src\/main\.c/);
  assert.equal((edited.get('RUN echo "$FLAVOUR" > flavour && ls src > listing') as MissReason).kind, 'parent');

  // 3. A build arg declared before the last RUN: only that RUN runs (COPY and WORKDIR keys never include
  //    args they do not reference, as in BuildKit), and the miss names the arg.
  const argRun = outcome((await env.build({ context: ctx, tags: ['app:dev'], buildArgs: { FLAVOUR: 'spicy' } })).events);
  assert.equal(argRun.get('COPY src/ ./src/'), 'cached');
  const argMiss = argRun.get('RUN echo "$FLAVOUR" > flavour && ls src > listing') as MissReason;
  assert.equal(argMiss.kind, 'env');
  assert.match(argMiss.detail, /FLAVOUR/);

  // 4. An edited instruction: the miss shows the instruction change.
  await writeFile(join(ctx, 'Dockerfile'), DOCKERFILE.replace('cat deps.txt > installed.txt', 'cat deps.txt > installed2.txt'));
  const lineRun = outcome((await env.build({ context: ctx, tags: ['app:dev'] })).events);
  const lineMiss = lineRun.get('RUN cat deps.txt > installed2.txt') as MissReason;
  assert.equal(lineMiss.kind, 'instruction');
  assert.equal(lineRun.get('COPY deps.txt ./'), 'cached');

  // 5. A different base image digest: the first step says the base changed.
  await writeFile(join(ctx, 'Dockerfile'), DOCKERFILE);
  const { importRootfs } = await import('../../layer-store/index.js');
  await importRootfs(env.store, bb.tar, 'busybox:latest', { created: '2001-01-01T00:00:00.000Z' });
  const baseRun = outcome((await env.build({ context: ctx, tags: ['app:dev'] })).events);
  const baseMiss = baseRun.get('WORKDIR /app') as MissReason;
  assert.equal(baseMiss.kind, 'base');
});

test('--no-cache runs every step and says why', async () => {
  const r = await env.build({ context: ctx, tags: ['app:dev'], noCache: true });
  const o = outcome(r.events);
  assert.ok([...o.values()].every((v) => v !== 'cached' && v.kind === 'no-cache'));
});

test('a COPY --from whose source stage changed, and a COPY of a heredoc whose body changed, say so (not "the instruction changed")', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
  try {
    await writeFile(join(dir, 'part.txt'), 'one\n');
    const dockerfile = (body: string): string => [
      '# syntax=docker/dockerfile:1',
      'FROM busybox:latest AS build',
      'COPY part.txt /src/',
      'RUN cat /src/part.txt > /out',
      '',
      'FROM busybox:latest',
      'COPY --from=build /out /artifacts/',
      'COPY <<EOF /note.txt',
      body,
      'EOF',
      '',
    ].join('\n');
    await writeFile(join(dir, 'Dockerfile'), dockerfile('first'));
    await env.build({ context: dir, tags: ['from:dev'] });

    await writeFile(join(dir, 'part.txt'), 'two\n');
    const edited = outcome((await env.build({ context: dir, tags: ['from:dev'] })).events);
    const copyFrom = edited.get('COPY --from=build /out /artifacts/');
    assert.ok(copyFrom && copyFrom !== 'cached', 'the COPY --from ran');
    assert.equal(copyFrom.kind, 'file');
    assert.match(copyFrom.detail, /^the files of --from=build changed \(its top layer sha256:[0-9a-f]{12} \u2192 sha256:[0-9a-f]{12}\)$/);

    await writeFile(join(dir, 'Dockerfile'), dockerfile('second'));
    const heredoc = outcome((await env.build({ context: dir, tags: ['from:dev'] })).events).get('COPY <<EOF /note.txt');
    assert.ok(heredoc && heredoc !== 'cached', 'the heredoc COPY ran');
    assert.deepEqual({ kind: heredoc.kind, detail: heredoc.detail }, { kind: 'file', detail: 'the content of a heredoc or downloaded file changed' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
