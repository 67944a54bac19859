/**
 * outlineDockerfile and listTargets (BuildKit's frontend.outline / frontend.targets): which build args, secrets and
 * SSH ids a target reaches, their values, descriptions and locations, and the stages a file offers.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DockerfileError, listTargets, outlineDockerfile, parseDockerfile, type Outline } from '../../cli/api.js';

const outline = (src: string, o: Parameters<typeof outlineDockerfile>[1] = {}): Outline => outlineDockerfile(parseDockerfile(src), o);
const names = (list: readonly { name: string }[] | undefined): string[] => (list ?? []).map((a) => a.name);
const line = (l: number) => ({ ranges: [{ start: { line: l }, end: { line: l } }] });

test('descriptions come from the comment above ARG and FROM that starts with the name', () => {
  const o = outline([
    '# syntax=docker/dockerfile:1', // a directive, not a comment
    '# VERSION the release to build',
    '',
    '# unrelated words',
    'ARG VERSION=1.0',
    '# app builds the application',
    'FROM busybox:${VERSION} AS app',
    '# MODE picks the flavour',
    '#',
    'ARG MODE=fast', // a bare # clears the comments above
    '# DEBUG turns on logging',
    'ARG DEBUG',
    '',
  ].join('\n'), {});
  assert.equal(o.name, 'app');
  assert.equal(o.description, 'builds the application');
  assert.deepEqual(o.args, [
    { name: 'VERSION', description: 'the release to build', value: '1.0', location: line(5) },
    { name: 'MODE', value: 'fast', location: line(10) },
    { name: 'DEBUG', description: 'turns on logging', location: line(12) },
  ]);
});

test('args: globals a needed FROM reads (and the globals their defaults read), stage ARGs of needed stages only', () => {
  const src = [
    'ARG REG=docker.io',            // 1: read by IMG's default
    'ARG IMG=${REG}/library/busybox', // 2: read by the target's FROM
    'ARG OTHER=alpine',             // 3: read only by an unneeded stage
    'ARG NOTUSED=1',                // 4
    'FROM ${OTHER} AS unused',      // 5
    'ARG IN_UNUSED=1',              // 6
    'FROM ${IMG} AS deps',          // 7
    'ARG DEP_ARG=d',                // 8
    'FROM scratch AS final',        // 9
    'ARG NOTUSED',                  // 10: no default, inherits the global: the global declaration is listed
    'ARG LOCAL=${DEP_ARG}x',        // 11: DEP_ARG is not in this stage's scope
    'COPY --from=deps /a /a',       // 12
    '',
  ].join('\n');
  const o = outline(src, { buildArgs: { LOCAL: 'given' } });
  assert.deepEqual(names(o.args), ['REG', 'IMG', 'NOTUSED', 'DEP_ARG', 'LOCAL']);
  const by = new Map((o.args ?? []).map((a) => [a.name, a]));
  assert.equal(by.get('IMG')?.value, 'docker.io/library/busybox');
  assert.deepEqual(by.get('NOTUSED')?.location, line(4));
  assert.equal(by.get('LOCAL')?.value, 'given');
  assert.deepEqual(by.get('LOCAL')?.location, line(11));
  // another target: only what it reaches
  assert.deepEqual(names(outline(src, { target: 'unused' }).args), ['OTHER', 'IN_UNUSED']);
  assert.equal(outline(src, { target: 'deps', buildArgs: { REG: 'localhost:5000' } }).args?.[1]?.value, 'localhost:5000/library/busybox');
});

test("secrets and ssh: ids (expanded, else the target's name), required, the target's own use first, unneeded stages left out", () => {
  const src = [
    'FROM busybox AS tools',                                                                      // 1
    'RUN --mount=type=secret,id=npmrc,required=true --mount=type=ssh,id=gh,required true',        // 2
    'FROM busybox AS unused',                                                                     // 3
    'RUN --mount=type=secret,id=never --mount=type=ssh,id=nope true',                            // 4
    'FROM busybox AS final',                                                                      // 5
    'ARG ENVIRONMENT=prod',                                                                       // 6
    'RUN --mount=type=secret,id=key-${ENVIRONMENT} --mount=type=secret,target=/root/.aws/config \\', // 7
    '    --mount=type=ssh true',                                                                  // 8
    'RUN --mount=type=bind,from=tools,target=/t --mount=type=secret,id=npmrc true',               // 9
    '',
  ].join('\n');
  const o = outline(src);
  assert.equal(o.name, 'final');
  // The target's own use of an id wins over a stage it reads (BuildKit walks the target, then its base, then sources).
  assert.deepEqual(o.secrets, [
    { name: 'key-prod', location: { ranges: [{ start: { line: 7 }, end: { line: 7 } }, { start: { line: 8 }, end: { line: 8 } }] } },
    { name: 'config', location: { ranges: [{ start: { line: 7 }, end: { line: 7 } }, { start: { line: 8 }, end: { line: 8 } }] } },
    { name: 'npmrc', location: line(9) },
  ]);
  assert.deepEqual(names(o.ssh), ['gh', 'default']);
  assert.equal(o.ssh?.[0]?.required, true);
  assert.deepEqual(outline(src, { target: 'tools' }).secrets, [{ name: 'npmrc', required: true, location: line(2) }]);
  assert.deepEqual(names(outline(src, { buildArgs: { ENVIRONMENT: 'dev' } }).secrets), ['key-dev', 'config', 'npmrc']);
  assert.equal(outline('FROM busybox\nRUN true\n').secrets, undefined);
});

test('sources hold the Dockerfile (base64), and a target that does not exist fails as a build would', () => {
  const src = 'FROM busybox AS a\nRUN true\n';
  const o = outlineDockerfile(parseDockerfile(src), { source: src });
  assert.deepEqual(o.sources, [Buffer.from(src).toString('base64')]);
  assert.throws(() => outline(src, { target: 'b' }), (e) => e instanceof DockerfileError && /target stage "b" could not be found/.test(e.message));
});

test('targets: every stage in order, the last is the default, base and platform as written', () => {
  const l = listTargets(parseDockerfile([
    'ARG BASE=busybox',
    '# builder compiles',
    'FROM --platform=$BUILDPLATFORM ${BASE} AS builder',
    'FROM scratch AS \\',
    '  out',
    'FROM builder',
    '',
  ].join('\n')));
  assert.deepEqual(l, {
    targets: [
      { name: 'builder', description: 'compiles', base: '${BASE}', platform: '$BUILDPLATFORM', location: line(3) },
      { name: 'out', base: 'scratch', location: { ranges: [{ start: { line: 4 }, end: { line: 4 } }, { start: { line: 5 }, end: { line: 5 } }] } },
      { default: true, base: 'builder', location: line(6) },
    ],
    sources: [],
  });
});

test('a stage base\'s ONBUILD triggers count for the stage built on it, at its FROM line, not for the base itself', () => {
  const src = [
    'FROM busybox AS base',
    'ONBUILD ARG FLAVOUR=plain',
    'ONBUILD RUN --mount=type=secret,id=onbuild-token true',
    'FROM base AS app',
    '',
  ].join('\n');
  const o = outline(src);
  assert.deepEqual(o.args, [{ name: 'FLAVOUR', value: 'plain', location: line(4) }]);
  assert.deepEqual(o.secrets, [{ name: 'onbuild-token', location: line(4) }]);
  const b = outline(src, { target: 'base' });
  assert.equal(b.args, undefined);
  assert.equal(b.secrets, undefined);
});
