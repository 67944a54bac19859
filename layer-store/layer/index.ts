/**
 * layer-store/layer: deterministic layers (pack, overlay diff) and hostile-safe apply.
 * The internal surface the store and layer-store/index.ts re-export.
 */
export { packLayer, diffToLayer, diffToLayerDeferred } from './pack.js';
export { readXattrTree, readXattrsOf, type XattrTable } from './xattr.js';
export { normaliseFuseOverlayUpper } from './fuse-upper.js';
export type { PackOptions, PackedLayer, LayerSink, DeferredLayer } from './pack.js';
export { SegmentedGzipEncoder, gzipHeader, GZIP_HEADER_SIZE } from './gzip-segments.js';
export type { SegmentIndex, SegmentEntry, SegmentReuse, SegmentedGzipOptions, SegmentedGzipResult } from './gzip-segments.js';
export { SegmentSpeculator, chainReuse } from './speculative-segments.js';
export type { SpeculationOptions, Speculated } from './speculative-segments.js';
export { applyLayer } from './apply.js';
export type { ApplyOptions, ApplyResult } from './apply.js';
export {
  layerMediaType, sniffCompression, detectCompression, decompressor, decompressed, compressor,
  DEFAULT_GZIP_LEVEL, DEFAULT_ZSTD_LEVEL, DEFAULT_MAX_UNCOMPRESSED, COMPRESSION_MAGIC_BYTES,
} from './compression.js';
export type { Compression, StreamCompression } from './compression.js';
export { UnsafeLayerEntryError, InvalidLayerError, LayerToolError, LayerSourceChangedError, LayerWriteError, UnmappedIdError } from './errors.js';
export type { UnsafeReason } from './errors.js';
export { encodeHeader, isTarHeader, padding, END_OF_ARCHIVE } from './tar-format.js';
export { TarReader } from './tar-reader.js';
export type { TarHeader, TarEntryType } from './tar-format.js';
export { readdirEntries, readdirNames, readdirNamesSync, readlinkName, readlinkNameSync } from './fs-names.js';
export { recordTree, diffIntoUpper } from './walk-diff.js';
export type { TreeState, TreeEntry, WalkOptions, WalkDiffResult } from './walk-diff.js';
export { materialiseRootfs } from './plain-rootfs.js';
export type { MaterialiseOptions, MaterialiseResult } from './plain-rootfs.js';
// The pack's stages one by one, for bench/pack-stages.ts (each timed beside its physical limit).
export { walk as walkPackTree, tarBytes as packTarBytes } from './pack-tar.js';
export { encodeSegment, encodeSegmentRuns, segmentRuns, verifyEncoded } from './deflate-runs.js';
export type { EncodedRun, EncodedSegment } from './deflate-runs.js';
export { RACY_MARGIN_MS } from './segment-files.js';
