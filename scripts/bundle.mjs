// Bundles the CLI into dist/bin/tsbuild.mjs (the `tsbuild` executable loads it): one file instead of ~150
// modules halves start-up time, which a no-change rebuild is mostly made of. Registry code (undici) and the
// live terminal view (log-update) are split into chunks that load only when a command needs them.
import { build } from 'esbuild';

await build({
  entryPoints: { tsbuild: 'cli/main.ts' },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir: 'dist/bin',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  banner: { js: "import { createRequire as __tsbCreateRequire } from 'node:module'; const require = __tsbCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
