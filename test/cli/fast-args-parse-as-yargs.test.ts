import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commands, isDefault, namesOf } from '../../cli/commands/index.js';
import { fastCommand as fastCommandOf, fastFlags as fastFlagsOf } from '../../cli/fast-args.js';
import { globalOptions } from '../../cli/global-options.js';
import { cli } from '../../cli/main.js';

// cli/fast-args.ts builds the arguments object of a plain command line without yargs (cli/README.md, Start-up).
// Every command line it takes must give the object yargs gives, key for key (aliases, camelCase forms, defaults,
// coercions, `_`, `$0`, the signal); every other one must be left to yargs (undefined).

type Captured = Record<string, unknown>;

// What main.ts passes the fast path.
const known = { commands, namesOf, isDefault, globalOptions };
const fastCommand = (args: readonly string[], signal?: AbortSignal) => fastCommandOf(known, args, signal);
const fastFlags = (args: readonly string[]) => fastFlagsOf(known, args);

/** Parses `args` with yargs as main.ts does, with every command's handler swapped for one that keeps its arguments. */
async function yargsArgv(args: readonly string[], signal: AbortSignal): Promise<Captured | Error> {
  const mods = await Promise.all(commands.map((c) => c.load()));
  const saved = mods.map((m) => m.handler);
  let got: Captured | undefined;
  for (const m of mods) (m as { handler: unknown }).handler = (a: Captured) => { got = a; };
  try {
    const y = await cli(args, signal);
    (y as unknown as { exitProcess(b: boolean): unknown }).exitProcess(false);
    await y.parseAsync();
  } catch (e) {
    return e as Error;
  } finally {
    mods.forEach((m, i) => { (m as { handler: unknown }).handler = saved[i]; });
  }
  return got ?? new Error('no handler ran');
}

async function assertSame(args: readonly string[]): Promise<void> {
  const signal = new AbortController().signal;
  const fast = await fastCommand(args, signal);
  assert.ok(fast, `the fast path takes ${JSON.stringify(args)}`);
  const slow = await yargsArgv(args, signal);
  assert.ok(!(slow instanceof Error), `yargs parses ${JSON.stringify(args)}: ${String(slow)}`);
  assert.deepStrictEqual(fast.argv, slow, JSON.stringify(args));
  const word = (fast.argv._ as string[])[0] ?? 'build';
  const entry = commands.find((c) => [c.command].flat().some((s) => s.split(' ')[0] === word))!;
  assert.equal(fast.module, await entry.load(), `${JSON.stringify(args)} runs ${word}`);
}

const ctx = '/tmp/some context';

test('plain build and images command lines give exactly the arguments yargs gives', async () => {
  const lines: string[][] = [
    ['--root', '/r', '--progress', 'quiet', 'build', '-t', 'startup:latest', ctx],
    ['-t', 'app', '.'], ['.'], [], ['build'], ['--debug', 'build', '.'], ['build', '.', '--root', '/r', '--debug'],
    ['build', '--no-cache', '--pull', '-q', '--push', '--load', '--explain', '--check', 'dir'],
    ['-t', 'a', '-t', 'b', '--tag=c', '--tag', 'd=e', '.'],
    ['--build-arg', 'A=1', '--build-arg=B', '-f', 'x/Dockerfile', '--target', 't', '--label', 'k=v', '.'],
    ['--cpus', '1.5', '--cpu-quota', '007', '--pids-limit', '10', '--memory', '512m', '--registry-timeout', '2.50', '.'],
    ['--network', 'host', '--compression', 'zstd', '--progress=plain', 'build', '.'],
    ['-t', 'build'], ['-t', 'a', 'build', '.'], ['-t', '123', '.'], ['--root=/x', 'build', 'ctx'],
    ['--ca-file', '/x', '--max-concurrent-uploads', '8', '--insecure-registry', 'r:5000', '-o', 'type=oci,dest=x.tar', '.'],
    ['build', '--secret', 'id=a,src=b', '--ssh', 'default', '--allow', 'network.host', '--add-host', 'h:1.2.3.4', '--ulimit', 'nofile=1:2', '.'],
    ['build', '--cache-from', 'type=local,src=c', '--cache-to=type=inline', '--annotation', 'a=b', '--attest', 'type=sbom', '--sbom', 'true', '.'],
    ['-q', '.'], ['--push', '--no-cache', 'dir'], ['--cpus', '2', 'build', '.'],
    ['imags'], ['build', 'true'], ['build', 'null'], ['build', 'build'], ['images', 'images'], ['build', 'a.b'], ['build', 'e5'], ['build', 'images-dir'],
    ['images'], ['--root', '/r', 'images'], ['images', 'alpine'], ['images', 'build'], ['--progress', 'json', 'images', 'a:*', '--debug'],
    ['images', '-q', '-a', '--digests', '--no-trunc', '--format', '{{.ID}}', '-f', 'dangling=true', '--filter', 'label=x'],
  ];
  for (const l of lines) await assertSame(l);
});

test('plain command lines of the registry commands (required positionals) give exactly the arguments yargs gives', async () => {
  const lines: string[][] = [
    ['--root', '/r', '--progress', 'quiet', 'pull', '127.0.0.1:41099/once-w1:latest'], ['pull', 'alpine'], ['pull', 'localhost:5000/a/b@sha256:' + 'a'.repeat(64)],
    ['pull', '--platform', 'linux/arm64', '--all-platforms', '--insecure-registry', 'r:1', '--insecure-registry', 'r:2', 'r:1/x:1'],
    ['pull', 'r/x', '--verify-key', 'k.pub', '--policy', 'p.json', '--max-concurrent-downloads', '6', '--registry-timeout', '0.5'],
    ['pull', '1x'], ['pull', '1.2.3'], ['pull', '10.0.0.1:5000/app'],
    ['--root=/r', 'push', 'app:1'], ['push', 'app:1', '127.0.0.1:5000/team/app:1'], ['push', '--chunk-size', '1MiB', 'app', 'r:1/app', '--debug'],
    ['push', 'app', '--sign-by', 'cosign.key', '--max-concurrent-uploads', '2', '--ca-file', '/ca.pem'],
    ['tag', 'a', 'b'], ['tags', 'r:1/x'], ['digest', 'r:1/x:1'], ['copy', 'docker://r:1/a', 'oci:/tmp/x:latest'],
  ];
  for (const l of lines) await assertSame(l);
});

test('every flag of every command the fast path takes, in each of its spellings, gives what yargs gives', async () => {
  let covered = 0;
  for (const c of commands) {
    const word = [c.command].flat()[0]!.split(' ')[0]!;
    const flags = await fastFlags([word]);
    if (!flags) continue;
    covered++;
    // A value for each optional positional of its command string (`build [context]`, `images [reference]`).
    const pos = [c.command].flat()[0]!.split(' ').slice(1).map((_p, i) => `pos-${i}`);
    assert.ok(flags.length >= 3, `${word}: the global flags at least`);
    for (const f of flags) {
      const value = f.choices ? [String(f.choices.at(-1))] : f.type === 'boolean' ? [] : f.type === 'number' ? ['3'] : ['some-value'];
      await assertSame([word, f.spelling, ...value, ...pos]);
      await assertSame([word, ...pos, f.spelling, ...value]);
      if (f.type !== 'boolean' && f.spelling.startsWith('--')) await assertSame([word, `${f.spelling}=${value[0]!}`, ...pos]);
      // Before the command word (only the default command's: another command's word there is yargs', as in main.ts).
      if (word === 'build' && f.type !== 'boolean') await assertSame([f.spelling, ...value, word, ...pos]);
    }
  }
  assert.ok(covered >= 2 && (await fastFlags(['build'])) && (await fastFlags(['images'])), 'the fast path covers build and images');
});

test('anything else is left to yargs, errors included', async () => {
  const lines: string[][] = [
    ['--help'], ['build', '--help'], ['-h'], ['images', '-h'], ['--version'], ['build', '--version'],
    ['build', '--no-such-flag', '.'], ['images', '--bogus'], ['build', '-qt', 'x', '.'], ['build', '-tx', '.'], ['build', '--t', 'x'],
    ['build', '--push=true', '.'], ['build', '--push', 'true', '.'], ['build', '--quiet', 'false'], ['build', '--', '.'],
    ['build', '-'], ['-'], ['build', '-f', '-', '.'], ['build', '.', 'extra'], ['build', '123'], ['1.5'], ['build', '0x10'],
    ['build', '--network', 'bogus', '.'], ['--progress', 'loud', 'images'], ['build', '--target', 'a', '--target', 'b', '.'],
    ['--root', '/a', '--root', '/b', 'images'], ['--debug', '--debug', 'images'], ['build', '--cpus', 'abc', '.'], ['build', '--cpus', '-1'],
    ['build', '--cpus', '1e3'], ['build', '--tag=', '.'], ['build', '-t'], ['build', '--buildArg', 'x', '.'], ['build', '--no-pull', '.'],
    ['build', '--build-arg.x', 'y'], ['-q', 'images'], ['build', 'images'], ['images', 'a', 'b'], ['images', '--format', '-x'],
    ['--no-cache', 'build', '.'], ['-q', 'build'], ['inspect', 'a'],
    ['pull'], ['push'], ['tag', 'a'], ['pull', 'a', 'b'], ['push', 'a', 'b', 'c'], ['pull', '1.5'], ['pull', '0x1f'], ['pull', '12e3'], ['pull', '0123'], ['pull', ' 7 '],
    ['pull', '--all-platforms', 'true', 'x'], ['pull', '--verify-key', '-', 'x'], ['push', '--max-concurrent-uploads', 'many', 'x'], ['--all-platforms', 'pull', 'x'], ['run', 'img'], ['--root', 'images'], ['--root'], ['--version', 'images'],
  ];
  const signal = new AbortController().signal;
  for (const l of lines) assert.equal(await fastCommand(l, signal), undefined, JSON.stringify(l));
  // And yargs still says what it said: an unknown flag is a usage error naming it.
  const e = await yargsArgv(['build', '--no-such-flag', '.'], signal);
  assert.ok(e instanceof Error && /no-such-flag/.test(e.message), String(e));
});
