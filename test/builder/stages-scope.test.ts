// A stage's ARG/ENV scope: meta args only after redeclaration, build args override defaults, ENV wins over ARG,
// predefined platform/proxy args, what RUN sees and what history records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile } from '../../builder/frontend/parser/index.js';
import { StageScope, resolveStageGraph, stageScope, toStages } from '../../builder/frontend/stages/index.js';

function setup(lines: string[], buildArgs: Record<string, string | undefined> = {}) {
  const { stages, metaArgs } = toStages(parseDockerfile(lines.join('\n') + '\n'));
  const g = resolveStageGraph(stages, metaArgs, { buildArgs, platform: { build: { os: 'linux', architecture: 'amd64' } } });
  return { stages, g, opts: { metaScope: g.metaScope, buildArgs } };
}

test('meta ARGs are visible in a stage only after ARG NAME redeclares them', () => {
  const { stages, opts } = setup(['ARG V=1', 'FROM alpine', 'WORKDIR /a$V', 'ARG V', 'WORKDIR /b$V']);
  const scope = new StageScope(opts);
  const [w1, , w2] = stages[0]!.commands.map((c) => scope.apply(c));
  assert.equal(w1!.kind === 'workdir' && w1.path, '/a');
  assert.equal(w2!.kind === 'workdir' && w2.path, '/b1');
});

test('build args override ARG defaults; defaults expand with the scope so far; ENV after ARG wins', () => {
  const { stages, opts } = setup(['FROM alpine', 'ARG A=x B=${A}y C', 'ENV C=$B', 'LABEL a=$A b=$B c=$C', 'ENV A=fromenv', 'LABEL a=$A'], { B: 'given', C: 'argc' });
  const scope = new StageScope(opts);
  const out = stages[0]!.commands.map((c) => scope.apply(c));
  const l1 = out[2]!;
  assert.deepEqual(l1.kind === 'label' && l1.pairs.map((p) => [p.key, p.value]), [['a', 'x'], ['b', 'given'], ['c', 'given']]);
  const l2 = out[4]!;
  assert.deepEqual(l2.kind === 'label' && l2.pairs.map((p) => [p.key, p.value]), [['a', 'fromenv']]);
  assert.deepEqual([...scope.imageEnv()], [['C', 'given'], ['A', 'fromenv']]);
  assert.deepEqual([...scope.usedBuildArgs].sort(), ['B', 'C']);
  // history shows declared ARGs in order, valued from the env at that point
  assert.deepEqual(scope.historyArgs(), [['A', 'fromenv'], ['B', 'given'], ['C', 'given']]);
  // without the build arg, the default applies
  const s2 = stageScope(setup(['FROM alpine', 'ARG A=x B=${A}y']).stages[0]!, { ...opts, buildArgs: {} });
  assert.equal(s2.vars().get('B'), 'xy');
});

test('platform args need ARG inside a stage; proxy args reach RUN without ARG and stay out of history', () => {
  const { stages, opts } = setup(['FROM alpine', 'ENV X=$TARGETARCH', 'ARG TARGETARCH', 'ENV Y=$TARGETARCH', 'ARG CUSTOM=c', 'RUN echo'], { HTTP_PROXY: 'http://proxy:3128', https_proxy: 'http://p2' });
  const scope = stageScope(stages[0]!, { ...opts, baseEnv: ['PATH=/usr/bin', 'X=base'] });
  assert.equal(scope.imageEnv().get('X'), '');
  assert.equal(scope.imageEnv().get('Y'), 'amd64');
  assert.equal(scope.imageEnv().get('PATH'), '/usr/bin');
  const run = scope.runEnv();
  assert.equal(run.get('HTTP_PROXY'), 'http://proxy:3128');
  assert.equal(run.get('https_proxy'), 'http://p2');
  assert.equal(run.get('CUSTOM'), 'c');
  assert.deepEqual(scope.historyArgs(), [['TARGETARCH', 'amd64'], ['CUSTOM', 'c']]);
  assert.equal(scope.vars().has('HTTP_PROXY'), false);
  assert.equal(scope.runEnv({ includeProxy: false }).has('HTTP_PROXY'), false);
});

test('proxy build args in any letter case reach RUN in both spellings, override ENV, and stay out of the key env', () => {
  const { stages, opts } = setup(['FROM alpine', 'ENV HTTP_PROXY=fromenv', 'ARG FOO', 'RUN echo'], { FOO: 'f', http_proxy: 'hp', No_Proxy: 'np', ALL_PROXY: '' });
  const scope = stageScope(stages[0]!, opts);
  const run = scope.runEnv();
  assert.equal(run.get('HTTP_PROXY'), 'hp');
  assert.equal(run.get('http_proxy'), 'hp');
  assert.equal(run.get('NO_PROXY'), 'np');
  assert.equal(run.get('no_proxy'), 'np');
  assert.equal(run.has('No_Proxy'), false);
  assert.equal(run.has('ALL_PROXY') || run.has('all_proxy'), false, 'an empty proxy value sets nothing');
  assert.equal(run.get('FOO'), 'f');
  const key = scope.runEnv({ includeProxy: false });
  assert.equal(key.get('HTTP_PROXY'), 'fromenv', 'the ENV value, not the build arg');
  assert.equal(key.has('http_proxy') || key.has('NO_PROXY'), false);
  assert.deepEqual(scope.historyArgs(), [['FOO', 'f']]);
});

test('stageScope(upTo) gives the scope before a given command; an ARG with no value and no build arg is unset', () => {
  const { stages, opts } = setup(['FROM alpine', 'ARG NOVAL', 'ENV A=1', 'ENV B=2']);
  assert.deepEqual([...stageScope(stages[0]!, opts, 2).vars()], [['A', '1']]);
  const all = stageScope(stages[0]!, opts);
  assert.equal(all.vars().has('NOVAL'), false);
  assert.ok(all.declared().has('NOVAL'));
});
