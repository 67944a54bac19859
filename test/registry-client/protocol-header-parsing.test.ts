import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RETRY_POLICY, backoffDelay, grantedScopes, nextLink, parseChallenge, parseRetryAfter } from '../../registry-client/index.js';

test('WWW-Authenticate, Link, Retry-After and JWT access claims are parsed', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"'),
    { scheme: 'bearer', realm: 'https://auth.docker.io/token', service: 'registry.docker.io' });
  assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', realm: 'Registry Realm' });
  assert.equal(nextLink('</v2/app/tags/list?last=b&n=2>; rel="next"'), '/v2/app/tags/list?last=b&n=2');
  assert.equal(nextLink('<https://x/a>; rel="prev", <https://x/b?n=1>; rel=next'), 'https://x/b?n=1');
  assert.equal(nextLink(undefined), undefined);
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(new Date(Date.now() + 10_000).toUTCString())! > 8000, true);
  assert.equal(parseRetryAfter('soon'), undefined);
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  assert.deepEqual(grantedScopes(`${b64({ alg: 'none' })}.${b64({ access: [{ type: 'repository', name: 'a/b', actions: ['pull'] }] })}.sig`), ['repository:a/b:pull']);
  assert.equal(grantedScopes('opaque-token'), undefined);
  for (let a = 1; a < 10; a++) {
    const d = backoffDelay(DEFAULT_RETRY_POLICY, a, () => 1);
    assert.ok(d <= DEFAULT_RETRY_POLICY.maxDelayMs && d >= DEFAULT_RETRY_POLICY.baseDelayMs);
    assert.ok(backoffDelay(DEFAULT_RETRY_POLICY, a, () => 0) >= d / 2);
  }
});
