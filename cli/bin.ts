/** The `tsbuild` executable's entry (bundled into dist/bin/main.cjs, which dist/bin/tsbuild.cjs runs): runs the command line of this process. */
import { setFlagsFromString } from 'node:v8';
import { main } from './main.js';

// No incremental marking: packing or pulling a big layer churns through GBs of Buffers, and with this process's
// code loaded V8 kept starting incremental marking on its allocation limit: ~95 full GCs in a W3 build (a RUN
// writing 512 MiB), 1.2 CPU s; without it, 2-3, and a lower peak RSS (layer-store/README.md, rebuild speed). Set
// here, at run time, not as a node flag: a V8 flag on the command line costs Node's start-up snapshot (~15 ms).
setFlagsFromString('--no-incremental-marking');

void main();
