import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

/**
 * Returns a print of everything below `dir` as the kernel has it (names as bytes, type, mode, owner, size,
 * mtime in ns, and the content or link target), one line per entry in name order: two prints are equal only
 * when nothing was created, changed or deleted. Used to prove that a build left a host directory untouched.
 */
export function treePrint(dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: Buffer, rel: string): void => {
    for (const name of (readdirSync(abs, { encoding: 'buffer' }) as Buffer[]).sort(Buffer.compare)) {
      const p = Buffer.concat([abs, Buffer.from('/'), name]);
      const r = rel ? `${rel}/${name.toString('hex')}` : name.toString('hex');
      const st = lstatSync(p, { bigint: true });
      let content = '';
      if (st.isFile()) content = createHash('sha256').update(readFileSync(p)).digest('hex');
      else if (st.isSymbolicLink()) content = (readlinkSync(p, { encoding: 'buffer' }) as Buffer).toString('hex');
      out.push(`${r} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.size} ${st.mtimeNs} ${content}`);
      if (st.isDirectory()) walk(p, r);
    }
  };
  const st = lstatSync(dir, { bigint: true });
  out.push(`. ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.mtimeNs}`);
  walk(Buffer.from(join(dir)), '');
  return out;
}
