/**
 * Every command names an option it does not have, docker's way (`unknown flag: --bogus`, `unknown shorthand flag:
 * 'Z' in -Z`) with the pointer to its help (`See 'tsbuild push --help'.`), whether the option stands before or
 * after the positional arguments: yargs alone read `push --bogus img` as `--bogus=img` and reported a missing
 * positional. The commands come from cli/commands/index.ts, so a new command is covered as it is added.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commands, isDefault, namesOf } from '../../cli/commands/index.js';
import { onlyErrorLine, runCli } from '../helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'tsbuild-flags-'));
/** A store that must never be created: no command may run. */
const root = join(work, 'root');
after(() => rmSync(work, { recursive: true, force: true }));

/** One placeholder per positional of the command string (`<ref>`, `[dest]`, `<refs..>`). */
function positionals(command: string): string[] {
  return (command.match(/[<[][^>\]]+[>\]]/g) ?? []).map((p, i) => (p.includes('command') ? 'inspect' : `p${i}`));
}

function expectUnknown(args: readonly string[], flag: RegExp, help: string): void {
  const r = runCli(['--root', root, ...args]);
  assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  const line = onlyErrorLine(r);
  assert.match(line, flag, args.join(' '));
  assert.ok(line.endsWith(`See 'tsbuild ${help} --help'.`), `${args.join(' ')}: ${line}`);
}

test('every command names an unknown flag before or after its positionals, with its help command', { timeout: 300_000 }, () => {
  assert.ok(commands.length >= 30, 'the command list');
  for (const c of commands) {
    const name = namesOf(c)[0]!;
    const command = [c.command].flat()[0]!;
    const pos = positionals(command);
    const help = name === 'manifest' ? 'manifest' : name;
    expectUnknown([name, '--bogus', ...pos], /^error: unknown flag: --bogus: /, help);
    expectUnknown([name, '-Z', ...pos], /^error: unknown shorthand flag: 'Z' in -Z: /, help);
    // After IMAGE, `run`'s words are the container's command (docker run's rule), not its own options.
    if (name !== 'run') expectUnknown([name, ...pos, '--bogus=1'], /^error: unknown flag: --bogus: /, name === 'manifest' ? 'manifest inspect' : help);
    if (isDefault(c)) expectUnknown(['--bogus', ...pos], /^error: unknown flag: --bogus: /, help);
  }
  // A known option's value is skipped (a negative number too), a group of short flags is read flag by flag, a subcommand names itself.
  expectUnknown(['build', '-t', 'x', '--bogus', '.'], /^error: unknown flag: --bogus: /, 'build');
  expectUnknown(['build', '--cpu-quota', '-1', '--bogus', '.'], /^error: unknown flag: --bogus: /, 'build');
  expectUnknown(['images', '-qZ'], /^error: unknown shorthand flag: 'Z' in -qZ: /, 'images');
  expectUnknown(['manifest', 'inspect', '--bogus', 'x'], /^error: unknown flag: --bogus: /, 'manifest inspect');
  assert.equal(existsSync(root), false, 'no command ran (the store was never created)');
});

test('other usage errors point at the command\'s help too, on one line', () => {
  const r = runCli(['--root', root, 'push']);
  assert.equal(r.code, 2);
  assert.equal(onlyErrorLine(r), "error: \"tsbuild push\" requires at least 1 and at most 2 arguments: See 'tsbuild push --help'.");
  const v = runCli(['--root', root, 'build', '--network', 'bogus', '.']);
  assert.equal(v.code, 2);
  assert.match(onlyErrorLine(v), /^error: Invalid values: Argument: network, Given: "bogus", .*: See 'tsbuild build --help'\.$/);
});

test('a wrong number of positionals is said in docker\'s words (cli/required.go), from each command\'s own positionals', () => {
  const cases: [string[], string][] = [
    [['tag', 'x'], '"tsbuild tag" requires exactly 2 arguments'],
    [['tag', 'a', 'b', 'c'], '"tsbuild tag" requires exactly 2 arguments'],
    [['history'], '"tsbuild history" requires exactly 1 argument'],
    [['inspect'], '"tsbuild inspect" requires at least 1 argument'],
    [['images', 'a', 'b'], '"tsbuild images" requires at most 1 argument'],
    [['prune', 'x'], '"tsbuild prune" accepts no arguments'],
    [['build', 'a', 'b'], '"tsbuild build" requires at most 1 argument'],
    [['a', 'b'], '"tsbuild build" requires at most 1 argument'],
  ];
  for (const [args, what] of cases) {
    const r = runCli(['--root', root, ...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(onlyErrorLine(r), `error: ${what}: See 'tsbuild ${args[0] === 'a' ? 'build' : args[0]} --help'.`, args.join(' '));
  }
  assert.equal(existsSync(root), false, 'no command ran');
});
