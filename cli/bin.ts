/** The `tsbuild` executable's entry (bundled into dist/bin/main.cjs, which dist/bin/tsbuild.cjs runs): runs the command line of this process. */
import { main } from './main.js';

// No V8 flag is set here: the chunk loader sets its one before any code is compiled (cli/chunk-loader.ts).
void main();
