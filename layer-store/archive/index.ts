/** Archives (OCI archive, docker-archive) and rootfs import. */
export { saveImages, writeArchive, type ArchiveEntry, type SaveOptions, type WriteArchiveOptions } from './save.js';
export { writeLayoutDir } from './layout-dir.js';
export { loadArchive, loadArchiveStream, type LoadOptions, type LoadResult, type LoadedImage } from './load.js';
export { importRootfs, importRootfsStream, type ImportOptions, type ImportResult } from './import.js';
export { ingestTar, type IngestedLayer, type IngestOptions } from './ingest.js';
export { ArchivePathError } from './paths.js';
export { ociLayoutSource, type OciLayoutRef } from './oci-layout.js';
export { ociLayoutDestination, layoutBlobs, type OciLayoutDestinationOptions } from './oci-layout.js';
export { ociArchiveSource, ociArchiveDestination, dockerArchiveSource, dockerArchiveDestination, type ArchiveRef } from './archive-transports.js';
export { writeOciLayoutTar, writeDockerArchiveTar, type BlobReader, type DockerArchiveItem } from './save.js';
export { tarChecked, type TarCheck } from './tar-check.js';
