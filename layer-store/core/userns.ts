/**
 * Whether this process runs in a user namespace (rootless mode, cli/rootless.ts), and the names that change with
 * it: overlayfs's xattr prefix and runc's state root. Read once from /proc/self/uid_map; the answer cannot change
 * while the process lives.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The uid map of the initial user namespace: every uid maps to itself. */
const INITIAL_UID_MAP = /^\s*0\s+0\s+4294967295\s*$/;

let cached: boolean | undefined;

/** Returns true when this process is in a user namespace other than the initial one (a missing map counts as not). */
export function inUserNamespace(): boolean {
  if (cached === undefined) {
    try {
      cached = !INITIAL_UID_MAP.test(readFileSync('/proc/self/uid_map', 'utf8'));
    } catch {
      cached = false;
    }
  }
  return cached;
}

/**
 * Returns overlayfs's xattr prefix here: `user.overlay.` in a user namespace (the mount has the `userxattr`
 * option, since `trusted.*` needs CAP_SYS_ADMIN in the initial namespace), else `trusted.overlay.`.
 */
export function overlayXattrPrefix(): 'user.overlay.' | 'trusted.overlay.' {
  return inUserNamespace() ? 'user.overlay.' : 'trusted.overlay.';
}

/**
 * Returns runc's default state root (what `runc` without `--root` uses), by runc's own rule: /run/runc, except
 * `$XDG_RUNTIME_DIR/runc` for a user, which in a user namespace means $USER set and not root.
 */
export function runcStateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_RUNTIME_DIR'];
  const user = env['USER'];
  const honour = process.geteuid?.() !== 0 || (inUserNamespace() && user !== undefined && user !== '' && user !== 'root');
  return xdg && honour ? join(xdg, 'runc') : '/run/runc';
}
