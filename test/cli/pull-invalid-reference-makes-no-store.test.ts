import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onlyErrorLine, runCli } from '../helpers/cli.js';

test('pull of an invalid reference or platform fails in one line and makes no store under a new --root', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-pull-badref-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  // Port 9 on loopback (discard) is never a registry: nothing here may get as far as a request.
  const cases: [string[], RegExp][] = [
    [['127.0.0.1:9/W1'], /^error: invalid reference "127.0.0.1:9\/W1": repository name must be lowercase .*: write /],
    [['127.0.0.1:9/app:-dash'], /^error: invalid reference "127.0.0.1:9\/app:-dash"/],
    [['--platform', 'linux/', '127.0.0.1:9/app:1'], /platform/],
  ];
  for (const [args, want] of cases) {
    const r = runCli(['--root', root, 'pull', ...args]);
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(onlyErrorLine(r), want);
    assert.ok(!existsSync(root), `${args.join(' ')}: the store was made`);
  }
  // Control: a valid reference does open (make) the store, then fails to reach the registry.
  const ok = runCli(['--root', root, 'pull', '127.0.0.1:9/app:1']);
  assert.notEqual(ok.code, 0);
  assert.ok(existsSync(root), 'a valid reference opens the store');
});
