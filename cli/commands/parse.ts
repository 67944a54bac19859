import type { CommandModule } from 'yargs';
import { dumpAst } from '../../builder/index.js';
import { parseDockerfile, parseDockerfileFile, astToJson } from '../api.js';
import type { GlobalArgs } from '../context.js';

interface ParseArgs extends GlobalArgs { file: string; json: boolean }

/** `tsbuild parse [-f FILE] [--json]`: prints the parse tree (BuildKit dump, or JSON). */
export const parseCommand: CommandModule<GlobalArgs, ParseArgs> = {
  command: 'parse',
  describe: 'parse a Dockerfile and print its instructions (BuildKit dump format, or --json)',
  builder: (y) =>
    y
      .option('file', { alias: 'f', type: 'string', default: 'Dockerfile', describe: 'the Dockerfile to parse ("-" for stdin)' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON array of instructions' })
      .example('$0 parse -f Dockerfile --json', 'the instructions as JSON, with their lines') as never,
  handler: async (argv) => {
    const ast = argv.file === '-' ? await parseStdin() : await parseDockerfileFile(argv.file);
    process.stdout.write(argv.json ? JSON.stringify(astToJson(ast), null, 2) + '\n' : dumpAst(ast));
  },
};

async function parseStdin() {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return parseDockerfile(Buffer.concat(chunks), { file: '<stdin>' });
}
