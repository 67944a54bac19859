/**
 * Every image command over the store, in help order (a parser with just these: test/layer-store). Apart from
 * store.ts so that tag, rmi, prune and du do not load images.ts and archive.ts (whose `import --change` needs the
 * builder's front end) when they start.
 */
import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../context.js';
import { importCommand, loadCommand, saveCommand } from './archive.js';
import { historyCommand, imagesCommand, inspectCommand } from './images.js';
import { duCommand, pruneCommand, rmiCommand, tagCommand } from './store.js';

export const storeCommands: readonly CommandModule<GlobalArgs, never>[] = [
  imagesCommand, inspectCommand, historyCommand, tagCommand, rmiCommand, pruneCommand, duCommand, saveCommand, loadCommand, importCommand,
] as unknown as readonly CommandModule<GlobalArgs, never>[];
