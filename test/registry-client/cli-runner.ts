/** Runs the registry CLI commands in a child process (for cli tests): `node cli-runner.js login …`. */
import yargs from 'yargs';
import { formatError } from '../../layer-store/index.js';
import { registryCommands } from '../../cli/commands/registry.js';

let y = yargs(process.argv.slice(2))
  .option('root', { type: 'string', default: '/nonexistent', global: true })
  .option('debug', { type: 'boolean', default: false, global: true })
  .option('progress', { type: 'string', default: 'plain', global: true })
  .strict()
  .fail((msg, err) => { throw err ?? new Error(msg); });
for (const c of registryCommands) y = y.command(c as never);
try {
  await y.parseAsync();
} catch (e) {
  process.stderr.write(`error: ${formatError(e)}\n`);
  process.exitCode = 1;
}
