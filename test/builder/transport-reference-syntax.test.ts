import { test } from 'node:test';
import assert from 'node:assert/strict';
import { namesRegistryHost, parseImageLocation } from '../../builder/index.js';
import { TsbuildError } from '../../layer-store/index.js';

test('transport references split at the first colon after the transport, as containers/image does on Unix', () => {
  assert.deepEqual(parseImageLocation('docker://localhost:5000/a/b:1'), { transport: 'docker', ref: 'localhost:5000/a/b:1' });
  assert.deepEqual(parseImageLocation('oci:/tmp/lay'), { transport: 'oci', path: '/tmp/lay', name: undefined });
  assert.deepEqual(parseImageLocation('oci:/tmp/lay:'), { transport: 'oci', path: '/tmp/lay', name: undefined });
  assert.deepEqual(parseImageLocation('oci:/tmp/lay:docker.io/library/a:1'), { transport: 'oci', path: '/tmp/lay', name: 'docker.io/library/a:1' });
  assert.deepEqual(parseImageLocation('oci-archive:a.tar:v1'), { transport: 'oci-archive', path: 'a.tar', name: 'v1' });
  assert.deepEqual(parseImageLocation('docker-archive:d.tar:ex.com/a:1'), { transport: 'docker-archive', path: 'd.tar', name: 'ex.com/a:1' });
  assert.deepEqual(parseImageLocation('docker-archive:d.tar:@2'), { transport: 'docker-archive', path: 'd.tar', index: 2 });
  assert.deepEqual(parseImageLocation('store:app:1'), { transport: 'store', ref: 'app:1' });
  assert.deepEqual(parseImageLocation('app:1'), { transport: 'bare', ref: 'app:1' });
  assert.deepEqual(parseImageLocation('dir:1'), { transport: 'bare', ref: 'dir:1' }, 'an image named dir, tag 1');
});

test('malformed and unsupported transports are usage errors naming the reference', () => {
  for (const [s, msg] of [
    ['docker:alpine', /docker:\/\/REF/], ['oci:', /needs a path/], ['docker-archive:d.tar:@x', /bad image position/],
    ['dir:/tmp/x', /transport dir: is not supported/], ['docker-daemon:alpine:latest', /transport docker-daemon: is not supported/],
    ['docker-daemon:alpine', /transport docker-daemon: is not supported/], ['containers-storage:app', /transport containers-storage: is not supported/],
  ] as const) {
    assert.throws(() => parseImageLocation(s), (e: unknown) => TsbuildError.is(e) && e.code === 'USAGE' && msg.test(e.message) && e.message.includes(s), s);
  }
});

test('a bare destination is a registry only when its first component names a host', () => {
  assert.equal(namesRegistryHost('localhost/a'), true);
  assert.equal(namesRegistryHost('127.0.0.1:5000/a:1'), true);
  assert.equal(namesRegistryHost('ghcr.io/me/a'), true);
  assert.equal(namesRegistryHost('me/a:1'), false);
  assert.equal(namesRegistryHost('app:1'), false);
  assert.equal(namesRegistryHost('localhost'), false);
});
