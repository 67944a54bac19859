/** Bad input: no layers, a layer dir that does not exist, a tar instead of a dir: one TsbuildError naming it, each. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSbom } from '../../../builder/attest/sbom/index.js';
import { TsbuildError, formatError } from '../../../layer-store/core/index.js';

test('missing or non-directory layers are refused with the path and the image named', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbuild-sbom-bad-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'layer.tar'), 'not a dir');
  const cases: [readonly string[], RegExp][] = [
    [[], /SBOM of app:1: no layer directory given/],
    [[dir, join(dir, 'gone')], new RegExp(`SBOM of app:1: cannot read layer directory ${join(dir, 'gone')}`)],
    [[join(dir, 'layer.tar')], new RegExp(`SBOM of app:1: layer ${join(dir, 'layer.tar')} is not a directory`)],
  ];
  for (const [layers, want] of cases) {
    await assert.rejects(generateSbom({ layers, name: 'app:1' }), (e: unknown) => {
      assert.ok(e instanceof TsbuildError);
      assert.match(formatError(e), want);
      assert.match(formatError(e), /\(app:1\)/);
      return true;
    });
  }
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(generateSbom({ layers: [dir], name: 'app:1' }, { signal: ac.signal }), (e: unknown) => e instanceof TsbuildError && e.code === 'ABORTED');
});
