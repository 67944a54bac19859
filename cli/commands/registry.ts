import { createInterface } from 'node:readline';
import type { Argv, CommandModule } from 'yargs';
import { TsbuildError, isIndexType } from '../../layer-store/index.js';
import {
  Credential, RegistryClient, formatReference, parseReference, removeDockerCredential, saveDockerCredential, staticKeychain,
  type Reference,
} from '../../registry-client/index.js';
import { type GlobalArgs } from '../context.js';
import { createManifestList, pushManifestList, removeManifestList } from '../manifest-list.js';
import { compileTemplate, goMapsDeep } from '../go-template/index.js';
import { client, registryFlags, type RegistryFlags } from '../registry-flags.js';

export {
  DEFAULT_CONCURRENT_DOWNLOADS, DEFAULT_CONCURRENT_UPLOADS, client, concurrencyFlag, configuredInsecureRegistries, registryFlags,
  type RegistryFlags, type TransferFlags,
} from '../registry-flags.js';
import { withTemplate } from './images.js';

/** Returns the registry name for a login argument: `https://index.docker.io/v1/` → docker.io, scheme and path stripped. */
export function normaliseRegistryArg(s: string | undefined): string {
  if (!s) return 'docker.io';
  let h = s.trim().replace(/^[a-z]+:\/\//i, '');
  const slash = h.indexOf('/');
  if (slash >= 0) h = h.slice(0, slash);
  h = h.toLowerCase();
  if (!h || /\s/.test(h)) throw new TsbuildError('USAGE', `invalid registry ${JSON.stringify(s)}`, { hint: 'write a host[:port], e.g. ghcr.io or localhost:5000' });
  return h === 'index.docker.io' || h === 'registry-1.docker.io' ? 'docker.io' : h;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function prompt(question: string, hidden: boolean): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (hidden) {
    const w = (rl as unknown as { _writeToOutput?: (s: string) => void });
    w._writeToOutput = (s: string) => { if (s.includes(question)) process.stderr.write(s); };
  }
  try {
    return await new Promise<string>((res) => rl.question(question, res));
  } finally {
    rl.close();
    if (hidden) process.stderr.write('\n');
  }
}

interface LoginArgs extends RegistryFlags { registry: string | undefined; username: string | undefined; password: string | undefined; 'password-stdin': boolean }

/** `tsbuild login [-u USER] [--password-stdin] [REGISTRY]`: checks the credentials, then saves them in config.json. */
export const loginCommand: CommandModule<GlobalArgs, LoginArgs> = {
  command: 'login [registry]',
  describe: 'log in to a registry (checked against it, then saved in Docker\'s config.json, mode 0600)',
  builder: (y) => registryFlags(y)
    .positional('registry', { type: 'string', describe: 'registry host[:port] (default: docker.io)' })
    .option('username', { alias: 'u', type: 'string', describe: 'user name' })
    .option('password', { alias: 'p', type: 'string', describe: 'password (insecure: it shows in the process list and shell history; use --password-stdin)' })
    .option('password-stdin', { type: 'boolean', default: false, describe: 'read the password from stdin' })
    .example('echo "$TOKEN" | $0 login -u me --password-stdin ghcr.io', 'a token from a variable') as never,
  handler: async (argv) => {
    const registry = normaliseRegistryArg(argv.registry);
    // docker's verifyloginOptions: the warning first, then the conflicts.
    if (argv.password !== undefined) {
      process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
      if (argv['password-stdin']) throw new TsbuildError('USAGE', '--password and --password-stdin are mutually exclusive', { hint: 'pipe the password in with --password-stdin and drop -p' });
    }
    if (argv['password-stdin'] && !argv.username) throw new TsbuildError('USAGE', 'Must provide --username with --password-stdin', { hint: 'pass -u USER' });
    const interactive = process.stdin.isTTY === true;
    const username = argv.username ?? (interactive ? await prompt('Username: ', false) : undefined);
    if (!username) throw new TsbuildError('USAGE', 'no user name given', { hint: 'pass -u USER' });
    let password: string;
    if (argv.password !== undefined) password = argv.password;
    else if (argv['password-stdin']) password = await readStdin();
    else if (interactive) password = await prompt('Password: ', true);
    else throw new TsbuildError('USAGE', 'no password given', { hint: 'pipe it in with --password-stdin' });
    if (!password) throw new TsbuildError('USAGE', 'empty password', { hint: 'pipe the password in with --password-stdin' });
    const c = client(argv, staticKeychain({ [registry]: new Credential({ source: 'login', username, password }) }));
    try {
      await c.checkLogin(registry);
    } finally {
      await c.close();
    }
    const file = await saveDockerCredential(registry, username, password);
    process.stdout.write(`Login Succeeded (credentials saved in ${file})\n`);
  },
};

interface LogoutArgs extends GlobalArgs { registry: string | undefined }

/** `tsbuild logout [REGISTRY]`: removes the registry's entry from config.json `auths`. */
export const logoutCommand: CommandModule<GlobalArgs, LogoutArgs> = {
  command: 'logout [registry]',
  describe: 'remove saved credentials for a registry from Docker\'s config.json',
  builder: (y) => y.positional('registry', { type: 'string', describe: 'registry host[:port] (default: docker.io)' })
    .example('$0 logout ghcr.io', 'forget the saved credentials') as never,
  handler: async (argv) => {
    const registry = normaliseRegistryArg(argv.registry);
    const removed = await removeDockerCredential(registry);
    process.stdout.write(removed ? `Removed login credentials for ${registry}\n` : `Not logged in to ${registry}\n`);
  },
};

interface TagsArgs extends RegistryFlags { repo: string; n: number | undefined }

/** `tsbuild tags REPO`: prints the repository's tags, sorted, one per line. */
export const tagsCommand: CommandModule<GlobalArgs, TagsArgs> = {
  command: 'tags <repo>',
  describe: 'list the tags of a repository (follows the registry\'s pagination)',
  builder: (y) => registryFlags(y)
    .positional('repo', { type: 'string', demandOption: true, describe: 'repository, e.g. alpine or localhost:5000/team/app' })
    .option('n', { type: 'number', describe: 'page size to ask the registry for' })
    .example('$0 tags localhost:5000/team/app', 'one tag per line, sorted') as never,
  handler: async (argv) => {
    const ref = parseReference(argv.repo);
    const c = client(argv);
    try {
      const tags = await c.listTags(ref, argv.n ? { pageSize: argv.n } : {});
      process.stdout.write(tags.map((t) => t + '\n').join(''));
    } finally {
      await c.close();
    }
  },
};

interface InspectArgs extends RegistryFlags { ref: string; raw: boolean; format?: string }

/** `tsbuild manifest inspect REF`: prints the manifest or index (verified) as JSON. */
export const manifestInspectCommand: CommandModule<GlobalArgs, InspectArgs> = {
  command: 'inspect <ref>',
  describe: 'print the manifest or index a reference names (digest-verified)',
  builder: (y) => registryFlags(y)
    .positional('ref', { type: 'string', demandOption: true, describe: 'image reference' })
    .option('raw', { type: 'boolean', default: false, describe: 'print the bytes exactly as the registry sent them' })
    .option('format', { alias: 'f', type: 'string', describe: 'Go template run on the output object (ref, digest, mediaType, size, kind, manifest), or on the manifest itself with --raw' })
    .example('$0 manifest inspect --format "{{.digest}}" localhost:5000/app:1', 'the digest a tag points at')
    .example('$0 manifest inspect --raw --format "{{range .manifests}}{{.platform.architecture}} {{end}}" alpine', 'the platforms of an index') as never,
  handler: async (argv) => {
    const tmpl = argv.format !== undefined ? withTemplate(argv.format, () => compileTemplate(argv.format!)) : undefined;
    const ref = parseReference(argv.ref);
    const c = client(argv);
    try {
      const m = await c.source(ref).getManifest();
      const text = Buffer.from(m.bytes).toString('utf8');
      if (argv.raw && !tmpl) {
        process.stdout.write(text);
        return;
      }
      const body = JSON.parse(text) as object;
      const doc = argv.raw ? body : { ref: formatReference(ref), digest: m.digest, mediaType: m.mediaType, size: m.bytes.length, kind: isIndexType(m.mediaType) ? 'index' : 'manifest', manifest: body };
      // Decoded JSON is a Go map[string]interface{} to the template: a missing key is <no value>, keys print sorted.
      if (tmpl) process.stdout.write(withTemplate(argv.format!, () => tmpl.execute(goMapsDeep(doc))) + '\n');
      else process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    } finally {
      await c.close();
    }
  },
};

/** `tsbuild manifest <command>`. */
interface CreateArgs extends RegistryFlags { list: string; refs: string[]; amend: boolean }
interface PushListArgs extends RegistryFlags { list: string; purge: boolean }
interface RmListArgs extends GlobalArgs { list: string }
interface DeleteArgs extends RegistryFlags { ref: string; force: boolean }

/** `tsbuild manifest create LIST REF…`: an index of images already in a registry (kept locally until pushed). */
export const manifestCreateCommand: CommandModule<GlobalArgs, CreateArgs> = {
  command: 'create <list> <refs..>',
  describe: 'create a manifest list from images already in a registry',
  builder: (y) => registryFlags(y
    .positional('list', { type: 'string', demandOption: true })
    .positional('refs', { type: 'string', array: true, demandOption: true })
    .option('amend', { type: 'boolean', default: false, describe: 'add to an existing local list' })
    .example('$0 manifest create localhost:5000/app:1 localhost:5000/app:1-amd64 localhost:5000/app:1-arm64', 'one list of two images')) as never,
  handler: async (argv) => {
    const reg = client(argv);
    try {
      const idx = await createManifestList(argv.root, reg, argv.list, argv.refs, { amend: argv.amend });
      process.stdout.write(`created ${argv.list} with ${idx.manifests.length} manifests\n`);
    } finally {
      await reg.close();
    }
  },
};

/** `tsbuild manifest push LIST`: copies children from other repositories, then PUTs the index. */
export const manifestPushCommand: CommandModule<GlobalArgs, PushListArgs> = {
  command: 'push <list>',
  describe: 'push a manifest list created with `manifest create`',
  builder: (y) => registryFlags(y
    .positional('list', { type: 'string', demandOption: true })
    .option('purge', { type: 'boolean', default: false, describe: 'remove the local list after pushing' })
    .example('$0 manifest push --purge localhost:5000/app:1', 'push the list, then forget it')) as never,
  handler: async (argv) => {
    const reg = client(argv);
    try {
      process.stdout.write(`${await pushManifestList(argv.root, reg, argv.list, { purge: argv.purge })}\n`);
    } finally {
      await reg.close();
    }
  },
};

/** `tsbuild manifest rm LIST`: forgets a local, unpushed list. */
export const manifestRmCommand: CommandModule<GlobalArgs, RmListArgs> = {
  command: 'rm <list>',
  describe: 'remove a local manifest list',
  builder: (y) => y.positional('list', { type: 'string', demandOption: true })
    .example('$0 manifest rm localhost:5000/app:1', 'forget an unpushed list') as never,
  handler: async (argv) => {
    if (!(await removeManifestList(argv.root, argv.list))) throw new TsbuildError('IMAGE_NOT_FOUND', `no manifest list ${argv.list}`, { location: { ref: argv.list }, hint: 'list names are as given to `manifest create`' });
  },
};

/**
 * `tsbuild manifest delete REF`: deletes a manifest from a registry (by digest, or the digest a tag points at).
 * Deleting a manifest removes every tag on it, so when other tags of the repository point at the same digest
 * they are named and `--force` is required.
 */
export const manifestDeleteCommand: CommandModule<GlobalArgs, DeleteArgs> = {
  command: 'delete <ref>',
  describe: 'delete a manifest from a registry that allows it (and with it every tag on that digest)',
  builder: (y) => registryFlags(y.positional('ref', { type: 'string', demandOption: true })
    .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'delete even when other tags point at the same manifest (they go too)' })
    .example('$0 manifest delete localhost:5000/app:old', 'delete a tag\'s manifest')) as never,
  handler: async (argv) => {
    const reg = client(argv);
    try {
      const ref = parseReference(argv.ref);
      const d = ref.digest ?? (await reg.headManifest(ref))?.digest;
      if (!d) throw new TsbuildError('IMAGE_NOT_FOUND', `${argv.ref} not found`, { location: { ref: argv.ref }, hint: 'check the name and tag' });
      const others = await otherTagsOn(reg, ref, d);
      if (others.length > 0 && !argv.force) {
        throw new TsbuildError('CONFLICT', `${d} is also tagged ${others.join(', ')}: deleting the manifest deletes those tags too`, {
          location: { ref: argv.ref },
          hint: 'pass --force to delete it with every tag on it, or push another image to the tags you keep first',
        });
      }
      await reg.deleteManifest({ ...ref, digest: d });
      process.stdout.write(`deleted ${argv.ref} (${d})${others.length > 0 ? `, and with it the tags ${others.join(', ')}` : ''}\n`);
    } finally {
      await reg.close();
    }
  },
};

/** Returns the repository's tags (other than `ref`'s own) that point at `digest`, sorted. */
async function otherTagsOn(reg: RegistryClient, ref: Reference, digest: string): Promise<string[]> {
  const tags = await reg.listTags({ registry: ref.registry, repository: ref.repository });
  const own = ref.digest ? undefined : ref.tag;
  const out: string[] = [];
  for (const t of tags) {
    if (t === own) continue;
    if ((await reg.headManifest({ registry: ref.registry, repository: ref.repository, tag: t }))?.digest === digest) out.push(t);
  }
  return out.sort();
}

export const manifestCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'manifest <command>',
  describe: 'inspect, create, push and delete manifests and manifest lists in a registry',
  builder: (y) => y
    .command(manifestInspectCommand as CommandModule<GlobalArgs, InspectArgs>)
    .command(manifestCreateCommand as CommandModule<GlobalArgs, CreateArgs>)
    .command(manifestPushCommand as CommandModule<GlobalArgs, PushListArgs>)
    .command(manifestRmCommand as CommandModule<GlobalArgs, RmListArgs>)
    .command(manifestDeleteCommand as CommandModule<GlobalArgs, DeleteArgs>)
    .example('$0 manifest inspect --raw localhost:5000/app:1', 'the manifest as the registry sent it')
    .demandCommand(1) as never,
  handler: () => undefined,
};

/** The registry commands, in help order. */
export const registryCommands: readonly CommandModule<never, never>[] = [
  loginCommand as CommandModule<never, never>,
  logoutCommand as CommandModule<never, never>,
  tagsCommand as CommandModule<never, never>,
  manifestCommand as CommandModule<never, never>,
];
