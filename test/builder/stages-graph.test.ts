// toStages + resolveStageGraph: stage grouping, FROM/COPY --from/RUN --mount=from dependencies, --target,
// only the needed stages in dependency order, parallel waves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile } from '../../builder/frontend/parser/index.js';
import { resolveStageGraph, toStages } from '../../builder/frontend/stages/index.js';

const df = (lines: string[]) => parseDockerfile(lines.join('\n') + '\n', { file: 'app/Dockerfile' });

const multi = df([
  'ARG GO=1.22',                                   // 1
  'FROM golang:${GO} AS Deps',                     // 2
  'RUN go mod download',                           // 3
  'FROM deps AS build',                            // 4
  'RUN --mount=type=cache,target=/c,from=deps go build', // 5
  'FROM node:20 AS web',                           // 6
  'RUN npm ci',                                    // 7
  'FROM build AS test',                            // 8
  'RUN go test',                                   // 9
  'FROM alpine:3.20',                              // 10
  'COPY --from=build /out /bin/app',               // 11
  'COPY --from=web /dist /www',                    // 12
  'COPY --from=busybox:1.36 /bin/busybox /bin/',   // 13
  'COPY --from=0 /go/pkg /pkg',                    // 14
]);

test('toStages groups instructions under FROM, lower-cases names, keeps meta ARGs apart', () => {
  const { stages, metaArgs } = toStages(multi);
  assert.equal(stages.length, 5);
  assert.deepEqual(stages.map((s) => s.name), ['deps', 'build', 'web', 'test', undefined]);
  assert.deepEqual(stages.map((s) => s.index), [0, 1, 2, 3, 4]);
  assert.equal(stages[0]!.base, 'golang:${GO}');
  assert.deepEqual(stages.map((s) => s.commands.length), [1, 1, 1, 1, 4]);
  assert.deepEqual(stages[4]!.location, { file: 'app/Dockerfile', line: 10, endLine: 10 });
  assert.equal(metaArgs.length, 1);
  assert.deepEqual(metaArgs[0]!.args, [{ key: 'GO', value: '1.22' }]);
  // same result from the node list form
  assert.equal(toStages(multi.children, 'app/Dockerfile').stages.length, 5);
});

test('default target: the last stage needs deps, build, web (not test), dependencies first, with waves', () => {
  const { stages, metaArgs } = toStages(multi);
  const g = resolveStageGraph(stages, metaArgs, { buildArgs: {} });
  assert.equal(g.target, 4);
  assert.deepEqual(g.order.map((r) => r.displayName), ['deps', 'web', 'build', 'stage-4']);
  assert.deepEqual(g.waves, [[0, 2], [1], [4]]);
  const [deps, web, build, last] = g.order;
  assert.deepEqual(deps!.base, { kind: 'image', ref: 'golang:1.22' });
  assert.deepEqual(web!.dependsOn, []);
  assert.deepEqual(build!.base, { kind: 'stage', index: 0 });
  assert.deepEqual(build!.edges.map((e) => [e.via, e.stage, e.location.line]), [['from', 0, 4], ['mount', 0, 5]]);
  assert.deepEqual(build!.dependsOn, [0]);
  assert.deepEqual([...last!.dependsOn].sort(), [0, 1, 2]);
  assert.deepEqual(last!.images.map((i) => [i.via, i.ref, i.location.line]), [['copy', 'busybox:1.36', 13]]);
  assert.deepEqual(last!.edges.map((e) => [e.via, e.stage]), [['copy', 1], ['copy', 2], ['copy', 0]]);
});

test('--target picks a stage by name (case-insensitive) and only what it needs; build args override meta ARGs', () => {
  const { stages, metaArgs } = toStages(multi);
  const g = resolveStageGraph(stages, metaArgs, { target: 'TEST', buildArgs: { GO: '1.23', UNUSED: 'x', HTTP_PROXY: 'http://p' } });
  assert.equal(g.target, 3);
  assert.deepEqual(g.order.map((r) => r.index), [0, 1, 3]);
  assert.deepEqual(g.order[0]!.base, { kind: 'image', ref: 'golang:1.23' });
  assert.deepEqual(g.unusedBuildArgs, ['UNUSED']);
  assert.equal(g.metaScope.get('GO'), '1.23');
});

test('FROM <name> only refers to earlier stages; a later or own name is an image', () => {
  const { stages, metaArgs } = toStages(df(['FROM later AS first', 'FROM alpine AS later', 'FROM first AS x']));
  const g = resolveStageGraph(stages, metaArgs, { buildArgs: {} });
  assert.deepEqual(g.order.map((r) => [r.index, r.base]), [[0, { kind: 'image', ref: 'later' }], [2, { kind: 'stage', index: 0 }]]);
  const self = toStages(df(['FROM self AS self']));
  assert.deepEqual(resolveStageGraph(self.stages, self.metaArgs, { buildArgs: {} }).order[0]!.base, { kind: 'image', ref: 'self' });
});

test('FROM scratch, FROM --platform expansion with predefined platform args', () => {
  const { stages, metaArgs } = toStages(df(['FROM --platform=$BUILDPLATFORM golang AS b', 'FROM scratch', 'COPY --from=b /x /x']));
  const g = resolveStageGraph(stages, metaArgs, {
    buildArgs: {}, platform: { build: { os: 'linux', architecture: 'amd64' }, target: { os: 'linux', architecture: 'arm', variant: 'v7' } },
  });
  assert.equal(g.order[0]!.platform, 'linux/amd64');
  assert.deepEqual(g.order[1]!.base, { kind: 'scratch' });
  assert.equal(g.metaScope.get('TARGETPLATFORM'), 'linux/arm/v7');
  assert.equal(g.metaScope.get('TARGETVARIANT'), 'v7');
  assert.equal(g.metaScope.get('BUILDARCH'), 'amd64');
  assert.equal(g.metaScope.get('TARGETOSVERSION'), '', 'defined (empty), as BuildKit defines it');
  assert.equal(g.metaScope.get('BUILDOSVERSION'), '');
});

test('meta ARG defaults see earlier meta ARGs and platform args; an ARG without value is unset', () => {
  const { stages, metaArgs } = toStages(df(['ARG REG=docker.io', 'ARG IMG=$REG/library/alpine:${TAG:-3}-$TARGETARCH', 'ARG EMPTY', 'FROM ${IMG}${EMPTY-}']));
  const g = resolveStageGraph(stages, metaArgs, { buildArgs: {}, platform: { build: { os: 'linux', architecture: 'arm64' } } });
  assert.deepEqual(g.order[0]!.base, { kind: 'image', ref: 'docker.io/library/alpine:3-arm64' });
  assert.equal(g.metaScope.has('EMPTY'), false);
});

test('TARGETSTAGE is the target as given, else the last stage\'s name, else default; a build arg overrides it', () => {
  const named = toStages(df(['FROM alpine AS base', 'FROM scratch AS Foo', 'FROM scratch AS final']));
  const stage = (o: { target?: string; buildArgs?: Record<string, string> }, s = named) =>
    resolveStageGraph(s.stages, s.metaArgs, { buildArgs: o.buildArgs ?? {}, ...(o.target !== undefined ? { target: o.target } : {}) }).metaScope.get('TARGETSTAGE');
  assert.equal(stage({ target: 'foo' }), 'foo');
  assert.equal(stage({ target: 'FOO' }), 'FOO');
  assert.equal(stage({}), 'final');
  assert.equal(stage({}, toStages(df(['FROM alpine AS base', 'FROM scratch']))), 'default');
  assert.equal(stage({ buildArgs: { TARGETSTAGE: 'x' } }), 'x');
  // usable in FROM like the platform args, and never reported as an unused build arg
  const g = resolveStageGraph(named.stages, named.metaArgs, { buildArgs: { TARGETSTAGE: 'x', http_Proxy: 'p', SOURCE_DATE_EPOCH: '1' } });
  assert.deepEqual(g.unusedBuildArgs, []);
});

test('ONBUILD COPY --from of a stage that is FROM-ed makes the child need that stage (testOnBuildInheritedStageWithFrom)', () => {
  const { stages, metaArgs } = toStages(df(['FROM busybox AS src', 'FROM busybox AS base', 'ONBUILD COPY --from=src /in /out',
    'FROM base AS mid', 'RUN true', 'FROM scratch', 'COPY --from=mid /out /']));
  const g = resolveStageGraph(stages, metaArgs, { buildArgs: {} });
  assert.deepEqual(g.order.map((r) => r.index), [0, 1, 2, 3]);
  const mid = g.order.find((r) => r.index === 2)!;
  assert.deepEqual(mid.edges.map((e) => [e.via, e.stage, e.location.line]), [['from', 1, 4], ['copy', 0, 4]]);
  // the stage that declares the trigger does not need src itself
  assert.deepEqual(g.order.find((r) => r.index === 1)!.dependsOn, []);
});
