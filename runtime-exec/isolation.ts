import { TsbuildError } from '../layer-store/core/index.js';

/**
 * How RUN steps are isolated (`--isolation`, buildah's values where they mean something here): `oci` (the default)
 * runs them with runc in namespaces over an overlay mount; `chroot` runs them by chroot(2) alone in a plain copy
 * of the root filesystem, for containers where no namespace can be made and nothing mounted (chroot-isolation.ts).
 */
export type Isolation = 'oci' | 'chroot';

/** Returns the isolation `value` names; anything else (buildah's `rootless` included) is a USAGE error naming it. */
export function parseIsolation(value: string): Isolation {
  if (value === 'oci' || value === 'chroot') return value;
  throw new TsbuildError('USAGE', `--isolation ${JSON.stringify(value)} is not supported`, { hint: 'use --isolation oci (the default: runc) or --isolation chroot (locked-down containers: README "--isolation chroot")' });
}
