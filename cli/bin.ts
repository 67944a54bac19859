/** The `tsbuild` executable's entry (bundled into dist/bin/main.cjs, which dist/bin/tsbuild.cjs runs): runs the command line of this process. */
import { main } from './main.js';

void main();
