/** The `tsbuild` executable's entry (bundled into dist/bin/tsbuild.mjs): runs the command line of this process. */
import { main } from './main.js';

void main();
