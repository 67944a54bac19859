/**
 * `tsbuild generate-key-pair`, `tsbuild sign` and `tsbuild verify`: cosign's key-based signing, offline, in
 * process (builder/sign). The password of a private key comes from TSBUILD_PASSWORD, else COSIGN_PASSWORD (an
 * empty value is an empty password, as cosign), else a prompt on the terminal without echo, else an error.
 */
import { constants } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { CommandModule } from 'yargs';
import {
  checkPolicy, generateKeyPair, loadPolicy, namesRegistryHost, readPrivateKey, readPublicKey, signImage, verifyImage,
  type SigningKey, type VerifiedImage, type VerifyingKey,
} from '../../builder/index.js';
import { TsbuildError } from '../../layer-store/index.js';
import type { RegistryClient } from '../../registry-client/index.js';
import type { GlobalArgs } from '../context.js';
import { listOption } from '../options.js';
import { client, registryFlags, type RegistryFlags } from './registry.js';

/** Returns the password from the environment, else asked on the terminal (twice with `confirm`); else throws. */
export async function keyPassword(what: string, confirm = false, env: NodeJS.ProcessEnv = process.env): Promise<Uint8Array> {
  const fromEnv = env.TSBUILD_PASSWORD ?? env.COSIGN_PASSWORD;
  if (fromEnv !== undefined) return Buffer.from(fromEnv, 'utf8');
  if (process.stdin.isTTY !== true) {
    throw new TsbuildError('USAGE', `no password for ${what}`, { location: { ref: what }, hint: 'set TSBUILD_PASSWORD (or COSIGN_PASSWORD), or run on a terminal to be asked' });
  }
  const answers = await hiddenPrompts(confirm ? [`Enter password for ${what}: `, 'Enter password again: '] : [`Enter password for ${what}: `]);
  if (confirm && answers[1] !== answers[0]) {
    throw new TsbuildError('USAGE', 'passwords do not match', { location: { ref: what }, hint: 'run again and type the same password twice' });
  }
  return Buffer.from(answers[0]!, 'utf8');
}

/**
 * Asks each question on the terminal in turn, echoing nothing typed. Lines are queued as they come, so a line typed
 * ahead of its question is kept; the end of input before an answer is an error.
 */
async function hiddenPrompts(questions: readonly string[]): Promise<string[]> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
  const typed: string[] = [];
  let waiting: ((line: string | undefined) => void) | undefined;
  let closed = false;
  rl.on('line', (l) => { if (waiting) { const w = waiting; waiting = undefined; w(l); } else typed.push(l); });
  rl.on('close', () => { closed = true; waiting?.(undefined); });
  const out: string[] = [];
  try {
    for (const q of questions) {
      process.stderr.write(q);
      const line = typed.shift() ?? (closed ? undefined : await new Promise<string | undefined>((res) => { waiting = res; }));
      process.stderr.write('\n');
      if (line === undefined) throw new TsbuildError('USAGE', 'no password typed', { hint: 'type it at the prompt, or set TSBUILD_PASSWORD' });
      out.push(line);
    }
    return out;
  } finally {
    rl.close();
  }
}

async function readKeyFile(path: string, what: string): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    if (text.length > 64 * 1024) throw new TsbuildError('SIGNATURE', `${what} file is ${text.length} bytes: not a key`, { location: { ref: path }, hint: 'give the cosign key file' });
    return text;
  } catch (e) {
    if (TsbuildError.is(e)) throw e;
    throw new TsbuildError('USAGE', `cannot read ${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { location: { ref: path }, hint: `give the path of a cosign ${what}`, cause: e });
  }
}

/** Returns the private key in `path`, decrypted with keyPassword (asked only for an encrypted key). */
export async function loadSigningKey(path: string): Promise<SigningKey> {
  return readPrivateKey(await readKeyFile(path, 'private key'), path, () => keyPassword(path));
}

/** Returns the public key in `path`. */
export async function loadVerifyingKey(path: string): Promise<VerifyingKey> {
  return readPublicKey(await readKeyFile(path, 'public key'), path);
}

/**
 * Returns the image `ref` names once `--verify-key` keys or the `--policy` file accept it (undefined when neither
 * is given, or the policy accepts it unsigned); throws a SIGNATURE error otherwise. Used by `verify` and `pull`.
 */
export async function checkImageTrust(registry: RegistryClient, ref: string, o: { keys: readonly string[]; policy?: string | undefined; signal?: AbortSignal | undefined }): Promise<VerifiedImage | undefined> {
  let verified: VerifiedImage | undefined;
  if (o.keys.length > 0) {
    const keys = await Promise.all(o.keys.map(loadVerifyingKey));
    verified = await verifyImage({ registry, ref, keys, signal: o.signal });
  }
  if (o.policy !== undefined) {
    const v = await checkPolicy(loadPolicy(o.policy), registry, verified ? `${ref.split('@')[0]}@${verified.digest}` : ref, o.signal);
    verified ??= v;
  }
  return verified;
}

interface KeyPairArgs extends GlobalArgs { 'output-key-prefix': string }
interface SignArgs extends RegistryFlags { ref: string; key: string }
interface VerifyArgs extends RegistryFlags { ref: string; key: string[]; policy?: string }

/** `tsbuild generate-key-pair [--output-key-prefix P]`: writes P.key (encrypted) and P.pub, refusing to overwrite. */
export const generateKeyPairCommand: CommandModule<GlobalArgs, KeyPairArgs> = {
  command: 'generate-key-pair',
  describe: 'write a cosign key pair (ECDSA P-256): cosign.key, encrypted with a password, and cosign.pub',
  builder: (y) => y.option('output-key-prefix', { type: 'string', default: 'cosign', describe: 'write PREFIX.key and PREFIX.pub' })
    .example('TSBUILD_PASSWORD=… $0 generate-key-pair --output-key-prefix ci/cosign', 'write ci/cosign.key and ci/cosign.pub') as never,
  handler: async (argv) => {
    const prefix = argv['output-key-prefix'];
    if (!prefix) throw new TsbuildError('USAGE', 'empty --output-key-prefix', { hint: 'give a path prefix, e.g. ./cosign' });
    const password = await keyPassword(`${prefix}.key`, true);
    const pair = generateKeyPair(password);
    // O_EXCL: an existing key is never overwritten (cosign asks; there is no one to ask here). Both files are
    // created before either is written, and a failure removes what this command created.
    const files = [[`${prefix}.key`, pair.privatePem, 0o600], [`${prefix}.pub`, pair.publicPem, 0o644]] as const;
    const opened: { file: string; fh: Awaited<ReturnType<typeof open>> }[] = [];
    let done = false;
    try {
      for (const [file, , mode] of files) {
        try {
          opened.push({ file, fh: await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode) });
        } catch (e) {
          const exists = (e as NodeJS.ErrnoException).code === 'EEXIST';
          throw new TsbuildError('USAGE', exists ? 'key file exists' : `cannot write key file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { location: { ref: file }, hint: exists ? 'remove it or choose another --output-key-prefix' : 'choose a writable --output-key-prefix', cause: e });
        }
      }
      for (const [i, o] of opened.entries()) await o.fh.writeFile(files[i]![1]);
      done = true;
    } finally {
      for (const o of opened) {
        await o.fh.close();
        if (!done) await unlink(o.file).catch(() => undefined);
      }
    }
    process.stderr.write(`Private key written to ${prefix}.key\nPublic key written to ${prefix}.pub\n`);
  },
};

/** `tsbuild sign --key KEY REF`: signs the digest REF names now in its registry (cosign's `.sig` tag). */
export const signCommand: CommandModule<GlobalArgs, SignArgs> = {
  command: 'sign <ref>',
  describe: 'sign an image in a registry with a cosign key (stored as cosign stores it: the sha256-<hex>.sig tag)',
  builder: (y) => registryFlags(y
    .positional('ref', { type: 'string', demandOption: true, describe: 'REGISTRY/REPO[:TAG|@DIGEST] (a local image: `tsbuild push --sign-by KEY`)' })
    .option('key', { type: 'string', demandOption: true, describe: 'the cosign private key (cosign.key)' })
    .example('$0 sign --key cosign.key ghcr.io/me/app:1', 'sign what the tag names now')) as never,
  handler: async (argv) => {
    if (!namesRegistryHost(argv.ref.replace(/^docker:\/\//, ''))) {
      throw new TsbuildError('USAGE', 'sign takes a registry reference (REGISTRY/REPO:TAG): signatures live next to the image in its registry', {
        location: { ref: argv.ref }, hint: `an image in the store is signed as it is pushed: \`tsbuild push --sign-by KEY ${argv.ref} REGISTRY/REPO:TAG\``,
      });
    }
    const key = await loadSigningKey(argv.key);
    const reg = client(argv);
    try {
      const r = await signImage({ registry: reg, ref: argv.ref, key, signal: argv.signal });
      const referrer = r.referrer === 'pushed' ? ' and as an OCI referrer' : ' (the registry has no referrers API: .sig tag only)';
      process.stderr.write(`Signed ${r.ref} (${r.digest}) as ${r.dockerReference}: ${r.signatureRef}${r.added ? '' : ' already held this signature'}${referrer}\n`);
      process.stdout.write(`${r.signatureRef}\n`);
    } finally {
      await reg.close();
    }
  },
};

/** `tsbuild verify --key PUB REF` (or `--policy FILE`): exit 0 and the verified payloads, or one error line. */
export const verifyCommand: CommandModule<GlobalArgs, VerifyArgs> = {
  command: 'verify <ref>',
  describe: 'check an image\'s cosign signatures: by a public key, over the digest the registry serves, for its repository',
  builder: (y) => registryFlags(y
    .positional('ref', { type: 'string', demandOption: true, describe: 'REGISTRY/REPO[:TAG|@DIGEST]' })
    .option('key', listOption('cosign public key (cosign.pub); repeatable: any one may have signed'))
    .option('policy', { type: 'string', describe: 'a containers policy.json (sigstoreSigned requirements) to check instead of, or besides, --key' })
    .example('$0 verify --key cosign.pub ghcr.io/me/app:1', 'exit 0 and the signed payloads, or one error line')
    .example('$0 verify --policy /etc/containers/policy.json ghcr.io/me/app:1', 'as podman and skopeo would decide')) as never,
  handler: async (argv) => {
    if (argv.key.length === 0 && argv.policy === undefined) throw new TsbuildError('USAGE', 'verify needs --key PUB or --policy FILE', { hint: 'give the cosign.pub the image was signed with' });
    const reg = client(argv);
    try {
      const v = await checkImageTrust(reg, argv.ref, { keys: argv.key, policy: argv.policy, signal: argv.signal });
      if (!v) {
        process.stderr.write(`${argv.ref}: the policy accepts it without a signature\n`);
        return;
      }
      process.stderr.write(`Verified ${v.ref} (${v.digest}): ${v.signatures.map((s) => `signed by ${s.key} as ${s.claims.dockerReference}`).join('; ')}\n`);
      for (const s of v.signatures) process.stdout.write(`${JSON.stringify({ critical: { identity: { 'docker-reference': s.claims.dockerReference }, image: { 'docker-manifest-digest': s.claims.manifestDigest }, type: 'cosign container image signature' }, optional: s.claims.optional })}\n`);
    } finally {
      await reg.close();
    }
  },
};

export const signCommands = [generateKeyPairCommand, signCommand, verifyCommand];
