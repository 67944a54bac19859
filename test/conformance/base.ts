/**
 * The conformance suite's base image: the busybox rootfs helper's tree, with the accounts and directories of the
 * docker.io `busybox` image that BuildKit's tests run on (root, daemon, bin, …, nobody 65534; its groups; /home,
 * /usr, /var), written as a reproducible tar for makeBuildEnv to import as `busybox:latest`. Debian's
 * busybox-static has no `adduser`/`addgroup` applets, which the upstream tests call, so two small shell scripts
 * stand in for the forms they use (`adduser -D [-u UID] [-G GROUP] NAME`, `addgroup [-g GID] NAME`,
 * `addgroup USER GROUP`), with busybox's numbering (first free id from 1000, a same-named group).
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';

const run = promisify(execFile);

const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
`;
const GROUP = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nobody:x:65534:
`;
/** `adduser -D [-H] [-S] [-u UID] [-G GROUP] [-h HOME] [-s SHELL] NAME`, as busybox numbers and writes it. */
const ADDUSER = `#!/bin/sh
set -e
uid=""; group=""; home=""; shell=/bin/sh; nohome=""
while [ $# -gt 1 ]; do
  case "$1" in
    -D|-S) shift ;;
    -H) nohome=1; shift ;;
    -u) uid=$2; shift 2 ;;
    -G) group=$2; shift 2 ;;
    -h) home=$2; shift 2 ;;
    -s) shell=$2; shift 2 ;;
    *) break ;;
  esac
done
name=$1
if grep -q "^$name:" /etc/passwd; then echo "adduser: user '$name' in use" >&2; exit 1; fi
nextid() { awk -F: -v min=1000 '$3 >= min && $3 < 60000 { if ($3 >= min) min = $3 + 1 } END { print min }' "$1"; }
[ -n "$uid" ] || uid=$(nextid /etc/passwd)
if [ -n "$group" ]; then
  gid=$(awk -F: -v g="$group" '$1 == g { print $3 }' /etc/group)
  [ -n "$gid" ] || { echo "adduser: unknown group $group" >&2; exit 1; }
else
  gid=$uid
  if awk -F: -v g="$gid" '$3 == g { f = 1 } END { exit !f }' /etc/group; then gid=$(nextid /etc/group); fi
  echo "$name:x:$gid:" >> /etc/group
fi
[ -n "$home" ] || home=/home/$name
echo "$name:x:$uid:$gid:Linux User,,,:$home:$shell" >> /etc/passwd
[ -f /etc/shadow ] && echo "$name:!:19000:0:99999:7:::" >> /etc/shadow
if [ -z "$nohome" ]; then mkdir -p "$home"; chown "$uid:$gid" "$home"; chmod 2755 "$home"; fi
`;
/** `addgroup [-S] [-g GID] NAME` or `addgroup USER GROUP` (adds USER to GROUP's member list). */
const ADDGROUP = `#!/bin/sh
set -e
gid=""
while [ $# -gt 1 ]; do
  case "$1" in
    -S) shift ;;
    -g) gid=$2; shift 2 ;;
    *) break ;;
  esac
done
if [ $# -eq 2 ]; then
  sed -i "/^$2:/ { s/:$/:$1/; t; s/$/,$1/ }" /etc/group
  exit 0
fi
[ -n "$gid" ] || gid=$(awk -F: -v min=1000 '$3 >= min && $3 < 60000 { if ($3 >= min) min = $3 + 1 } END { print min }' /etc/group)
echo "$1:x:$gid:" >> /etc/group
`;
const SHADOW = PASSWD.split('\n').filter(Boolean).map((l) => `${l.split(':')[0]}:*:10933:0:99999:7:::`).join('\n') + '\n';

/** Returns the base tar (`tar`) and a cleanup removing everything made here. */
export async function makeConformanceBase(): Promise<{ tar: string; cleanup(): Promise<void> }> {
  const r = await makeBusyboxRootfs();
  try {
    const dir = r.dir;
    writeFileSync(join(dir, 'etc/passwd'), PASSWD);
    writeFileSync(join(dir, 'etc/group'), GROUP);
    writeFileSync(join(dir, 'etc/shadow'), SHADOW);
    chmodSync(join(dir, 'etc/shadow'), 0o640);
    for (const [name, text] of [['adduser', ADDUSER], ['addgroup', ADDGROUP]] as const) {
      writeFileSync(join(dir, 'bin', name), text);
      chmodSync(join(dir, 'bin', name), 0o755);
    }
    for (const d of ['home', 'usr/sbin', 'var/spool/mail', 'var/www']) {
      mkdirSync(join(dir, d), { recursive: true });
      chmodSync(join(dir, d), 0o755);
    }
    const tar = join(dirname(dir), 'conformance-base.tar');
    await run('find', [dir, '-exec', 'touch', '-h', '-d', '@0', '{}', '+']);
    await run('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--format=posix',
      '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime', '-C', dir, '-cf', tar, '.']);
    return { tar, cleanup: () => r.cleanup() };
  } catch (e) {
    await r.cleanup();
    throw e;
  }
}
