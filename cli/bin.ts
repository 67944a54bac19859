/** The `tsbuild` executable's entry (bundled into dist/bin/main.cjs, which dist/bin/tsbuild.cjs runs): runs the command line of this process. */
import { main } from './main.js';

// No V8 flag is set here: see cli/heap.ts (incremental marking goes off once a command moves big data).
void main();
