/**
 * The bundle's `main.cjs` (scripts/bundle.mjs): exports the executable's main without running it. The chunk loader
 * (cli/chunk-loader.ts runBundle) calls it; a startup snapshot (cli/snapshot-entry.ts) loads it when it is made
 * and calls it when a command starts from the snapshot. (`dist/cli/bin.js`, unbundled, runs main itself.)
 */
export { main } from './main.js';
