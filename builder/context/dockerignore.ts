/**
 * .dockerignore with Docker's exact semantics (moby/patternmatcher + ignorefile.ReadAll, as used by
 * BuildKit's context transfer). Written here instead of using @balena/dockerignore because that port
 * (v1.0.2, modelled on moby 19.03) deviates from current Docker in ways that change results:
 *  - it matches case-insensitively by default (Docker is case-sensitive on Linux);
 *  - it escapes only `.` and `$`, so `+ ( ) | { }` in a file name act as regexp operators
 *    (`a+b.txt` does not match the file `a+b.txt` but matches `aab.txt`, and `c++` throws a SyntaxError;
 *    moby escapes `.+()|{}$`);
 *  - it lacks moby's literal-suffix rule for a leading `**` (`**foo` matches `barfoo` in Docker);
 *  - it checks only one parent prefix for non-`**` patterns (moby checks every ancestor).
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ContextError } from './errors.js';

/** Go's path.Clean for '/'-separated paths: drops `.` and empty elements, resolves `..` lexically. */
export function goClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const s = out.join('/');
  if (rooted) return '/' + s;
  return s === '' ? '.' : s;
}

/**
 * Returns the patterns of a .dockerignore text exactly as Docker reads them (ignorefile.ReadAll):
 * a UTF-8 BOM is dropped, lines starting with `#` (in column 1) are comments, whitespace is trimmed,
 * blank lines are skipped, each pattern is Clean'ed with a leading `/` removed, and `!` is kept.
 */
export function parseDockerignore(text: string): string[] {
  const out: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (i === 0 && line.startsWith('\uFEFF')) line = line.slice(1);
    if (line.startsWith('#')) continue;
    let p = line.trim();
    if (p === '') continue;
    const invert = p.startsWith('!');
    if (invert) p = p.slice(1).trim();
    if (p.length > 0) {
      p = goClean(p);
      if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
    }
    out.push(invert ? '!' + p : p);
  }
  return out;
}

type MatchType = 'exact' | 'prefix' | 'suffix' | 'regexp';

interface CompiledPattern {
  readonly source: string;
  readonly cleaned: string;
  readonly exclusion: boolean;
  readonly type: MatchType;
  readonly re: RegExp | undefined;
}

const SHOULD_ESCAPE = new Set(['.', '+', '(', ')', '|', '{', '}', '$']);
const KNOWN_ESCAPES = new Set(['d', 'D', 'w', 'W', 's', 'S', 'b', 'B']);

function compilePattern(source: string, cleaned: string, exclusion: boolean): CompiledPattern {
  let re = '^';
  let type: MatchType = 'exact';
  let inClass = false;
  const ch = [...cleaned];
  for (let i = 0, iter = 0; i < ch.length; i++, iter++) {
    const c = ch[i]!;
    if (c === '*') {
      if (ch[i + 1] === '*') {
        i++;
        if (ch[i + 1] === '/') i++;
        if (i + 1 >= ch.length) {
          if (type === 'exact') type = 'prefix';
          else {
            re += '.*';
            type = 'regexp';
          }
        } else {
          re += '(.*/)?';
          type = 'regexp';
        }
        if (iter === 0) type = 'suffix';
      } else {
        re += '[^/]*';
        type = 'regexp';
      }
    } else if (c === '?') {
      re += '[^/]';
      type = 'regexp';
    } else if (SHOULD_ESCAPE.has(c)) {
      re += '\\' + c;
    } else if (c === '\\') {
      const n = ch[i + 1];
      if (n !== undefined) {
        i++;
        // Go regexp semantics of `\x`: the class escapes keep their meaning, anything else is literal.
        re += KNOWN_ESCAPES.has(n) ? '\\' + n : /[A-Za-z0-9]/.test(n) ? n : '\\' + n;
        type = 'regexp';
      } else {
        re += '\\\\';
      }
    } else if (c === '[' || c === ']') {
      // Passed through as a regexp class, as moby does; a `]` that closes nothing is a literal in Go's regexp.
      if (c === '[') inClass = true;
      re += c === ']' && !inClass ? '\\]' : c;
      if (c === ']') inClass = false;
      type = 'regexp';
    } else {
      re += c;
    }
  }
  let compiled: RegExp | undefined;
  if (type === 'regexp') {
    try {
      compiled = new RegExp(re + '$', 'u');
    } catch (e) {
      throw new ContextError(`invalid .dockerignore pattern ${JSON.stringify(source)}`, {
        hint: 'patterns follow Go filepath.Match plus **; check brackets and backslash escapes',
        cause: e,
      });
    }
  }
  return { source, cleaned, exclusion, type, re: compiled };
}

function matchOne(p: CompiledPattern, path: string): boolean {
  switch (p.type) {
    case 'exact':
      return path === p.cleaned;
    case 'prefix':
      return path.startsWith(p.cleaned.slice(0, -2));
    case 'suffix': {
      const suffix = p.cleaned.slice(2);
      if (path.endsWith(suffix)) return true;
      return suffix.startsWith('/') && path === suffix.slice(1);
    }
    case 'regexp':
      return p.re!.test(path);
  }
}

const WILDCARD = /[*?[\\]/;
const NEEDS_CLEAN = /^$|^\/|\/$|\/\/|(^|\/)\.\.?(\/|$)/;

/**
 * Decides which context paths .dockerignore excludes (moby patternmatcher MatchesOrParentMatches):
 * patterns are applied in order, a pattern matches a path when it matches the path or any of its
 * ancestors, and the last matching pattern wins (`!` patterns re-include). Paths are '/'-separated
 * and relative to the context root. Case-sensitive.
 */
export class ContextMatcher {
  /** A matcher that excludes nothing. */
  static readonly none = new ContextMatcher([]);

  readonly patterns: readonly string[];
  /** True when some pattern is a `!` exception. */
  readonly hasExceptions: boolean;
  readonly #compiled: readonly CompiledPattern[];
  readonly #exceptionPrefixes: readonly string[] | undefined;

  /** Compiles `patterns` (as returned by parseDockerignore); throws ContextError for `!` alone or a malformed pattern. */
  constructor(patterns: readonly string[]) {
    const compiled: CompiledPattern[] = [];
    for (const raw of patterns) {
      let p = raw.trim();
      if (p === '') continue;
      p = goClean(p);
      let exclusion = false;
      if (p.startsWith('!')) {
        if (p.length === 1) {
          throw new ContextError('illegal exclusion pattern: "!"', { hint: 'write the path to re-include after the !, e.g. !README.md' });
        }
        exclusion = true;
        p = p.slice(1);
      }
      compiled.push(compilePattern(raw, p, exclusion));
    }
    this.patterns = [...patterns];
    this.#compiled = compiled;
    const exceptions = compiled.filter((c) => c.exclusion);
    this.hasExceptions = exceptions.length > 0;
    // As BuildKit's walker: when every exception is a literal path, a dir need only be entered if an exception lies under it.
    this.#exceptionPrefixes = exceptions.every((c) => !WILDCARD.test(c.cleaned)) ? exceptions.map((c) => c.cleaned + '/') : undefined;
  }

  /** True when .dockerignore excludes `relPath` ('/'-separated, relative to the context root). The root itself is never excluded. */
  isExcluded(relPath: string): boolean {
    const file = NEEDS_CLEAN.test(relPath) ? goClean(relPath) : relPath;
    if (file === '.' || this.#compiled.length === 0) return false;
    const slash = file.lastIndexOf('/');
    const parent = slash < 0 ? '.' : file.slice(0, slash);
    let matched = false;
    for (const p of this.#compiled) {
      if (p.exclusion !== matched) continue;
      let m = matchOne(p, file);
      if (!m && parent !== '.') {
        const dirs = parent.split('/');
        for (let i = 1; i <= dirs.length && !m; i++) m = matchOne(p, dirs.slice(0, i).join('/'));
      }
      if (m) matched = !p.exclusion;
    }
    return matched;
  }

  /** Returns the pattern (as written) that decides `relPath`'s exclusion, or undefined when it is not excluded. */
  excludingPattern(relPath: string): string | undefined {
    const file = goClean(relPath);
    if (file === '.') return undefined;
    const slash = file.lastIndexOf('/');
    const parent = slash < 0 ? '.' : file.slice(0, slash);
    let matched: CompiledPattern | undefined;
    for (const p of this.#compiled) {
      if (p.exclusion !== (matched !== undefined)) continue;
      let m = matchOne(p, file);
      if (!m && parent !== '.') {
        const dirs = parent.split('/');
        for (let i = 1; i <= dirs.length && !m; i++) m = matchOne(p, dirs.slice(0, i).join('/'));
      }
      if (m) matched = p.exclusion ? undefined : p;
    }
    return matched?.source;
  }

  /** True when an excluded directory must still be walked because a `!` exception could re-include something beneath it. */
  mayReincludeUnder(dirRel: string): boolean {
    if (!this.hasExceptions) return false;
    if (this.#exceptionPrefixes === undefined) return true;
    const d = goClean(dirRel) + '/';
    return this.#exceptionPrefixes.some((p) => p.startsWith(d));
  }
}

/** The .dockerignore that applies to a build, and what it excludes that Docker still sends to the builder. */
export interface DockerignoreInfo {
  /** Absolute path of the file read, or undefined when there is none. */
  readonly file: string | undefined;
  readonly patterns: readonly string[];
  readonly matcher: ContextMatcher;
  /** True when the patterns exclude the Dockerfile itself (still used for the build; COPY cannot copy it): warn the user. */
  readonly excludesDockerfile: boolean;
  /** True when the patterns exclude the .dockerignore file itself (normal; COPY cannot copy it). */
  readonly excludesDockerignore: boolean;
}

/**
 * Returns the .dockerignore for a build. BuildKit's rule: when the Dockerfile's directory holds
 * `<Dockerfile base name>.dockerignore` (e.g. `docker/app.Dockerfile.dockerignore`), that file wins;
 * otherwise `<context>/.dockerignore`; otherwise nothing is excluded. `dockerfilePath` is resolved
 * against the current directory when relative.
 */
export async function loadDockerignore(contextDir: string, dockerfilePath?: string): Promise<DockerignoreInfo> {
  const ctx = resolve(contextDir);
  const candidates: string[] = [];
  const df = dockerfilePath === undefined ? undefined : resolve(dockerfilePath);
  if (df !== undefined) candidates.push(join(dirname(df), basename(df) + '.dockerignore'));
  candidates.push(join(ctx, '.dockerignore'));
  for (const file of candidates) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8'); // small, usually missing: synchronous (an async read is four thread-pool round trips)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw new ContextError(`cannot read ${file}`, { hint: 'check that the file is readable', cause: e });
    }
    const patterns = parseDockerignore(text);
    const matcher = new ContextMatcher(patterns);
    const inCtx = (abs: string): string | undefined => {
      const rel = relative(ctx, abs);
      return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? undefined : rel.split(sep).join('/');
    };
    const dfRel = inCtx(df ?? join(ctx, 'Dockerfile'));
    const diRel = inCtx(file);
    return {
      file,
      patterns,
      matcher,
      excludesDockerfile: dfRel !== undefined && matcher.isExcluded(dfRel),
      excludesDockerignore: diRel !== undefined && matcher.isExcluded(diRel),
    };
  }
  return { file: undefined, patterns: [], matcher: ContextMatcher.none, excludesDockerfile: false, excludesDockerignore: false };
}
