// RUN --mount specs are parsed as BuildKit does (CSV fields, per-type keys, read-only defaults).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMount, parseCsvRecord, ramInBytes } from '../../builder/frontend/instructions/index.js';
import { TsbuildError } from '../../layer-store/core/index.js';

const loc = { file: 'Dockerfile', line: 2, endLine: 2 };

test('types, aliases and read-only defaults', () => {
  assert.deepEqual(parseMount('target=/src', loc), { type: 'bind', readOnly: true, required: false, target: '/src' });
  assert.deepEqual(parseMount('type=bind,from=build,src=/out,dst=/in,rw', loc),
    { type: 'bind', readOnly: false, required: false, from: 'build', source: '/out', target: '/in' });
  assert.deepEqual(parseMount('type=cache,target=/root/.cache,id=pip,sharing=LOCKED,mode=0755,uid=1000,gid=1000', loc),
    { type: 'cache', readOnly: false, required: false, target: '/root/.cache', id: 'pip', sharing: 'locked', mode: 0o755, uid: 1000, gid: 1000 });
  assert.deepEqual(parseMount('type=tmpfs,destination=/tmp,size=64m', loc), { type: 'tmpfs', readOnly: false, required: false, target: '/tmp', size: 64 * 1024 * 1024 });
  assert.deepEqual(parseMount('required,type=secret,id=npmrc,target=/root/.npmrc', loc),
    { type: 'secret', readOnly: true, required: true, id: 'npmrc', target: '/root/.npmrc' });
  assert.deepEqual(parseMount('type=secret,id=tok,env=TOKEN', loc), { type: 'secret', readOnly: true, required: false, id: 'tok', env: 'TOKEN' });
  assert.deepEqual(parseMount('type=ssh,required=true', loc), { type: 'ssh', readOnly: true, required: true });
  assert.deepEqual(parseMount('type=cache,target=/c,ro=false', loc).readOnly, false);
  assert.deepEqual(parseMount('type=cache,target=/c,readonly', loc).readOnly, true);
});

test('invalid mounts are DOCKERFILE_BAD_FLAG errors with the location', () => {
  const bad = (spec: string, re: RegExp): void => {
    assert.throws(() => parseMount(spec, loc), (e: unknown) => TsbuildError.is(e) && e.code === 'DOCKERFILE_BAD_FLAG' && re.test(e.message) && (e.location as { line: number }).line === 2, spec);
  };
  bad('type=volume,target=/x', /unsupported mount type "volume"/);
  bad('type=cache,target=/x,sharing=everyone', /unsupported sharing value/);
  bad('type=bind,target=/x,sharing=shared', /invalid cache sharing set for bind mount/);
  bad('type=bind,target=/x,mode=0644', /mode not allowed for "bind"/);
  bad('type=cache,target=/x,uid=abc', /invalid value abc for uid/);
  bad('type=cache,target=/x,mode=999', /invalid value 999 for mode/);
  bad('type=bind,target=/x,required', /unexpected key 'required' for mount type 'bind'/);
  bad('type=bind,target=/x,size=1m', /unexpected key 'size'/);
  bad('type=secret', /one of source, target required/);
  bad('type=secret,id=a,source=b', /both source and id/);
  bad('type=secret,id=a,from=img', /should not have a from/);
  bad('type=bind,target=/x,targte=/y', /unexpected key 'targte'/);
  bad('type=bind,target', /must be a key=value pair/);
  bad('type=bind,ro=maybe,target=/x', /invalid value for ro: maybe/);
  bad('type=bind,from=$STAGE,target=/x', /doesn't support variable expansion/);
  bad('type=bind,target="/x', /failed to parse csv/);
});

test('values with $ are deferred at parse time and expanded with an expander', () => {
  const deferred = parseMount('type=cache,id=$ID,target=/c', loc);
  assert.equal(deferred.id, undefined);
  const env: Record<string, string> = { ID: 'go-build', T: 'tmpfs' };
  const expanded = parseMount('type=$T,id=$ID,target=/c', loc, (w) => w.replace(/\$(\w+)/g, (_, n: string) => env[n] ?? ''));
  assert.deepEqual(expanded, { type: 'tmpfs', readOnly: false, required: false, id: 'go-build', target: '/c' });
});

test('Go csv and size helpers', () => {
  assert.deepEqual(parseCsvRecord('a,"b,c",d""'.replace('d""', '"d""e"')), ['a', 'b,c', 'd"e']);
  assert.throws(() => parseCsvRecord('a"b'));
  assert.equal(ramInBytes('1g'), 1024 ** 3);
  assert.equal(ramInBytes('512KiB'), 512 * 1024);
  assert.equal(ramInBytes('100'), 100);
  assert.equal(ramInBytes('1x'), undefined);
});
