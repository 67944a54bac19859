// parseGitRef against BuildKit's own cases (frontend/dockerfile/dfgitutil/git_ref_test.go TestParseGitRef): which
// strings are git references, their remote, short name, ref and subdir, and the query-form errors. Differences
// by design: a query `subdir=/x` is cleaned to `x` (BuildKit keeps `/x` and cleans it later), and the bare
// `github.com/…` form is a git reference only for build contexts (`bareGithub`), where it is fetched over https.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isGitRef, parseGitRef, type GitRef } from '../../builder/index.js';

type Want = Partial<GitRef> | null | { err: string };

const CASES: [string, Want][] = [
  ['https://example.com/', null],
  ['https://example.com/foo', null],
  ['https://example.com/foo.git', { remote: 'https://example.com/foo.git', shortName: 'foo' }],
  ['https://example.com/foo.git#deadbeef', { remote: 'https://example.com/foo.git', shortName: 'foo', ref: 'deadbeef' }],
  ['https://example.com/foo.git#release/1.2', { remote: 'https://example.com/foo.git', shortName: 'foo', ref: 'release/1.2' }],
  ['https://example.com/foo.git/', null],
  ['https://example.com/foo.git.bar', null],
  ['git://example.com/foo', { remote: 'git://example.com/foo', shortName: 'foo', scheme: 'git' }],
  ['github.com/moby/buildkit', { remote: 'https://github.com/moby/buildkit', shortName: 'buildkit' }],
  ['github.com/moby/buildkit#master', { remote: 'https://github.com/moby/buildkit', shortName: 'buildkit', ref: 'master' }],
  ['custom.xyz/moby/buildkit.git', null],
  ['https://github.com/moby/buildkit', null],
  ['https://github.com/moby/buildkit.git', { remote: 'https://github.com/moby/buildkit.git', shortName: 'buildkit' }],
  ['https://foo:bar@github.com/moby/buildkit.git', { remote: 'https://foo:bar@github.com/moby/buildkit.git', shortName: 'buildkit' }],
  ['git@github.com:moby/buildkit', { remote: 'git@github.com:moby/buildkit', shortName: 'buildkit', scheme: 'ssh' }],
  ['git@github.com:moby/buildkit.git', { remote: 'git@github.com:moby/buildkit.git', shortName: 'buildkit' }],
  ['git@bitbucket.org:atlassianlabs/atlassian-docker.git', { remote: 'git@bitbucket.org:atlassianlabs/atlassian-docker.git', shortName: 'atlassian-docker' }],
  ['https://github.com/foo/bar.git#baz/qux:quux/quuz', { remote: 'https://github.com/foo/bar.git', shortName: 'bar', ref: 'baz/qux', subdir: 'quux/quuz' }],
  ['http://github.com/docker/docker.git:#branch', null],
  ['https://github.com/docker/docker.git#:myfolder', { remote: 'https://github.com/docker/docker.git', shortName: 'docker', subdir: 'myfolder' }],
  ['./.git', null],
  ['.git', null],
  ['https://github.com/docker/docker.git?ref=v1.0.0&subdir=/subdir', { remote: 'https://github.com/docker/docker.git', ref: 'v1.0.0', subdir: 'subdir' }],
  ['https://github.com/moby/buildkit.git?subdir=/subdir#v1.0.0', { remote: 'https://github.com/moby/buildkit.git', ref: 'v1.0.0', subdir: 'subdir' }],
  ['https://github.com/moby/buildkit.git?tag=v1.0.0', { ref: 'refs/tags/v1.0.0' }],
  ['github.com/moby/buildkit?tag=v1.0.0', { remote: 'https://github.com/moby/buildkit', ref: 'refs/tags/v1.0.0' }],
  ['https://github.com/moby/buildkit.git?branch=v1.0', { ref: 'refs/heads/v1.0' }],
  ['https://github.com/moby/buildkit.git?ref=v1.0.0#v1.2.3', { err: 'ref conflicts' }],
  ['https://github.com/moby/buildkit.git?ref=v1.0.0&tag=v1.2.3', { err: 'ref conflicts' }],
  ['https://github.com/moby/buildkit.git?tag=v1.0.0&branch=v1.0', { err: 'branch conflicts with tag' }],
  ['git@github.com:moby/buildkit.git?subdir=/subdir#v1.0.0', { remote: 'git@github.com:moby/buildkit.git', ref: 'v1.0.0', subdir: 'subdir' }],
  ['https://github.com/moby/buildkit.git?mtime=checkout', { remote: 'https://github.com/moby/buildkit.git' }],
  ['https://github.com/moby/buildkit.git?mtime=invalid', { err: 'invalid mtime value' }],
  ['https://github.com/moby/buildkit.git?fetch-by-commit=true&checksum=deadbeef#refs/heads/branch', { ref: 'refs/heads/branch', checksum: 'deadbeef', fetchByCommit: true }],
  ['https://github.com/moby/buildkit.git?fetch-by-commit&checksum=deadbeef', { checksum: 'deadbeef', fetchByCommit: true }],
  ['https://github.com/moby/buildkit.git?fetch-by-commit=false', { remote: 'https://github.com/moby/buildkit.git' }],
  ['https://github.com/moby/buildkit.git?fetch-by-commit=invalid', { err: 'invalid fetch-by-commit value' }],
  ['https://github.com/moby/buildkit.git?invalid=123', { err: 'unexpected query "invalid"' }],
  // Beyond BuildKit's table: keep-git-dir and submodules flags, ssh:// with a port, other schemes.
  ['https://h/r.git?keep-git-dir&submodules=false', { keepGitDir: true, submodules: false }],
  ['ssh://git@host:2222/srv/app.git#v2:sub/dir/', { remote: 'ssh://git@host:2222/srv/app.git', scheme: 'ssh', ref: 'v2', subdir: 'sub/dir' }],
  ['ftp://host/repo.git', null],
  ['https://h/r.git?ref=a&ref=b', { err: 'has multiple values' }],
  ['https://h/r.git?ref=', { err: 'has no value' }],
];

test('parseGitRef reads every case of BuildKit\'s TestParseGitRef', () => {
  for (const [ref, want] of CASES) {
    if (want !== null && 'err' in want) {
      assert.throws(() => parseGitRef(ref, { bareGithub: true }), (e: Error) => e.message.includes(want.err), ref);
      assert.equal(isGitRef(ref, { bareGithub: true }), true, `${ref} is git (with a bad query)`);
      continue;
    }
    const got = parseGitRef(ref, { bareGithub: true });
    if (want === null) {
      assert.equal(got, undefined, ref);
      continue;
    }
    assert.ok(got, ref);
    for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k as keyof GitRef], v, `${ref}: ${k}`);
    if (!('subdir' in want)) assert.equal(got.subdir, undefined, `${ref}: no subdir`);
  }
});

test('ADD and COPY sources do not take the bare github.com/… form (a local path there)', () => {
  assert.equal(parseGitRef('github.com/moby/buildkit'), undefined);
  assert.ok(parseGitRef('https://github.com/moby/buildkit.git'));
});
