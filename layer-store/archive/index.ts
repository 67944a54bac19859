/** Archives (OCI archive, docker-archive) and rootfs import. */
export { saveImages, type SaveOptions } from './save.js';
export { loadArchive, loadArchiveStream, type LoadOptions, type LoadResult, type LoadedImage } from './load.js';
export { importRootfs, importRootfsStream, type ImportOptions, type ImportResult } from './import.js';
export { ingestTar, type IngestedLayer, type IngestOptions } from './ingest.js';
export { ArchivePathError } from './paths.js';
export { ociLayoutSource, type OciLayoutRef } from './oci-layout.js';
