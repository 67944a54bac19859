/**
 * Go's path/filepath.Match for '/'-separated paths, compiled to a RegExp: `*` matches any run of
 * non-'/' characters, `?` one non-'/' character, `[...]` / `[^...]` a class (ranges `a-z`, `\` escapes),
 * `\x` the literal x. This is what Docker's COPY/ADD use for wildcard sources.
 */
import { ContextError } from './errors.js';

const esc = (c: string): string => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const escClass = (c: string): string => c.replace(/[\\\]\[^-]/g, '\\$&');

/** True when `s` holds a filepath.Match metacharacter (`*`, `?`, `[`, or `\`), as BuildKit's containsWildcards checks. */
export function hasWildcards(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '*' || c === '?' || c === '[') return true;
  }
  return false;
}

/** Returns a RegExp equivalent to filepath.Match(pattern, name); throws ContextError (ErrBadPattern) for a malformed class or trailing `\`. */
export function compileGoMatch(pattern: string): RegExp {
  let re = '^';
  const chars = [...pattern];
  const bad = (why: string): ContextError =>
    new ContextError(`bad wildcard pattern ${JSON.stringify(pattern)}: ${why}`, {
      hint: 'wildcards follow Go filepath.Match: *, ?, [abc], [^a-z]; escape a literal with \\',
    });
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') {
      re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '\\') {
      const n = chars[++i];
      if (n === undefined) throw bad('trailing backslash');
      re += esc(n);
    } else if (c === '[') {
      i++;
      let cls = '';
      if (chars[i] === '^') {
        cls += '^';
        i++;
      }
      let count = 0;
      for (;;) {
        let lo = chars[i];
        if (lo === undefined) throw bad('unterminated [');
        if (lo === ']' && count > 0) break;
        if (lo === '-' || lo === ']') throw bad(`unexpected ${lo} in class`);
        if (lo === '\\') {
          lo = chars[++i];
          if (lo === undefined) throw bad('unterminated [');
        }
        i++;
        if (chars[i] === '-') {
          let hi = chars[++i];
          if (hi === undefined) throw bad('unterminated [');
          if (hi === '\\') {
            hi = chars[++i];
            if (hi === undefined) throw bad('unterminated [');
          } else if (hi === ']' || hi === '-') throw bad('bad range');
          i++;
          if ((hi.codePointAt(0) ?? 0) < (lo.codePointAt(0) ?? 0)) throw bad('bad range');
          cls += `${escClass(lo)}-${escClass(hi)}`;
        } else {
          cls += escClass(lo);
        }
        count++;
      }
      re += `[${cls}]`;
    } else {
      re += esc(c);
    }
  }
  return new RegExp(re + '$', 'su');
}

/** Reports whether `name` matches the Go filepath.Match `pattern`. */
export function goMatch(pattern: string, name: string): boolean {
  return compileGoMatch(pattern).test(name);
}
