/** Image model helpers: parse/validate/build OCI and Docker v2s2 manifests, indexes and configs. */
export * from './model.js';
