/**
 * A record in a remote cache whose key is not stepKey(inputs) (tampered, or written by a buggy exporter) is
 * never a hit: importCache skips it and logs it once; the honest records still hit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exportCache, importCache, type CacheRecord } from '../../cache/index.js';
import type { Logger } from '../../layer-store/index.js';
import { RegistryClient, parseReference } from '../../registry-client/index.js';
import { startRegistry } from '../helpers/registry.js';
import { makeFixture } from './remote-fixture.js';

test('a remote record whose key does not match its inputs is skipped and logged once', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const fx = await makeFixture();
  t.after(fx.cleanup);
  const client = new RegistryClient();
  t.after(() => client.close());
  const ref = `${reg.host}/cache/tampered:latest`;

  const honest = fx.records[0]!;
  const victim = fx.records[1]!;
  // Claims to be the result of `victim`'s inputs but carries another instruction: its key is victim's.
  const forged: CacheRecord = { ...fx.records[3]!, key: victim.key };
  await exportCache([honest, forged], fx.store, client.destination(parseReference(ref)), { mode: 'max' });

  const warnings: { msg: string; data: unknown }[] = [];
  const logger: Logger = { debug: () => undefined, info: () => undefined, warn: (msg, data) => warnings.push({ msg, data }) };
  const remote = await importCache(client.source(parseReference(ref)), { logger });
  t.after(() => remote.close());
  assert.ok(remote.get(honest.key), 'the honest record hits');
  assert.equal(remote.get(victim.key), undefined, 'the forged record is a miss');
  assert.equal(remote.get(fx.records[3]!.key), undefined);
  assert.equal(remote.size, 1);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!.msg, /invalid record/);
  assert.match(JSON.stringify(warnings[0]!.data), /does not match its inputs/);
});
