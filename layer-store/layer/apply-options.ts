/** What applyLayer (apply.ts) takes and returns. */
import type { Digest, EventSink } from '../core/index.js';

export interface ApplyOptions {
  /**
   * 'apply' (default): OCI whiteouts delete from `target` (`.wh.x` removes x, `.wh..wh..opq` removes the
   * directory's existing children not written by this layer), for a flattened rootfs.
   * 'overlay': whiteouts become overlayfs whiteouts (a 0/0 character device, `trusted.overlay.opaque=y`, or `user.overlay.opaque=y` in a user namespace, where device nodes other than whiteouts are left out),
   * so the result can be used directly as an overlay lowerdir (snapshots keyed by diffID). Needs root.
   */
  readonly whiteouts?: 'apply' | 'overlay' | undefined;
  /** Create character/block devices. Default: true when running as root, else entries are rejected. */
  readonly allowDevices?: boolean | undefined;
  /** lchown entries to their uid/gid. Default: true when running as root. */
  readonly chown?: boolean | undefined;
  /** With chown: own every entry by this uid/gid instead of its own (ADD --chown of a local archive, as moby's ChownOpts). */
  readonly owner?: { readonly uid: number; readonly gid: number } | undefined;
  /**
   * 'apply' (default): a root entry (`./`) gives `target` its owner, mode and times. 'skip': it is ignored, as
   * moby's archive.Unpack does (ADD's archive extraction: the destination directory keeps its own metadata).
   */
  readonly rootEntry?: 'apply' | 'skip' | undefined;
  /** How the archive may end (TarReader's `end`): 'lenient' (default) or 'go', as Go's archive/tar (ADD's extraction). */
  readonly end?: 'lenient' | 'go' | undefined;
  /** Set xattrs from the layer (needs setfattr from `attr`). Default true. */
  readonly xattrs?: boolean | undefined;
  /** Abort with InvalidLayerError when the uncompressed tar exceeds this many bytes. Default 64 GiB. */
  readonly maxUncompressedBytes?: number | undefined;
  /** When given, the computed diffID must equal it, else DigestMismatchError (after applying). */
  readonly expectDiffId?: Digest | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly events?: EventSink | undefined;
  readonly id?: string | undefined;
}

export interface ApplyResult {
  /** sha256 of the uncompressed tar, computed while applying. */
  readonly diffId: Digest;
  readonly uncompressedSize: number;
  readonly entries: number;
}
