/**
 * Build entitlements, as BuildKit's (`docker buildx build --allow …`): privileges a Dockerfile may ask for only
 * when the person running the build grants them.
 * - `security.insecure`: `RUN --security=insecure` runs with every capability and no seccomp filter.
 * - `network.host`: `RUN --network=host`. Accepted for buildx compatibility; tsbuild does not require it,
 *   because its default network already is the host's (runtime-exec NetworkMode).
 */
import type { InstructionLocation, StageGraph } from '../frontend/index.js';
import { BuildError } from '../plan/index.js';

export type Entitlement = 'security.insecure' | 'network.host';

/** Every entitlement `--allow` accepts. */
export const ENTITLEMENTS: readonly Entitlement[] = ['security.insecure', 'network.host'];

/** Returns the error for a `RUN --security=insecure` at `location` that the build was not allowed. */
export function insecureNotAllowed(location: InstructionLocation): BuildError {
  return new BuildError('RUN --security=insecure: entitlement security.insecure is not allowed', {
    location: { file: location.file, line: location.line },
    hint: 'pass --allow security.insecure to tsbuild build if you trust this Dockerfile, or remove --security=insecure',
  });
}

/**
 * Throws BuildError (with the Dockerfile location) for the first instruction of the stages to build that needs
 * an entitlement not in `allow`; checked before any step runs. ONBUILD triggers of base images are checked when
 * they run (builder run step).
 */
export function checkEntitlements(graph: StageGraph, allow: readonly Entitlement[]): void {
  if (allow.includes('security.insecure')) return;
  for (const rs of graph.order) {
    for (const ins of rs.stage.commands) {
      if (ins.kind === 'run' && ins.security === 'insecure') throw insecureNotAllowed(ins.location);
    }
  }
}
