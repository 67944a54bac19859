import { lstatSync, readFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { UserNotFoundError } from './errors.js';
import type { RunUser } from './types.js';

interface PasswdEntry { name: string; uid: number; gid: number }
interface GroupEntry { name: string; gid: number; members: string[] }

/**
 * Reads `rel` from the top-most dir that has it (top first); a whiteout (char dev 0/0) or `.wh.` hides it.
 * Synchronous: the file usually sits in the base layer, below every layer the stage added, so an async walk
 * made two thread-pool round trips (and a thrown ENOENT) per layer at every RUN (~100 on W5's deeper steps).
 */
function readTopMost(dirs: readonly string[], rel: string): string | undefined {
  const base = rel.split('/').pop() ?? rel;
  const parent = rel.slice(0, rel.length - base.length);
  for (const d of dirs) {
    const p = join(d, rel);
    const st = lstatOrUndefined(p);
    if (st !== undefined) {
      if (st.isCharacterDevice() && st.rdev === 0) return undefined; // overlay whiteout
      if (!st.isFile()) return undefined;
      try {
        return readFileSync(p, 'utf8');
      } catch {
        // unreadable: as if not in this dir
      }
    }
    // not in this dir; a tar-style whiteout hides the lower ones
    if (lstatOrUndefined(join(d, parent, `.wh.${base}`)) !== undefined) return undefined;
  }
  return undefined;
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p, { throwIfNoEntry: false });
  } catch {
    return undefined; // ENOTDIR, EACCES…: not there either
  }
}

function parsePasswd(text: string | undefined): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || line.startsWith('#')) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (Number.isInteger(uid) && Number.isInteger(gid) && f[0]) out.push({ name: f[0], uid, gid });
  }
  return out;
}

function parseGroup(text: string | undefined): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || line.startsWith('#')) continue;
    const gid = Number(f[2]);
    if (Number.isInteger(gid) && f[0]) out.push({ name: f[0], gid, members: (f[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean) });
  }
  return out;
}

const NUMERIC = /^[0-9]+$/;

/**
 * Returns the uid, primary gid and supplementary gids of `user` (`name`, `uid`, `name:group`, `uid:gid`, …),
 * resolved through the image's own etc/passwd and etc/group found in `rootfsDirs` (top first; the top-most
 * dir holding the file wins; whiteouts hide lower files), as Docker does: a numeric uid not in passwd gets
 * gid 0; supplementary groups come from etc/group memberships of the user's name, unless a group is given.
 * No user (`''`) is uid 0. The primary gid is not among `additionalGids` (the runtime adds it: withPrimaryGid).
 * Rejects with UserNotFoundError when a name does not exist.
 */
export async function resolveUser(rootfsDirs: readonly string[], user: string): Promise<Required<RunUser>> {
  // BuildKit (executor/oci GetUser): no user is uid 0, looked up like any other (supplementary groups included).
  const spec = user.trim() === '' ? '0' : user.trim();
  const colon = spec.indexOf(':');
  const u = colon < 0 ? spec : spec.slice(0, colon);
  const g = colon < 0 ? undefined : spec.slice(colon + 1);
  const passwd = parsePasswd(readTopMost(rootfsDirs, 'etc/passwd'));
  let entry: PasswdEntry | undefined;
  let uid: number;
  if (NUMERIC.test(u)) {
    uid = Number(u);
    entry = passwd.find((p) => p.uid === uid);
  } else {
    entry = passwd.find((p) => p.name === u);
    if (!entry) throw new UserNotFoundError(user, `unable to find user ${u}: no matching entries in passwd file`);
    uid = entry.uid;
  }
  let groups: GroupEntry[] | undefined;
  const loadGroups = async () => (groups ??= parseGroup(readTopMost(rootfsDirs, 'etc/group')));
  let gid: number;
  if (g !== undefined && g !== '') {
    if (NUMERIC.test(g)) gid = Number(g);
    else {
      const ge = (await loadGroups()).find((x) => x.name === g);
      if (!ge) throw new UserNotFoundError(user, `unable to find group ${g}: no matching entries in group file`);
      gid = ge.gid;
    }
    return { uid, gid, additionalGids: [] };
  }
  gid = entry?.gid ?? 0;
  const additionalGids: number[] = [];
  if (entry) {
    for (const ge of await loadGroups()) {
      if (ge.members.includes(entry.name) && ge.gid !== gid && !additionalGids.includes(ge.gid)) additionalGids.push(ge.gid);
    }
  }
  return { uid, gid, additionalGids };
}
