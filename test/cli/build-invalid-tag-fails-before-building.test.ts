import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onlyErrorLine, runCli } from '../helpers/cli.js';

/** A context whose build starts with FROM and then a RUN (that fails at once on scratch: no sleep there). */
async function slowContext(t: { after(fn: () => Promise<void>): void }): Promise<{ ctx: string; root: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-badtag-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\nRUN sleep 30 && touch /marker\n');
  return { ctx: dir, root: join(dir, 'root') };
}

test('an invalid -t fails at once with exit 2, naming the tag and why, before any step or store work', async (t) => {
  const { ctx, root } = await slowContext(t);
  const cases: [string, RegExp][] = [
    ['Bad:Tag!', /invalid tag "Tag!"/],
    ['MyApp:1', /invalid repository component "MyApp"/],
    ['app@sha256:1234', /not a sha256 digest/],
    ['app:-dash', /invalid tag "-dash"/],
  ];
  for (const [tag, why] of cases) {
    const started = Date.now();
    const r = runCli(['--root', root, '--progress', 'json', 'build', '-t', 'good:1', '-t', tag, ctx]);
    const ms = Date.now() - started;
    assert.equal(r.code, 2, r.stderr);
    const line = onlyErrorLine(r);
    assert.ok(line.startsWith(`error: invalid tag ${JSON.stringify(tag)}: invalid reference format: `), line);
    assert.match(line, why);
    assert.ok(line.includes(`(-t ${tag})`), `names the flag and value: ${line}`);
    assert.match(line, /: write NAME\[:TAG\] with a lowercase name/, 'says what to do');
    assert.equal(r.stdout, '', 'no progress event: no step started');
    assert.ok(ms < 10_000, `failed in ${ms} ms, not after the 30 s RUN`);
    assert.ok(!existsSync(root), 'the store was not even opened');
  }
  // Control: with valid tags the same command does start the build (a FROM step event), then fails at the RUN.
  const ok = runCli(['--root', root, '--progress', 'json', 'build', '-t', 'good:1', ctx]);
  assert.notEqual(ok.code, 0);
  assert.match(ok.stdout, /"type":"step.start"/, 'a build that starts shows its steps');
});

test('other names used only after the build (--push, -o type=image,name=, cache refs, --iidfile) fail first too', async (t) => {
  const { ctx, root } = await slowContext(t);
  const cases: [string[], RegExp][] = [
    [['-o', 'type=image,name=Other!'], /^error: invalid tag "Other!": invalid reference format: .*\(--output type=image,name=Other!\): write NAME/],
    [['--cache-to', 'type=registry,ref=localhost:5000/Cache:1'], /^error: invalid --cache-to ref "localhost:5000\/Cache:1": invalid reference format: repository name must be lowercase \(--cache-to type=registry,ref=localhost:5000\/Cache:1\): write --cache-to/],
    [['--cache-from', 'Cache!'], /^error: invalid --cache-from ref "Cache!": .*: write --cache-from type=registry,ref=/],
    [['--iidfile', join(ctx, 'missing', 'id')], /^error: --iidfile .*: directory .*missing does not exist .*: create .*missing first/],
    [['--push'], /^error: --push needs a name: add -t REGISTRY\/REPO:TAG$/],
  ];
  for (const [flags, want] of cases) {
    const r = runCli(['--root', root, '--progress', 'json', 'build', ...flags, ctx]);
    assert.equal(r.code, 2, `${flags.join(' ')}: ${r.stderr}`);
    assert.match(onlyErrorLine(r), want);
    assert.equal(r.stdout, '', 'no step started');
    assert.ok(!existsSync(root), 'the store was not opened');
  }
});
