/**
 * layer-store/core: the shared kernel (model, digests, errors, events, logging). Imports only node: builtins.
 */
export * from './errors.js';
export * from './digest.js';
export * from './model.js';
export * from './events.js';
export * from './log.js';
export * from './platform.js';
export * from './document.js';
export * from './fs.js';
export * from './file-names.js';
export * from './attestation.js';
export * from './userns.js';
export * from './exec.js';
