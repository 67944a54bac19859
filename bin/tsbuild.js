#!/usr/bin/env node
// The `tsbuild` executable: runs the compiled CLI (npm run build writes dist/).
import '../dist/cli/main.js';
