/**
 * runtime-exec: run one process in a container over an overlay of given lower dirs, and leave nothing behind.
 *
 * Network modes (for the README): `none` gives the step a new network namespace with only loopback;
 * `host` shares the host's network; `default` is the same as `host`, because tsbuild has no CNI bridge and
 * BuildKit on such a daemon (`docker build --network host`, or buildctl's OCI worker) runs RUN with the host
 * network too.
 *
 * Hardening of every step (`security: 'sandbox'`, the default): Docker's default capabilities and seccomp profile
 * (seccomp.ts), masked /proc paths, no_new_privs; and nothing outlives a killed tsbuild (supervisor.ts).
 *
 * Receives directories, never store objects. Imports only layer-store/core.
 */
export type { BindMount, ExtraHost, Limits, Mount, NetworkMode, RunIO, RunSpec, RunUser, Runtime, SignalSource, TmpfsMount, Ulimit } from './types.js';
export { ULIMIT_NAMES, checkCgroupParent, checkExtraHost, checkShmSize, checkUlimit, parseUlimit } from './run-settings.js';
export { RunFailedError, RuntimeMissingError, ContainerStartError, UserNotFoundError, BinfmtMissingError } from './errors.js';
export { findRuntime, findInit, INIT_PATH, type FindRuntimeOptions } from './find.js';
export { RuncRuntime, OWNER_ANNOTATION, type RuncOptions } from './runc.js';
export { defaultBundleParent } from './bundle-dir.js';
export { SUPERVISOR_NAME } from './supervisor.js';
export { resolveSeccomp, loadDefaultSeccompProfile, hostSeccompArch, kernelAtLeast, type LinuxSeccomp, type SeccompProfile, type SeccompTarget } from './seccomp.js';
export { ChrootRuntime, type ChrootOptions } from './chroot.js';
export { ChrootIsolationRuntime, CHROOT_ETC_FILES, CHROOT_SUPERVISOR_NAME, type ChrootIsolationOptions } from './chroot-isolation.js';
export { parseIsolation, type Isolation } from './isolation.js';
export { resolveUser } from './user.js';
export { checkBinfmt, isNativePlatform } from './binfmt.js';
export { ociConfig, stepCapabilities, DEFAULT_CAPABILITIES, ALL_CAPABILITIES, type OciConfigOptions } from './spec.js';
export { hostsText, resolvText, DEFAULT_HOSTNAME } from './etc-files.js';
export { mountOverlay, unmount } from './overlay.js';
export { ShellRunner, HELPER_SHELL_NAME, shQuote } from './commands.js';
export { directRunner } from './exec.js';
export { normalizeCapability, tweakCapabilities } from './capabilities.js';
