import type { CommandModule } from 'yargs';
import { buildCommand } from './build.js';
import { parseCommand } from './parse.js';
import { runCommand } from './run.js';
import { storeCommands } from './store.js';

type AnyCommand = CommandModule<never, never>;

/** Every command, in help order: an explicit list, no side-effect registration. */
export const commands: readonly AnyCommand[] = [buildCommand as unknown as AnyCommand, parseCommand as unknown as AnyCommand, runCommand as unknown as AnyCommand, ...(storeCommands as unknown as AnyCommand[])];
