import { TsbuildError, type TsbuildErrorOptions } from '../core/index.js';

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
    super('UNSAFE_LAYER_ENTRY', `unsafe layer entry ${JSON.stringify(entry.slice(0, 200))}: ${detail}`, {
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
      hint: tool === 'zstd' ? 'install zstd (apt-get install zstd)'
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
    super('IO', `${path} changed while packing: ${detail}`, {
      hint: 'do not modify the directory while a layer is being packed',
      ...o,
    });
    this.name = 'LayerSourceChangedError';
  }
}
