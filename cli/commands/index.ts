import type { CommandModule } from 'yargs';

type AnyCommand = CommandModule<never, never>;

/**
 * A command as the parser knows it before its module is loaded: the yargs command string(s), the one-line
 * description (what `tsbuild --help` lists) and how to load the module that implements it. main.ts imports
 * only the module of the command that runs (loading every command costs a third of a start); the others are
 * registered by name and description alone, which is all that top-level help and "did you mean" read.
 *
 * To add a command: write `commands/NAME.ts` exporting a yargs CommandModule, and add one entry here whose
 * `command` and `describe` are the module's own (test/cli/command-index-matches-the-modules.test.ts checks
 * every entry against its module).
 */
export interface CommandEntry {
  /** The module's `command` (a string, or several for a default command: `['build [context]', '$0 [context]']`). */
  readonly command: string | readonly string[];
  /** The module's `describe`. */
  readonly describe: string;
  /** Imports the implementing module and returns its CommandModule (a dynamic import: its own bundle chunk). */
  readonly load: () => Promise<AnyCommand>;
}

const as = (c: unknown): AnyCommand => c as AnyCommand;

/** Every command, in help order: an explicit list, no side-effect registration. */
export const commands: readonly CommandEntry[] = [
  { command: ['build [context]', '$0 [context]'], describe: 'build an image from a Dockerfile', load: async () => as((await import('./build.js')).buildCommand) },
  { command: 'parse', describe: 'parse a Dockerfile and print its instructions (BuildKit dump format, or --json)', load: async () => as((await import('./parse.js')).parseCommand) },
  { command: 'run <image> [command..]', describe: 'run a command in a new container from an image (the container is always removed)', load: async () => as((await import('./run.js')).runCommand) },
  { command: 'images [reference]', describe: 'list images in the store, newest first (docker images)', load: async () => as((await import('./images.js')).imagesCommand) },
  { command: 'inspect <refs..>', describe: 'print images as docker image inspect does (or their OCI documents with --oci)', load: async () => as((await import('./images.js')).inspectCommand) },
  { command: 'history <ref>', describe: 'show the history of an image, newest first (docker history)', load: async () => as((await import('./images.js')).historyCommand) },
  { command: 'tag <source> <target>', describe: 'give an image another name', load: async () => as((await import('./store.js')).tagCommand) },
  { command: 'rmi <refs..>', describe: 'remove image names (by ID: all its names); blobs are freed by `tsbuild prune`', load: async () => as((await import('./store.js')).rmiCommand) },
  { command: 'prune', describe: 'remove dangling images, unreferenced blobs and unused layer snapshots (with --cache: build cache too)', load: async () => as((await import('./store.js')).pruneCommand) },
  { command: 'du', describe: 'show disk usage of images, blobs, snapshots, build cache records, cache mounts and git checkouts', load: async () => as((await import('./store.js')).duCommand) },
  { command: 'save <refs..>', describe: 'write images to an OCI archive or a docker-archive (to -o FILE, else to stdout when it is not a terminal)', load: async () => as((await import('./archive.js')).saveCommand) },
  { command: 'load', describe: 'load images from an OCI archive or a docker-archive (from -i FILE, else from stdin)', load: async () => as((await import('./archive.js')).loadCommand) },
  { command: 'import <file> [name]', describe: 'make a one-layer image from a root filesystem tar: a file, an http(s) URL or - (stdin), as docker import', load: async () => as((await import('./archive.js')).importCommand) },
  { command: 'pull <ref>', describe: 'pull an image (or one platform of an index) from a registry into the store', load: async () => as((await import('./transfer.js')).pullCommand) },
  { command: 'push <name> [dest]', describe: 'push an image or index from the store to a registry (blobs first, the manifest last)', load: async () => as((await import('./transfer.js')).pushCommand) },
  { command: 'copy <src> <dst>', describe: 'copy an image between transports: docker://REF, oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REF], store:REF or a bare name', load: async () => as((await import('./copy.js')).transportCopyCommand) },
  { command: 'digest <ref>', describe: 'print the digest of an image or index (crane digest)', load: async () => as((await import('./crane.js')).digestCommand) },
  { command: 'config <ref>', describe: 'print the raw config blob of an image (crane config)', load: async () => as((await import('./crane.js')).configCommand) },
  { command: 'blob <ref>', describe: 'write a blob to stdout, verified (crane blob REF@DIGEST)', load: async () => as((await import('./crane.js')).blobCommand) },
  { command: 'catalog <registry>', describe: 'list the repositories of a registry (crane catalog)', load: async () => as((await import('./crane.js')).catalogCommand) },
  { command: 'export <ref> [file]', describe: 'write the flattened filesystem of an image as a tar (crane export; - or no FILE: stdout)', load: async () => as((await import('./crane.js')).exportCommand) },
  { command: 'flatten <ref>', describe: 'write the image with its layers squashed into one (crane flatten)', load: async () => as((await import('./crane.js')).flattenCommand) },
  { command: 'append [ref]', describe: 'add layer tars (plain or gzipped) on top of an image (crane append)', load: async () => as((await import('./crane.js')).appendCommand) },
  { command: 'mutate <ref>', describe: 'write the image with its config changed (crane mutate)', load: async () => as((await import('./crane.js')).mutateCommand) },
  { command: 'login [registry]', describe: 'log in to a registry (checked against it, then saved in Docker\'s config.json, mode 0600)', load: async () => as((await import('./registry.js')).loginCommand) },
  { command: 'logout [registry]', describe: 'remove saved credentials for a registry from Docker\'s config.json', load: async () => as((await import('./registry.js')).logoutCommand) },
  { command: 'tags <repo>', describe: 'list the tags of a repository (follows the registry\'s pagination)', load: async () => as((await import('./registry.js')).tagsCommand) },
  { command: 'manifest <command>', describe: 'inspect, create, push and delete manifests and manifest lists in a registry', load: async () => as((await import('./registry.js')).manifestCommand) },
  { command: 'generate-key-pair', describe: 'write a cosign key pair (ECDSA P-256): cosign.key, encrypted with a password, and cosign.pub', load: async () => as((await import('./sign.js')).generateKeyPairCommand) },
  { command: 'sign <ref>', describe: 'sign an image in a registry with a cosign key (stored as cosign stores it: the sha256-<hex>.sig tag)', load: async () => as((await import('./sign.js')).signCommand) },
  { command: 'verify <ref>', describe: 'check an image\'s cosign signatures: by a public key, over the digest the registry serves, for its repository', load: async () => as((await import('./sign.js')).verifyCommand) },
  { command: 'fsck', describe: 'check the store (blob digests, image references, snapshots, leftovers); exit 1 when inconsistent', load: async () => as((await import('./fsck.js')).fsckCommand) },
];

/** The names a command answers to: the first word of each of its command strings (never `$0`). */
export function namesOf(c: Pick<CommandEntry, 'command'>): string[] {
  return [c.command].flat().map((s) => s.split(' ')[0]!).filter((n) => n !== '$0');
}

/** Whether the entry is the default command (runs when no command word is given: `tsbuild -t app .`). */
export function isDefault(c: Pick<CommandEntry, 'command'>): boolean {
  return [c.command].flat().some((s) => s.split(' ')[0] === '$0');
}
