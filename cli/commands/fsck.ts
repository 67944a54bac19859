/**
 * `tsbuild fsck [--repair] [--json]`: checks the store under --root (every blob re-hashed, every index.json
 * entry's closure, snapshots, leftovers of killed processes; see layer-store/store/fsck.ts) and prints one line
 * per finding, then a summary. Exit status: 0 when the store is consistent (leftovers alone are fine), 1 when a
 * problem remains. `--repair` fixes what it can and says what it did on each line.
 */
import type { CommandModule } from 'yargs';
import type { FsckFinding, FsckReport } from '../../layer-store/index.js';
import { loggerFor, type GlobalArgs } from '../context.js';
import { openStore } from '../services.js';

interface FsckArgs extends GlobalArgs { repair: boolean; json: boolean }

/** Returns the line printed for one finding: `<severity> <kind> <subject>: <detail>[ (repaired: <what>)]`. */
export function formatFinding(f: FsckFinding): string {
  return `${f.severity} ${f.kind} ${f.subject}: ${f.detail}${f.repaired !== undefined ? ` (repaired: ${f.repaired})` : ''}`;
}

/** Returns the summary line of a report. */
export function formatFsckSummary(r: FsckReport): string {
  const problems = r.findings.filter((f) => f.severity === 'problem');
  const open = problems.filter((f) => f.repaired === undefined).length;
  const repaired = r.findings.filter((f) => f.repaired !== undefined).length;
  const leftovers = r.findings.length - problems.length;
  const parts = [`${r.checked} blobs checked`, `${r.images} index entries`, `${r.snapshots} snapshots`];
  const state = r.consistent ? 'consistent' : `inconsistent: ${open} problem${open === 1 ? '' : 's'}`;
  const extra = [
    ...(leftovers > 0 ? [`${leftovers} leftover${leftovers === 1 ? '' : 's'} of killed processes`] : []),
    ...(repaired > 0 ? [`${repaired} repaired`] : []),
  ];
  return `fsck: ${parts.join(', ')}: ${state}${extra.length > 0 ? ` (${extra.join(', ')})` : ''}`;
}

export const fsckCommand: CommandModule<GlobalArgs, FsckArgs> = {
  command: 'fsck',
  describe: 'check the store (blob digests, image references, snapshots, leftovers); exit 1 when inconsistent',
  builder: (y) =>
    y
      .option('repair', { type: 'boolean', default: false, describe: 'delete corrupt blobs, drop images with missing blobs from index.json, remove leftovers of killed processes' })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' })
      .example('$0 fsck --repair', 'check, then fix what a crash left') as never,
  handler: async (argv) => {
    const store = await openStore(argv.root, loggerFor(argv));
    const r = await store.fsck({ repair: argv.repair, ...(argv.signal ? { signal: argv.signal } : {}) });
    if (argv.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    else process.stdout.write([...r.findings.map(formatFinding), formatFsckSummary(r)].join('\n') + '\n');
    if (!r.consistent) process.exitCode = 1;
  },
};
