import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { of } from './helpers.js';

test('UndefinedArgInFrom: a variable in FROM that no meta ARG declares, with a suggestion', () => {
  assert.deepEqual(of('UndefinedArgInFrom', 'ARG MY_ARCH=amd64\nFROM --platform=linux/${MYARCH} busybox:${tag}\n'), [
    "2 UndefinedArgInFrom: FROM argument 'MYARCH' is not declared (did you mean MY_ARCH?)",
    "2 UndefinedArgInFrom: FROM argument 'tag' is not declared",
  ]);
  // declared without a value, or predefined: fine
  assert.deepEqual(of('UndefinedArgInFrom', 'ARG DEBUG\nFROM --platform=$BUILDPLATFORM scratch${DEBUG}\n'), []);
});

test('InvalidDefaultArgInFrom: the base name must be valid with the ARG defaults alone', () => {
  const o = { buildArgs: { IMAGE: 'busybox' } };
  assert.deepEqual(of('InvalidDefaultArgInFrom', 'ARG IMAGE\nFROM $IMAGE\n', o), ['2 InvalidDefaultArgInFrom: Default value for ARG $IMAGE results in empty or invalid base image name']);
  assert.deepEqual(of('InvalidDefaultArgInFrom', 'ARG V=""\nFROM busybox:stable${V}\n', o), []);
});

test('RedundantTargetPlatform: --platform=$TARGETPLATFORM, as written', () => {
  assert.deepEqual(of('RedundantTargetPlatform', 'FROM --platform=${TARGETPLATFORM} scratch\n'), [
    '1 RedundantTargetPlatform: Setting platform to predefined ${TARGETPLATFORM} in FROM is redundant as this is the default behavior',
  ]);
  assert.deepEqual(of('RedundantTargetPlatform', 'FROM --platform=$BUILDPLATFORM scratch\n'), []);
});

test('FromPlatformFlagConstDisallowed: a constant --platform, unless the stage name mentions its OS or architecture', () => {
  assert.deepEqual(of('FromPlatformFlagConstDisallowed', 'FROM --platform=linux/arm64 scratch\nFROM --platform=linux/arm64 scratch AS build_arm64\n'), [
    '1 FromPlatformFlagConstDisallowed: FROM --platform flag should not use constant value "linux/arm64"',
  ]);
});

test('InvalidBaseImagePlatform: a base image of another OS/architecture than the stage builds for (no URL, as upstream)', () => {
  const bases = new Map([['busybox', { env: [], shell: false, user: '', platform: { os: 'linux', architecture: 'arm64' } }]]);
  const r = of('InvalidBaseImagePlatform', 'FROM busybox\n', { bases, allStages: false });
  assert.deepEqual(r, ['1 InvalidBaseImagePlatform: Base image busybox was pulled with platform "linux/arm64", expected "linux/amd64" for current build']);
  const same = new Map([['busybox', { env: [], shell: false, user: '', platform: { os: 'linux', architecture: 'amd64' } }]]);
  assert.deepEqual(of('InvalidBaseImagePlatform', 'FROM busybox\n', { bases: same, allStages: false }), []);
});
