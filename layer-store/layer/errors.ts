import { quoteName, showName, TsbuildError, type TsbuildErrorOptions } from '../core/index.js';

/** Why an entry of a layer was refused by applyLayer. */
export type UnsafeReason =
  | 'absolute-path'
  | 'dot-dot'
  | 'symlink-escape'
  | 'hardlink-escape'
  | 'hardlink-target'
  | 'device'
  | 'bad-name'
  | 'whiteout';

/** A layer entry that would write outside the target, or that this process may not create. */
export class UnsafeLayerEntryError extends TsbuildError {
  readonly entry: string;
  readonly reason: UnsafeReason;
  constructor(entry: string, reason: UnsafeReason, detail: string, o: TsbuildErrorOptions = {}) {
    super('UNSAFE_LAYER_ENTRY', `unsafe layer entry ${quoteName(entry.slice(0, 200))}: ${detail}`, {
      hint: 'the layer is hostile or corrupt; nothing was written outside the target directory. Do not use this image',
      ...o,
    });
    this.name = 'UnsafeLayerEntryError';
    this.entry = entry;
    this.reason = reason;
  }
}

/** A layer that is not a well-formed (optionally compressed) tar: truncated, corrupt, or over the size limit. */
export class InvalidLayerError extends TsbuildError {
  constructor(detail: string, o: TsbuildErrorOptions = {}) {
    super('INVALID_LAYER', `invalid layer: ${detail}`, {
      hint: 'the layer archive is truncated or corrupt; fetch it again or rebuild it',
      ...o,
    });
    this.name = 'InvalidLayerError';
  }
}

/** A helper program the layer code runs (getfattr/setfattr from `attr`, `zstd`, `mknod`) is missing or failed. */
export class LayerToolError extends TsbuildError {
  constructor(readonly tool: string, detail: string, o: TsbuildErrorOptions = {}) {
    super('IO', `${tool}: ${detail}`, {
      hint: tool === 'zstd' || tool === 'bzip2' ? `install ${tool} (apt-get install ${tool})`
        : tool === 'xz' ? 'install xz (apt-get install xz-utils)'
        : tool === 'mknod' ? 'device nodes need coreutils mknod and root'
        : 'install the attr package (apt-get install attr) for getfattr/setfattr',
      ...o,
    });
    this.name = 'LayerToolError';
  }
}

/** A file changed size or type while it was being packed. */
export class LayerSourceChangedError extends TsbuildError {
  constructor(readonly path: string, detail: string, o: TsbuildErrorOptions = {}) {
    super('IO', `${showName(path)} changed while packing: ${detail}`, {
      hint: 'do not modify the directory while a layer is being packed',
      ...o,
    });
    this.name = 'LayerSourceChangedError';
  }
}

/**
 * Rootless: an entry is owned by a uid or gid that this user namespace does not map (chown fails with EINVAL),
 * because the user's subordinate ranges are too small for the image (Podman: "potentially insufficient UIDs or
 * GIDs available in user namespace"). The fix adds a range that covers it.
 */
export class UnmappedIdError extends TsbuildError {
  constructor(entry: string, o: { uid: number; gid: number; kind: 'uid' | 'gid'; id: number; mapped: number; user: string; range: string }) {
    super('IO', `cannot apply layer entry ${quoteName(entry.slice(0, 200))} (owner ${o.uid}:${o.gid}): ${o.kind} ${o.id} is outside the ${o.mapped} ${o.kind}s (0-${o.mapped - 1}) this rootless user namespace maps`, {
      hint: `the subordinate ids of ${o.user} are too few for this image; as root: usermod --add-subuids ${o.range} --add-subgids ${o.range} ${o.user}, then run the command again`,
    });
    this.name = 'UnmappedIdError';
  }
}

/** Filesystem errors that say "this machine cannot take it" rather than "this layer is malformed". */
const ENVIRONMENT_ERRNOS = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EACCES', 'EPERM', 'EMFILE', 'ENFILE', 'ENOMEM', 'EBUSY', 'ETXTBSY']);

/** The target filesystem refused an entry for a reason of its own (full, read-only, no permission). */
export class LayerWriteError extends TsbuildError {
  readonly entry: string;
  readonly errno: string;
  constructor(entry: string, errno: string, detail: string, o: TsbuildErrorOptions = {}) {
    super('IO', `cannot apply layer entry ${quoteName(entry.slice(0, 200))}: ${detail}`, {
      hint: errno === 'ENOSPC' || errno === 'EDQUOT' ? 'free disk space (tsbuild prune) and retry'
        : 'check that the store directory is writable by this user and on a healthy filesystem',
      ...o,
    });
    this.name = 'LayerWriteError';
    this.entry = entry;
    this.errno = errno;
  }
}

/**
 * Returns the TsbuildError for a system error raised while applying `entry`: a LayerWriteError for
 * environment errnos (ENOSPC, EACCES, …), else InvalidLayerError (the entry cannot exist on a Linux
 * filesystem as written: a name over 255 bytes, a path over PATH_MAX, a file where a directory must be…).
 * Anything else (TsbuildErrors, stream errors, programming errors) is returned unchanged.
 */
export function layerEntryError(e: unknown, entry: string): unknown {
  if (TsbuildError.is(e)) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  // only filesystem errors (they carry the path); a stream error from the source is not the entry's fault
  if (typeof code !== 'string' || !/^E[A-Z0-9]+$/.test(code) || typeof (e as NodeJS.ErrnoException).path !== 'string') return e;
  const detail = `${code} (${(e as Error).message.split(',')[0] ?? code})`;
  if (ENVIRONMENT_ERRNOS.has(code)) return new LayerWriteError(entry, code, detail, { cause: e });
  const why = code === 'ENAMETOOLONG' ? 'a name component over 255 bytes or a path over 4096 bytes' : detail;
  return new InvalidLayerError(`entry ${quoteName(entry.slice(0, 200))} cannot be created: ${why}`, { cause: e });
}
