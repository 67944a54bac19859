/** The `tsbuild` executable's entry (bundled into dist/bin/main.cjs, which dist/bin/tsbuild.cjs runs): runs the command line of this process. */
import { incrementalMarkingOff } from '../layer-store/core/index.js';
import { main } from './main.js';

// No incremental marking: packing or pulling a big layer churns through GBs of Buffers, and with this process's
// code loaded V8 kept starting incremental marking on its allocation limit: ~95 full GCs in a W3 build (a RUN
// writing 512 MiB), 1.2 CPU s; without it, 2-3, and a lower peak RSS (layer-store/README.md, rebuild speed). Set
// here, at run time, not as a node flag: a V8 flag on the command line costs Node's start-up snapshot (~15 ms).
// Not for pull and push: they turn it off only while a big blob moves (layer-store/core/gc-mode.ts), since a
// flag changed here makes every Node module loaded later compile without Node's code cache (a small pull: 60 ms
// of CPU more).
const BULK_SCOPED = new Set(['pull', 'push']);
if (!BULK_SCOPED.has(commandWord(process.argv.slice(2)) ?? '')) incrementalMarkingOff();

void main();

/** The first word after the global options --root/--progress VALUE and --debug (as cli/chunk-loader.ts cacheKey). */
function commandWord(argv: readonly string[]): string | undefined {
  let i = 0;
  for (;;) {
    const a = argv[i];
    if (a === '--root' || a === '--progress') i += 2;
    else if (a !== undefined && /^--(root=|progress=|debug$)/.test(a)) i += 1;
    else return a;
  }
}
