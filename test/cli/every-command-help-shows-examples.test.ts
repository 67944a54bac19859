/**
 * `tsbuild COMMAND --help` exits 0 and shows at least one example (yargs' "Examples:" section naming the
 * command), for every command `tsbuild --help` lists and every verb of a command group (`manifest …`), found by
 * walking the help's "Commands:" sections, so a new command without an example fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';

/** Returns the command words listed under "Commands:" in `tsbuild PATH… --help` (`tsbuild images […]` → images). */
function subcommands(path: readonly string[], help: string): string[] {
  const section = help.split(/^Commands:$/m)[1]?.split(/^\S.*:$/m)[0] ?? '';
  const prefix = ['tsbuild', ...path].join(' ');
  return [...section.matchAll(new RegExp(`^  ${prefix} (\\S+)`, 'gm'))].map((m) => m[1]!);
}

test('every command and sub-command --help exits 0 and shows an example of itself', () => {
  const top = runCli(['--help']);
  assert.equal(top.code, 0, top.stderr);
  const queue: string[][] = subcommands([], top.stdout).map((c) => [c]);
  assert.ok(queue.length >= 25, `tsbuild --help lists the commands (found ${queue.length})`);
  const checked: string[] = [];
  const failures: string[] = [];
  while (queue.length > 0) {
    const path = queue.shift()!;
    const r = runCli([...path, '--help']);
    const name = path.join(' ');
    checked.push(name);
    if (r.code !== 0 || r.stderr !== '') {
      failures.push(`${name}: exit ${r.code}, stderr ${JSON.stringify(r.stderr.slice(0, 200))}`);
      continue;
    }
    const examples = r.stdout.split(/^Examples:$/m)[1] ?? '';
    // An example line names the command (`tsbuild images …`; `… | tsbuild load`); build is also the default.
    const self = path[0] === 'build' ? '(?:tsbuild build|tsbuild -)' : `tsbuild ${name}`;
    if (!new RegExp(`^  .*\\b${self}\\b`, 'm').test(examples)) failures.push(`${name}: no example in its --help`);
    queue.push(...subcommands(path, r.stdout).map((c) => [...path, c]));
  }
  assert.ok(checked.includes('manifest delete'), 'the manifest verbs were walked');
  assert.deepEqual(failures, [], `checked: ${checked.join(', ')}`);
});
