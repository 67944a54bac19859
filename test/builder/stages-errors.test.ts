// Stage errors carry file:line and say what to do: unknown target, cycles, duplicate names, bad --from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile } from '../../builder/frontend/parser/index.js';
import { resolveStageGraph, toStages } from '../../builder/frontend/stages/index.js';
import { TsbuildError } from '../../layer-store/core/index.js';

const build = (lines: string[], target?: string, buildArgs: Record<string, string> = {}) => {
  const { stages, metaArgs } = toStages(parseDockerfile(lines.join('\n') + '\n', { file: 'Dockerfile.x' }));
  return resolveStageGraph(stages, metaArgs, { buildArgs, ...(target !== undefined ? { target } : {}) });
};

function fails(f: () => unknown, code: string, message: RegExp, line: number, hint?: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(TsbuildError.is(e));
    assert.equal(e.code, code);
    assert.match(e.message, message);
    assert.equal((e.location as { file: string }).file, 'Dockerfile.x');
    assert.equal((e.location as { line: number }).line, line);
    if (hint !== undefined) assert.match(e.hint ?? '', hint);
    return true;
  });
}

test('unknown target suggests the closest stage name', () => {
  fails(() => build(['FROM alpine AS builder', 'FROM alpine AS runtime'], 'biulder'), 'DOCKERFILE_STAGE', /target stage "biulder" could not be found \(did you mean builder\?\)$/, 1, /stages: builder, runtime/);
  fails(() => build(['FROM alpine AS builder'], 'zzz'), 'DOCKERFILE_STAGE', /could not be found/, 1, /stages: builder/);
});

test('a stage that copies from itself, or a loop of stages, is a cycle', () => {
  fails(() => build(['FROM busybox AS stage0', 'COPY --from=stage0 f1 /sub/']), 'DOCKERFILE_STAGE', /circular dependency detected on stage: stage0/, 2, /uses itself/);
  fails(() => build(['FROM busybox AS stage0', 'COPY --from=stage2 f1 /sub/', 'FROM busybox AS stage1', 'COPY --from=stage0 f2 /sub/', 'FROM busybox AS stage2', 'COPY --from=stage1 f2 /sub/']),
    'DOCKERFILE_STAGE', /circular dependency detected on stage: stage0/, 2, /loop \(lines 2, 6, 4\)/);
  fails(() => build(['FROM busybox', 'COPY --from=0 /a /b']), 'DOCKERFILE_STAGE', /circular dependency detected on stage: stage-0/, 2);
  fails(() => build(['FROM busybox AS a', 'RUN --mount=from=b,target=/b true', 'FROM a AS b']), 'DOCKERFILE_STAGE', /circular dependency/, 2);
});

test('COPY --from a stage defined later fails as in BuildKit (testOutOfOrderStage); unneeded stages are not checked', () => {
  fails(() => build(['FROM busybox AS target', 'COPY --from=build / /out', 'FROM busybox AS build', 'COPY /Dockerfile /d2', 'FROM target']),
    'DOCKERFILE_STAGE', /cannot copy from stage "build", it needs to be defined before current stage "target"/, 2, /move that stage above/);
  fails(() => build(['FROM busybox AS a', 'COPY --from=1 /a /b', 'FROM busybox', 'FROM a']), 'DOCKERFILE_STAGE', /cannot copy from stage "1", it needs to be defined before current stage "a"/, 2);
  const g = build(['FROM busybox AS early', 'COPY --from=late /a /b', 'FROM busybox AS late', 'FROM busybox AS final'], 'late');
  assert.deepEqual(g.order.map((r) => r.index), [1]);
});

test('duplicate stage names and instructions before FROM', () => {
  // As BuildKit: a repeated name builds (DuplicateStageName is a check warning); the later stage takes the name,
  // and FROM NAME reads the latest one above it.
  const d = build(['FROM alpine AS a', 'FROM a AS A', 'FROM busybox AS final', 'COPY --from=a /x /x']);
  assert.equal(d.order.find((r) => r.index === 1)!.base.kind, 'stage');
  assert.deepEqual(d.order.find((r) => r.index === 2)!.dependsOn, [1]);
  fails(() => build(['RUN true', 'FROM alpine']), 'DOCKERFILE_STAGE', /no build stage in current context/, 1, /start the Dockerfile with FROM/);
});

test('COPY --from: a stage index out of range, an unknown name that is not an image reference', () => {
  fails(() => build(['FROM alpine', 'FROM alpine', 'COPY --from=5 /a /b']), 'DOCKERFILE_STAGE', /invalid stage index 5/, 3, /stages 0 to 1/);
  fails(() => build(['FROM alpine AS builder', 'FROM alpine', 'COPY --from=Builder_! /a /b']), 'DOCKERFILE_STAGE', /neither a stage nor a valid image reference/, 3);
  // an unknown but valid name is an image, as in BuildKit
  const g = build(['FROM alpine AS builder', 'FROM alpine', 'COPY --from=buildr /a /b']);
  assert.deepEqual(g.order.map((r) => r.index), [1]);
  assert.deepEqual(g.order[0]!.images.map((i) => i.ref), ['buildr']);
});

test('COPY --from with a variable, even a global ARG, fails with BuildKit\'s words (testDockerfileCopyFromArgs)', () => {
  const words = /^variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround$/;
  fails(() => build(['FROM scratch', 'COPY --from=$FOO . .']), 'DOCKERFILE_STAGE', words, 2);
  fails(() => build(['ARG IMG=busybox', 'FROM scratch', 'COPY --from=${IMG} . .']), 'DOCKERFILE_STAGE', words, 3, /FROM \$\{NAME\} AS src/);
  // checked in every stage, as BuildKit converts them all, needed by the target or not
  fails(() => build(['FROM scratch AS a', 'COPY --from=$B . .', 'FROM scratch AS b'], 'b'), 'DOCKERFILE_STAGE', words, 2);
});

test('FROM with a blank base or ${VAR:?} unset fails at its line', () => {
  fails(() => build(['ARG B', 'FROM alpine', 'FROM ${B}']), 'DOCKERFILE_STAGE', /base name \(\$\{B\}\) should not be blank/, 3);
  fails(() => build(['FROM ${IMAGE:?required}']), 'EXPANSION', /IMAGE: required/, 1);
  assert.deepEqual(build(['ARG IMAGE', 'FROM ${IMAGE:?x}'], undefined, { IMAGE: 'debian' }).order[0]!.base, { kind: 'image', ref: 'debian' });
  // a build arg is not visible to FROM unless a global ARG declares it
  fails(() => build(['FROM ${IMAGE:?undeclared}'], undefined, { IMAGE: 'debian' }), 'EXPANSION', /IMAGE: undeclared/, 1);
});
