#!/usr/bin/env node
// The `tsbuild` executable: runs the bundled CLI (`npm run build` writes dist/bin/tsbuild.mjs, which runs tsbuild.cjs).
import '../dist/bin/tsbuild.mjs';
