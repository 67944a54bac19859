/**
 * Docker's documented .dockerignore examples (docs.docker.com/build/concepts/context/#dockerignore-files),
 * each applied to a real temporary directory that is walked for real.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ContextMatcher, parseDockerignore, walkContext } from '../../builder/context/index.js';

async function mktree(t: { after(fn: () => Promise<void>): void }, files: readonly string[]): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  for (const f of files) {
    if (f.endsWith('/')) await mkdir(join(root, f), { recursive: true });
    else {
      await mkdir(dirname(join(root, f)), { recursive: true });
      await writeFile(join(root, f), f);
    }
  }
  return root;
}

async function walked(root: string, ignore: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of walkContext(root, new ContextMatcher(parseDockerignore(ignore)))) out.push(e.relPath);
  return out;
}

const TREE = [
  'Dockerfile',
  'README.md',
  'README-secret.md',
  'README-public.md',
  'CHANGELOG.md',
  'docs/guide.md',
  'somedir/temporary.txt',
  'somedir/temp/x',
  'somedir/keep.txt',
  'somedir/subdir/temporary.txt',
  'somedir/subdir/other.txt',
  'tempa',
  'tempb',
  'tempab',
  'temp',
  'src/main.go',
  'src/pkg/util.go',
  'src/pkg/util_test.txt',
];

interface Case {
  readonly name: string;
  readonly ignore: string;
  readonly excluded: readonly string[];
}

const CASES: readonly Case[] = [
  {
    name: 'comment line is ignored',
    ignore: '# comment\n',
    excluded: [],
  },
  {
    name: '*/temp* excludes names starting with temp one level down (file and dir)',
    ignore: '*/temp*\n',
    excluded: ['somedir/temp', 'somedir/temp/x', 'somedir/temporary.txt'],
  },
  {
    name: '*/*/temp* excludes names starting with temp two levels down',
    ignore: '*/*/temp*\n',
    excluded: ['somedir/subdir/temporary.txt'],
  },
  {
    name: 'temp? excludes one-character extensions of temp in the root only',
    ignore: 'temp?\n',
    excluded: ['tempa', 'tempb'],
  },
  {
    name: 'the docs example file as a whole',
    ignore: '# comment\n*/temp*\n*/*/temp*\ntemp?\n',
    excluded: ['somedir/subdir/temporary.txt', 'somedir/temp', 'somedir/temp/x', 'somedir/temporary.txt', 'tempa', 'tempb'],
  },
  {
    name: '**/*.go excludes .go files anywhere',
    ignore: '**/*.go\n',
    excluded: ['src/main.go', 'src/pkg/util.go'],
  },
  {
    name: '*.md with !README*.md: README files stay',
    ignore: '*.md\n!README*.md\n',
    excluded: ['CHANGELOG.md'],
  },
  {
    name: '*.md, !README*.md, README-secret.md: the later line wins for README-secret.md',
    ignore: '*.md\n!README*.md\nREADME-secret.md\n',
    excluded: ['CHANGELOG.md', 'README-secret.md'],
  },
  {
    name: '*.md, README-secret.md, !README*.md: the exception re-includes README-secret.md',
    ignore: '*.md\nREADME-secret.md\n!README*.md\n',
    excluded: ['CHANGELOG.md'],
  },
  {
    name: 'leading / and ./ and .. are cleaned like filepath.Clean (relative to the context root)',
    ignore: '/tempa\n./tempb\nsomedir/../temp\n',
    excluded: ['temp', 'tempa', 'tempb'],
  },
  {
    name: 'a trailing slash names the directory (cleaned away)',
    ignore: 'somedir/subdir/\n',
    excluded: ['somedir/subdir', 'somedir/subdir/other.txt', 'somedir/subdir/temporary.txt'],
  },
  {
    name: 'patterns are not recursive without **: *.md matches only in the root',
    ignore: '*.md\n',
    excluded: ['CHANGELOG.md', 'README-public.md', 'README-secret.md', 'README.md'],
  },
  {
    name: 'the pattern . is ignored',
    ignore: '.\n',
    excluded: [],
  },
  {
    name: 'leading whitespace is trimmed, but "#" is a comment only in column 1',
    ignore: '   tempa   \n #tempb\n',
    excluded: ['tempa'],
  },
];

for (const c of CASES) {
  test(`dockerignore docs: ${c.name}`, async (t) => {
    const root = await mktree(t, TREE);
    const all = await walked(root, '');
    const kept = await walked(root, c.ignore);
    const excluded = all.filter((p) => !kept.includes(p)).sort();
    assert.deepEqual(excluded, [...c.excluded].sort());
    assert.deepEqual(kept, all.filter((p) => kept.includes(p)), 'walk order is stable');
  });
}
