/**
 * Typed Dockerfile instructions (BuildKit's frontend/dockerfile/instructions): one parse tree node → one
 * validated, typed command with its flags parsed per instruction. No variable expansion happens here;
 * `expandInstruction` applies it later with the stage's env, for the fields BuildKit expands.
 */
export * from './types.js';
export { parseInstruction } from './parse.js';
export { EXPANDED_FIELDS, supportsExpansion, expandInstruction, type Expander } from './expand.js';
export { parseMount, parseMountSpec, interpretMount, parseCsvRecord, ramInBytes, type RunMount, type MountType, type MountSharing, type MountField, type ParsedMount } from './mount.js';
export { FLAGS_BY_INSTRUCTION, parseGoDuration } from './flags.js';
