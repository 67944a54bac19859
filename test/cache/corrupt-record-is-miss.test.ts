/** A corrupt cache record is a miss: get() returns undefined, the file is removed, and it is logged once. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheStore, stepKey, type CacheRecord, type StepInputs } from '../../cache/index.js';
import { digestHex, digestOf, type Logger } from '../../layer-store/core/index.js';

function record(instruction: string): CacheRecord {
  const inputs: StepInputs = { v: 1, parent: digestOf('p'), instruction, platform: 'linux/amd64', env: [], mounts: [] };
  return {
    key: stepKey(inputs),
    inputs,
    result: { emptyLayer: false, layer: { digest: digestOf('blob'), diffId: digestOf('tar'), size: 10, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }, history: { created_by: instruction } },
    createdAt: 1000,
    lastUsedAt: 1000,
  };
}

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);

test('flipped bytes, truncation, a valid frame around the wrong record, and garbage are all misses', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-cache-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const warnings: string[] = [];
  const logger: Logger = { debug: () => undefined, info: () => undefined, warn: (m) => warnings.push(m) };
  const store = await CacheStore.open(dir, { logger });
  const path = (r: CacheRecord): string => join(dir, 'records', `${digestHex(r.key)}.json`);

  const good = record('RUN ok');
  await store.put(good);
  assert.deepEqual((await store.get(good.key))?.result, good.result);

  const corruptions: ((text: string, r: CacheRecord) => string)[] = [
    (s) => s.replace('RUN', 'RUX'),
    (s) => s.slice(0, s.length / 2),
    (_s, r) => {
      const other = JSON.stringify({ ...record('RUN other'), key: r.key });
      return `${digestHex(digestOf(other))}\t${other}\n`; // hash matches, but the inputs do not give this key
    },
    () => 'not a cache record at all',
  ];
  for (const [i, corrupt] of corruptions.entries()) {
    const r = record(`RUN step ${i}`);
    await store.put(r);
    await writeFile(path(r), corrupt(await readFile(path(r), 'utf8'), r));
    assert.equal(await store.get(r.key), undefined, `corruption ${i} is a miss`);
    assert.equal(await exists(path(r)), false, `corruption ${i} is removed`);
    assert.equal(await store.get(r.key), undefined);
  }
  assert.equal(warnings.length, corruptions.length, 'each corrupt record is logged once');
  assert.ok((await store.get(good.key)) !== undefined, 'other records are untouched');
});

test('a record is written atomically: no temp files are left behind', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-cache-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await CacheStore.open(dir);
  await Promise.all(Array.from({ length: 20 }, (_, i) => store.put(record(`RUN ${i % 3}`))));
  const { readdir } = await import('node:fs/promises');
  const names = await readdir(join(dir, 'records'));
  assert.equal(names.length, 3);
  assert.ok(names.every((n) => /^[0-9a-f]{64}\.json$/.test(n)));
});
