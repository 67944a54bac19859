/**
 * The parts of a RUN step's container that come from the build rather than the instruction: the shebang script
 * file (plan's runCommand) and the sandbox hostname (BUILDKIT_SANDBOX_HOSTNAME).
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TsbuildError } from '../../../layer-store/index.js';
import type { Mount } from '../../../runtime-exec/index.js';
import { SCRIPT_DIR, type RunScript } from '../../plan/index.js';
import type { BuildOptions } from '../options.js';
import type { Scratch } from '../workspace.js';

/** The build arg that sets RUN's hostname (BuildKit's dockerui `build-arg:BUILDKIT_SANDBOX_HOSTNAME`). */
export const HOSTNAME_ARG = 'BUILDKIT_SANDBOX_HOSTNAME';

/** A hostname the kernel takes (at most 64 bytes) and /etc/hosts can hold: letters, digits, `-`, `.`, `_`. */
const HOSTNAME_RE = /^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,62})$/;

/**
 * Returns RUN's hostname from the build arg BUILDKIT_SANDBOX_HOSTNAME, or undefined (the runtime's default) when
 * it is not given or empty. Throws a USAGE error for a value that cannot be a hostname.
 */
export function sandboxHostname(o: Pick<BuildOptions, 'buildArgs'>): string | undefined {
  const v = o.buildArgs?.[HOSTNAME_ARG];
  if (v === undefined || v === '') return undefined;
  if (!HOSTNAME_RE.test(v)) {
    throw new TsbuildError('USAGE', `--build-arg ${HOSTNAME_ARG}=${v}: not a valid hostname`, {
      hint: 'use at most 64 letters, digits, dots, dashes or underscores',
    });
  }
  return v;
}

/**
 * Writes `script` as `<scratch>/pipes/<name>` (mode 0755) and returns the read-only mount of that dir at
 * SCRIPT_DIR, as BuildKit mounts a shebang heredoc. The file goes when the scratch dir does.
 */
export async function runScriptMount(s: Scratch, script: RunScript): Promise<Mount> {
  const dir = join(s.dir, 'pipes');
  await mkdir(dir);
  await chmod(dir, 0o755);
  const file = join(dir, script.name);
  await writeFile(file, script.data);
  await chmod(file, 0o755); // whatever the umask: the step's user may not be root
  return { type: 'bind', source: dir, target: SCRIPT_DIR, readonly: true };
}
