import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from '../../builder/index.js';
import { LayerStore } from '../../layer-store/index.js';
import { findRuntime } from '../../runtime-exec/index.js';

// BuildKit's testDockerfileLowercase: with no Dockerfile named, a context holding only `dockerfile` builds it.
test('a context with only a lowercase dockerfile builds it; Dockerfile wins when both exist', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-lower-df-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ctx = join(dir, 'ctx');
  const store = await LayerStore.open(join(dir, 'root'));
  const runtime = await findRuntime();
  await mkdir(ctx);
  await writeFile(join(ctx, 'a'), 'a');
  await writeFile(join(ctx, 'dockerfile'), 'FROM scratch\nCOPY a /from-lowercase\n');
  await build({ context: ctx, tags: ['lower:1'], store, runtime });
  assert.match((await store.image('lower:1')).config.history?.at(-1)?.created_by ?? '', /from-lowercase/);
  await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY a /from-upper\n');
  await build({ context: ctx, tags: ['lower:2'], store, runtime });
  assert.match((await store.image('lower:2')).config.history?.at(-1)?.created_by ?? '', /from-upper/);
});
