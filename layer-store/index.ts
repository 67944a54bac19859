/** layer-store: the OCI-layout store under --root, layers, archives, copy. Re-exports the shared kernel. */
export * from './core/index.js';
export * from './image/index.js';
export * from './store/index.js';
export * from './archive/index.js';
export { copyImage, mapLimit, type CopyOptions } from './copy.js';
export * from './layer/index.js';
