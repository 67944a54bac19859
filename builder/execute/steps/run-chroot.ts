/**
 * What a RUN step cannot have under chroot isolation (runtime-exec chroot-isolation.ts), refused before it runs
 * with one line naming the mount or option and the isolation: every mount that needs mount(2) (cache, bind, tmpfs,
 * ssh: a socket cannot be copied in) and `--network none` (there is no network namespace: the step shares the
 * host's network). Secret mounts are not refused: the runtime copies the secret file in and removes it before
 * the layer is taken (as a variable, `env=`, it never touches the filesystem).
 */
import type { NetworkMode } from '../../../runtime-exec/index.js';
import type { RunInstruction, RunMount } from '../../frontend/index.js';
import { BuildError } from '../../plan/index.js';
import { loc } from '../context.js';

/** Throws a BuildError (with the RUN's location) for the first mount or network mode chroot isolation cannot honour. */
export function refuseUnderChroot(ins: RunInstruction, mounts: readonly RunMount[], network: NetworkMode): void {
  const at = { location: loc(ins.location) };
  for (const m of mounts) {
    if (m.type === 'secret') continue;
    const target = m.target ?? (m.type === 'ssh' ? '/run/buildkit/ssh_agent.N' : '');
    throw new BuildError(`RUN --mount=type=${m.type}${target ? `,target=${target}` : ''} cannot run under --isolation chroot: nothing can be mounted`, {
      ...at, hint: m.type === 'cache' || m.type === 'bind' ? 'use --isolation oci (runc), or COPY what the step needs in an earlier step' : 'use --isolation oci (runc)',
    });
  }
  if (network === 'none') {
    throw new BuildError(`${ins.network === 'none' ? 'RUN --network=none' : '--network none'} cannot be honoured under --isolation chroot: there is no network namespace, the step shares the host's network`, {
      ...at, hint: 'use --isolation oci (runc), or drop --network none',
    });
  }
}
