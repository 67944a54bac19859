/** Image model helpers: build and convert OCI and Docker v2s2 manifests, indexes and configs. */
export * from './model.js';
