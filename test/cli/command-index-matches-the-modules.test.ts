import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commands, namesOf } from '../../cli/commands/index.js';
import { runCli } from '../helpers/cli.js';

// main.ts registers the commands that do not run by their index entry alone (their modules are not loaded):
// top-level help and "did you mean" then read the entry's command string and description, which must be the
// module's own, or help would say something the command does not do.
test('every command index entry names and describes its module exactly', async () => {
  const seen = new Set<string>();
  for (const c of commands) {
    const m = await c.load();
    assert.deepEqual(m.command, c.command, `${namesOf(c)[0] ?? '$0'}: command string`);
    assert.equal(m.describe, c.describe, `${namesOf(c)[0] ?? '$0'}: description`);
    assert.equal(m.aliases, undefined, `${namesOf(c)[0] ?? '$0'}: aliases must be listed in the index too (none today)`);
    for (const n of namesOf(c)) {
      assert.ok(!seen.has(n), `command name ${n} appears twice`);
      seen.add(n);
    }
  }
});

// The same help whichever commands were loaded: top-level help (only build loaded) lists every command, and a
// command's own help (that command alone loaded) is its full help, also when --help comes before its name.
test('help lists every command, and a command named after --help still gets its own options', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tsb-cmdidx-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const env = { ...process.env, TSBUILD_ROOT: root, COLUMNS: '100' };
  const top = runCli(['--help'], { env });
  assert.equal(top.code, 0, top.stderr);
  for (const c of commands) for (const n of namesOf(c)) assert.match(top.stdout, new RegExp(`tsbuild ${n}\\b`), `--help lists ${n}`);
  assert.match(top.stdout, /--tag/, 'the default command (build) shows its options');
  const before = runCli(['--help', 'images'], { env });
  const after = runCli(['images', '--help'], { env });
  assert.equal(before.code, 0, before.stderr);
  assert.match(after.stdout, /--format/);
  assert.equal(before.stdout, after.stdout);
  const version = runCli(['--version'], { env });
  assert.deepEqual([version.code, version.stderr], [0, '']);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
});
