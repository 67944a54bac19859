import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidReferenceError, apiHost, formatReference, parseReference } from '../../registry-client/index.js';

const D = 'sha256:' + 'ab'.repeat(32);

test('references are normalised the Docker way', () => {
  const cases: [string, string][] = [
    ['alpine', 'docker.io/library/alpine:latest'],
    ['alpine:3.20', 'docker.io/library/alpine:3.20'],
    ['user/app', 'docker.io/user/app:latest'],
    ['docker.io/alpine', 'docker.io/library/alpine:latest'],
    ['index.docker.io/library/alpine:edge', 'docker.io/library/alpine:edge'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/ns/app:v1', 'localhost:5000/ns/app:v1'],
    ['127.0.0.1:5000/a/b/c:t_1.x-y', '127.0.0.1:5000/a/b/c:t_1.x-y'],
    ['[::1]:5000/app', '[::1]:5000/app:latest'],
    ['ghcr.io/owner/my-app__x.y', 'ghcr.io/owner/my-app__x.y:latest'],
    ['Registry/app', 'Registry/app:latest'],
    [`alpine@${D}`, `docker.io/library/alpine@${D}`],
    [`host:5000/app:v1@${D}`, `host:5000/app:v1@${D}`],
  ];
  for (const [input, want] of cases) assert.equal(formatReference(parseReference(input)), want, input);
  assert.equal(apiHost(parseReference('alpine').registry), 'registry-1.docker.io');
  assert.equal(apiHost(parseReference('quay.io/x/y').registry), 'quay.io');
  assert.deepEqual(parseReference(`h.io/a:t@${D}`), { registry: 'h.io', repository: 'a', tag: 't', digest: D });
});

test('invalid references are rejected with InvalidReferenceError', () => {
  for (const bad of ['', 'Alpine', 'user/App', 'a//b', 'app:', 'app:-x', `app@sha256:abc`, 'app@md5:' + 'a'.repeat(32), '-app', 'a/b_', ' alpine', 'app:' + 'x'.repeat(129), 'h.io/' + 'a'.repeat(260)]) {
    assert.throws(() => parseReference(bad), InvalidReferenceError, bad);
  }
});
