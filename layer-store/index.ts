/** layer-store: the OCI-layout store under --root, layers, archives, copy. Re-exports the shared kernel. */
export * from './core/index.js';
