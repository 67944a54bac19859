/**
 * The conformance suite's base image: the busybox rootfs helper's tree, with the accounts and directories of the
 * docker.io `busybox` image that BuildKit's tests run on (root, daemon, bin, …, nobody 65534; its groups; /home,
 * /usr, /var), written as a reproducible tar for makeBuildEnv to import as `busybox:latest`.
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
nogroup:x:65534:
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
