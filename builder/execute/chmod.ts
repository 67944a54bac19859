/**
 * COPY/ADD `--chmod`: the mode function BuildKit's copier applies to each copied entry (octal, or symbolic as
 * chmod(1) spells it), and the mode of the directories the copy creates.
 */
import { TsbuildError } from '../../layer-store/index.js';

/**
 * Returns the permission bits of the directories a COPY/ADD creates (the destination and its missing parents):
 * an octal `--chmod`'s permission bits, as fsutil's MkdirAll gets them (no setuid, setgid or sticky bit); 0755
 * for a symbolic one or none.
 */
export function createdDirMode(chmod: string | undefined): number {
  return chmod !== undefined && /^[0-7]+$/.test(chmod) ? parseInt(chmod, 8) & 0o777 : 0o755;
}

/**
 * Returns a chmod function for `--chmod` (octal like `755`, or symbolic like `u+x,g-w`), as BuildKit accepts.
 * Throws a DOCKERFILE-level TsbuildError for an invalid value.
 */
export function parseChmod(spec: string): (mode: number, isDir: boolean) => number {
  if (/^[0-7]+$/.test(spec)) {
    const m = parseInt(spec, 8);
    if (m > 0o7777) throw new TsbuildError('DOCKERFILE_BAD_FLAG', `invalid chmod parameter: '${spec}'. it should be octal string and between 0 and 07777`, { hint: 'use --chmod with an octal mode (e.g. 755) or a symbolic one (e.g. u+x,g-w)' });
    return () => m;
  }
  const clauses = spec.split(',');
  const ops: { who: number; op: string; perm: string }[] = [];
  for (const cl of clauses) {
    const m = /^([ugoa]*)([-+=])([rwxXst]*)$/.exec(cl);
    if (!m) throw new TsbuildError('DOCKERFILE_BAD_FLAG', `invalid chmod parameter: '${spec}'. it should be octal string and between 0 and 07777`, { hint: 'use --chmod with an octal mode (e.g. 755) or a symbolic one (e.g. u+x,g-w)' });
    const who = m[1] ?? '';
    let mask = 0;
    for (const w of who === '' || who.includes('a') ? 'ugo' : who) mask |= w === 'u' ? 0o4700 : w === 'g' ? 0o2070 : 0o1007;
    ops.push({ who: mask, op: m[2]!, perm: m[3] ?? '' });
  }
  return (mode, isDir) => {
    let cur = mode;
    for (const { who, op, perm } of ops) {
      let bits = 0;
      for (const p of perm) {
        if (p === 'r') bits |= 0o444;
        else if (p === 'w') bits |= 0o222;
        else if (p === 'x') bits |= 0o111;
        else if (p === 'X') { if (isDir || (cur & 0o111) !== 0) bits |= 0o111; }
        else if (p === 's') bits |= 0o6000;
        else if (p === 't') bits |= 0o1000;
      }
      bits &= who;
      if (op === '+') cur |= bits;
      else if (op === '-') cur &= ~bits;
      else cur = (cur & ~who) | bits;
    }
    return cur & 0o7777;
  };
}
