import type { CommandModule } from 'yargs';
import { buildCommand } from './build.js';
import { fsckCommand } from './fsck.js';
import { parseCommand } from './parse.js';
import { runCommand } from './run.js';
import { storeCommands } from './store.js';
import { registryCommands } from './registry.js';
import { pullCommand, pushCommand } from './transfer.js';
import { transportCopyCommand } from './copy.js';
import { craneCommands } from './crane.js';
import { signCommands } from './sign.js';

type AnyCommand = CommandModule<never, never>;

/** Every command, in help order: an explicit list, no side-effect registration. */
export const commands: readonly AnyCommand[] = [buildCommand as unknown as AnyCommand, parseCommand as unknown as AnyCommand, runCommand as unknown as AnyCommand, ...(storeCommands as unknown as AnyCommand[]),
  pullCommand as unknown as AnyCommand, pushCommand as unknown as AnyCommand, transportCopyCommand as unknown as AnyCommand,
  ...(craneCommands as unknown as AnyCommand[]),
  ...(registryCommands as unknown as AnyCommand[]), fsckCommand as unknown as AnyCommand,
  ...(signCommands as unknown as AnyCommand[])];
