import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPlatforms, checkDockerfile } from '../../../builder/index.js';
import type { BuildEvent } from '../../../layer-store/index.js';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../../helpers/build-env.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let work: string;
before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  work = await mkdtemp(join(tmpdir(), 'tsbuild-checks-'));
});
after(async () => {
  await env?.cleanup();
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

async function ctx(name: string, df: string, files: Record<string, string> = {}): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), df);
  for (const [f, c] of Object.entries(files)) await writeFile(join(dir, f), c);
  return dir;
}

const ruleEvents = (events: readonly BuildEvent[]) =>
  events.flatMap((e) => (e.type === 'warning' && e.rule ? [`${e.location?.line} ${e.rule.name}`] : []));

test('a build returns its check warnings and sends them as warning events with their rule; UndefinedVar knows the base image Env', async () => {
  const dir = await ctx('ok', 'FROM busybox\nENV GREETING=hi P2=$PATH\nCOPY a /$GREETING/$UNSET_DIR/\nCMD echo $PATH\n', { a: 'a' });
  const r = await env.build({ context: dir, tags: ['checked:1'] });
  assert.deepEqual(r.checks?.map((w) => `${w.location.line} ${w.ruleName}`), ['3 UndefinedVar', '4 JSONArgsRecommended']);
  assert.equal(r.checks?.[0]?.detail, "Usage of undefined variable '$UNSET_DIR'");
  assert.deepEqual(ruleEvents(r.events), ['3 UndefinedVar', '4 JSONArgsRecommended']);
  const ev = r.events.find((e) => e.type === 'warning' && e.rule);
  assert.deepEqual(ev, {
    type: 'warning', message: "Usage of undefined variable '$UNSET_DIR'", location: { file: 'Dockerfile', line: 3 },
    rule: { name: 'UndefinedVar', description: 'Variables should be defined before their use', url: 'https://docs.docker.com/go/dockerfile/rule/undefined-var/' },
  });
});

test('error=true fails the build before any step runs; warnings found before a front-end error are still sent', async () => {
  const strict = await ctx('strict', '# check=error=true\nFROM busybox AS Build\nRUN touch /ran\n');
  const events: BuildEvent[] = [];
  await assert.rejects(env.build({ context: strict, events: (e) => events.push(e) }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'DOCKERFILE_CHECK');
    assert.equal(e.message, 'lint violation found for rules: StageNameCasing');
    return true;
  });
  assert.deepEqual(ruleEvents(events), ['2 StageNameCasing']);
  assert.ok(!events.some((e) => e.type === 'step.start'), 'no step started');
  const broken = await ctx('broken', 'FROM busybox AS Bad\nMAINTAINER me\nBADCMD\n');
  const ev2: BuildEvent[] = [];
  await assert.rejects(env.build({ context: broken, events: (e) => ev2.push(e) }), /unknown instruction: BADCMD/);
  assert.deepEqual(ruleEvents(ev2), ['1 StageNameCasing', '2 MaintainerDeprecated']);
});

test('a multi-platform build reports its warnings once (the first platform), as BuildKit', async () => {
  const dir = await ctx('multi', 'FROM scratch\nCOPY a /a\nCMD run\n', { a: 'a' });
  const events: BuildEvent[] = [];
  const r = await buildPlatforms({
    context: dir, store: env.store, runtime: env.runtime, events: (e) => events.push(e),
    platforms: [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }],
  });
  assert.deepEqual(ruleEvents(events), ['3 JSONArgsRecommended']);
  assert.equal(r.platforms[0]!.checks?.length, 1);
  assert.equal(r.platforms[1]!.checks?.length, 0);
});

test('checkDockerfile checks every stage without building, and names the build error', async () => {
  const dir = await ctx('check', 'FROM busybox AS a\nCOPY $nope /\nFROM busybox\nRUN x\n');
  const r = await checkDockerfile({ context: dir, store: env.store });
  assert.deepEqual(r.warnings.map((w) => `${w.location.line} ${w.ruleName}`), ['2 UndefinedVar']);
  assert.equal(r.error, undefined);
  const t = await checkDockerfile({ context: dir, store: env.store, target: 'nosuch' });
  assert.match(String(t.error?.message), /nosuch/);
});

test("a build scans the context for key-like files a COPY writes into a layer (SecretInLayer), .dockerignore applied", async () => {
  const dir = await ctx('keys', 'FROM scratch\nCOPY . /app\n', { 'server.pem': 'k', 'main.c': 'int main;' });
  const r = await env.build({ context: dir });
  assert.deepEqual(r.checks?.map((w) => `${w.location.line} ${w.ruleName} ${w.detail.slice(0, 28)}`), ['2 SecretInLayer COPY writes "server.pem", na']);
  assert.deepEqual(ruleEvents(r.events), ['2 SecretInLayer']);
  await writeFile(join(dir, '.dockerignore'), '*.pem\n');
  const ignored = await env.build({ context: dir });
  assert.deepEqual(ignored.checks, []);
});
