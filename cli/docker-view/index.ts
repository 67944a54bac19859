/**
 * What docker shows of images, computed from the OCI documents: `image inspect`'s object, the rows and default
 * tables of `images` and `history`, docker's human sizes and durations, and `import --change`. Pure.
 */
export * from './view.js';
export { applyChanges, CHANGE_INSTRUCTIONS } from './changes.js';
