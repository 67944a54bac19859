/**
 * The proxy rules docker, skopeo and crane follow (Go's http.ProxyFromEnvironment, golang.org/x/net/http/httpproxy):
 * which variable applies to which scheme, the spelling of a proxy value, loopback never proxied, and every
 * NO_PROXY form. The cases restate httpproxy's own test table (TestProxyForURL, TestUseProxy) as data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TsbuildError } from '../../layer-store/core/index.js';
import { proxyConfigFromEnv, proxyFor } from '../../registry-client/proxy.js';

const via = (env: NodeJS.ProcessEnv, url: string): string | undefined => proxyFor(new URL(url), proxyConfigFromEnv(env))?.url.href;

test('HTTP_PROXY is for http:// and HTTPS_PROXY for https://, upper case first, bare host[:port] meaning http://', () => {
  assert.equal(via({ HTTP_PROXY: '127.0.0.1:8080' }, 'http://example.com/'), 'http://127.0.0.1:8080/');
  assert.equal(via({ HTTP_PROXY: 'cache.corp.example.com:1234' }, 'http://example.com/'), 'http://cache.corp.example.com:1234/');
  assert.equal(via({ HTTP_PROXY: 'cache.corp.example.com' }, 'http://example.com/'), 'http://cache.corp.example.com/');
  assert.equal(via({ HTTP_PROXY: 'localhost' }, 'http://example.com/'), 'http://localhost/');
  assert.equal(via({ HTTP_PROXY: 'https://cache.corp.example.com' }, 'http://example.com/'), 'https://cache.corp.example.com/');
  const both = { HTTP_PROXY: 'http.proxy.tld', HTTPS_PROXY: 'secure.proxy.tld' };
  assert.equal(via(both, 'http://insecure.tld/'), 'http://http.proxy.tld/');
  assert.equal(via(both, 'https://secure.tld/'), 'http://secure.proxy.tld/');
  assert.equal(via({ HTTP_PROXY: 'http.proxy.tld' }, 'https://secure.tld/'), undefined, 'no fallback from HTTPS to HTTP_PROXY');
  assert.equal(via({}, 'http://example.com/'), undefined);
  assert.equal(via({ http_proxy: 'lower:1', HTTP_PROXY: 'upper:2' }, 'http://example.com/'), 'http://upper:2/');
  assert.equal(via({ http_proxy: 'lower:1', HTTP_PROXY: '' }, 'http://example.com/'), 'http://lower:1/', 'an empty value counts as unset');
  assert.equal(via({ https_proxy: 'lower:1' }, 'https://example.com/'), 'http://lower:1/');
  // The variable a proxy came from is kept, for messages.
  assert.equal(proxyFor(new URL('https://x.example/'), proxyConfigFromEnv({ https_proxy: 'p:1' }))?.variable, 'https_proxy');
});

test('localhost and loopback addresses never go through the proxy', () => {
  const env = { HTTP_PROXY: 'proxy:3128', HTTPS_PROXY: 'proxy:3128' };
  for (const u of ['http://localhost:5000/', 'http://127.0.0.1:5000/', 'https://127.0.0.2/', 'http://[::1]:5000/']) assert.equal(via(env, u), undefined, u);
  assert.equal(via(env, 'http://[::2]/'), 'http://proxy:3128/', '::2 is not loopback');
  assert.equal(via(env, 'http://local.localhost/'), 'http://proxy:3128/', 'only the name localhost itself');
});

test('NO_PROXY: IPs, IP:port, CIDRs, domains with and without a leading dot or *., ports, and *', () => {
  const env = {
    HTTP_PROXY: 'proxy:3128',
    NO_PROXY: 'foobar.com, .barbaz.net, *.wildcard.io, 192.168.1.1, 192.168.1.2:81, 192.168.1.3:80, 10.0.0.0/30, 2001:db8::52:0:1, [2001:db8::52:0:2]:443, [2001:db8::52:0:3]:80, 2002:db8:a::45/64, Registry.Example:5000',
  };
  const cases: [string, boolean][] = [
    ['192.168.1.1', false], ['192.168.1.2', true], ['192.168.1.3', false], ['192.168.1.4', true],
    ['10.0.0.2', false], ['10.0.0.4', true],
    ['[2001:db8::52:0:1]', false], ['[2001:db8::52:0:2]', true], ['[2001:db8::52:0:3]', false],
    ['[2002:db8:a::123]', false], ['[fe80::424b:c8be:1643:a1b6]', true],
    ['barbaz.net', true], ['www.barbaz.net', false], ['foobar.com', false], ['www.foobar.com', false],
    ['foofoobar.com', true], ['baz.com', true], ['localhost.net', true], ['barbarbaz.net', true],
    ['wildcard.io', true], ['nested.wildcard.io', false], ['awildcard.io', true],
  ];
  for (const [host, proxied] of cases) assert.equal(via(env, `http://${host}:80/`) !== undefined, proxied, `${host}:80`);
  // Port-qualified names match that port only; names compare case-insensitively.
  assert.equal(via(env, 'http://registry.example:5000/'), undefined);
  assert.equal(via(env, 'http://registry.example:5001/'), 'http://proxy:3128/');
  // The default port of the scheme counts: 192.168.1.3:80 matches http://192.168.1.3/.
  assert.equal(via(env, 'http://192.168.1.3/'), undefined);
  // * turns the proxy off; a malformed entry is skipped; lower case no_proxy is read too.
  assert.equal(via({ HTTP_PROXY: 'proxy:3128', NO_PROXY: '*' }, 'http://anything.example/'), undefined);
  assert.equal(via({ HTTP_PROXY: 'proxy:3128', NO_PROXY: ':1' }, 'http://example.com/'), 'http://proxy:3128/');
  assert.equal(via({ HTTP_PROXY: 'proxy:3128', no_proxy: 'example.com' }, 'http://example.com/'), undefined);
  assert.equal(via({ HTTP_PROXY: 'proxy:3128', NO_PROXY: 'ample.com' }, 'http://example.com/'), 'http://proxy:3128/', 'not a bare suffix');
});

test('a proxy value that is not a usable URL is an error naming the variable, its password hidden, for the requests it would carry', () => {
  const cfg = proxyConfigFromEnv({ HTTPS_PROXY: 'ftp://user:secret@host:21', NO_PROXY: 'internal.example' });
  assert.throws(() => proxyFor(new URL('https://registry.example/v2/'), cfg), (e: unknown) => {
    assert.ok(TsbuildError.is(e));
    assert.equal(e.code, 'USAGE');
    assert.match(e.message, /^HTTPS_PROXY=ftp:\/\/user:REDACTED@host:21: unsupported proxy scheme ftp$/);
    assert.doesNotMatch(e.message, /secret/);
    assert.match(e.hint ?? '', /HTTPS_PROXY/);
    return true;
  });
  // Requests it would not carry are not stopped by it: loopback, NO_PROXY, plain HTTP.
  for (const u of ['https://127.0.0.1:5000/v2/', 'https://internal.example/v2/', 'http://registry.example/v2/']) assert.equal(proxyFor(new URL(u), cfg), undefined, u);
  assert.throws(() => via({ http_proxy: 'http://[bad' }, 'http://example.com/'), /http_proxy=http:\/\/\[bad: not a proxy URL/);
  // Go takes socks5 too; undici's SOCKS5 support is experimental, so it is refused rather than half-working.
  assert.throws(() => via({ HTTP_PROXY: 'socks5://127.0.0.1:1080' }, 'http://example.com/'), /HTTP_PROXY=socks5:\/\/127\.0\.0\.1:1080: unsupported proxy scheme socks5/);
});
