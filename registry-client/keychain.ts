import { spawn } from 'node:child_process';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { randomBytes } from 'node:crypto';
import { CredentialError } from './errors.js';
import { DOCKER_HUB } from './reference.js';

/**
 * A secret for one registry, with where it came from. The secret fields are not enumerable,
 * and toJSON / util.inspect show only the username and source.
 */
export class Credential {
  /** Where the credential came from: `config.json auths`, `credential helper NAME`, `login`, … */
  readonly source: string;
  readonly username: string | undefined;
  declare readonly password: string | undefined;
  /** An OAuth2 refresh token (Docker's `identitytoken`), exchanged at the token endpoint. */
  declare readonly identityToken: string | undefined;
  /** A ready-made bearer token (Docker's `registrytoken`). */
  declare readonly registryToken: string | undefined;
  constructor(o: { source: string; username?: string | undefined; password?: string | undefined; identityToken?: string | undefined; registryToken?: string | undefined }) {
    this.source = o.source;
    this.username = o.username;
    Object.defineProperty(this, 'password', { value: o.password, enumerable: false });
    Object.defineProperty(this, 'identityToken', { value: o.identityToken, enumerable: false });
    Object.defineProperty(this, 'registryToken', { value: o.registryToken, enumerable: false });
  }
  toJSON(): { source: string; username: string | undefined } {
    return { source: this.source, username: this.username };
  }
  [inspect.custom](): string {
    return `Credential { source: ${JSON.stringify(this.source)}, username: ${JSON.stringify(this.username)}, secret: <redacted> }`;
  }
  toString(): string {
    return `credential from ${this.source}`;
  }
}

/** Resolves credentials per registry (`docker.io`, `host:port`). */
export interface Keychain {
  /** Returns the credential for `registry`, or undefined for anonymous access. */
  resolve(registry: string): Promise<Credential | undefined>;
}

/** A keychain with no credentials (always anonymous). */
export const anonymousKeychain: Keychain = { resolve: async () => undefined };

/** A keychain holding fixed credentials (used by `login` to check them before saving). */
export function staticKeychain(entries: Readonly<Record<string, Credential>>): Keychain {
  return { resolve: async (r) => entries[r] };
}

interface DockerAuthEntry { auth?: string; username?: string; password?: string; identitytoken?: string; registrytoken?: string; email?: string }
interface DockerConfig { auths?: Record<string, DockerAuthEntry>; credsStore?: string; credHelpers?: Record<string, string>; [k: string]: unknown }

/** Returns the directory of Docker's config.json: o.configDir, $DOCKER_CONFIG, else ~/.docker. */
export function dockerConfigDir(o: { configDir?: string | undefined; env?: NodeJS.ProcessEnv } = {}): string {
  return o.configDir ?? (o.env ?? process.env).DOCKER_CONFIG ?? join(homedir(), '.docker');
}

/** Returns the key Docker uses in `auths` for `registry` (docker.io → https://index.docker.io/v1/). */
export function dockerConfigKey(registry: string): string {
  return registry === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry;
}

/** Normalises an `auths` key: strips scheme and path; Docker Hub aliases → docker.io. */
function normaliseKey(k: string): string {
  let h = k.replace(/^[a-z]+:\/\//i, '');
  const slash = h.indexOf('/');
  if (slash >= 0) h = h.slice(0, slash);
  h = h.toLowerCase();
  if (h === 'index.docker.io' || h === 'registry-1.docker.io' || h === 'registry.hub.docker.com') return DOCKER_HUB;
  return h;
}

async function readConfig(dir: string): Promise<DockerConfig> {
  let text: string;
  try {
    text = await readFile(join(dir, 'config.json'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CredentialError(`cannot read ${join(dir, 'config.json')}: ${(e as Error).message}`, 'check the file permissions', { cause: e });
  }
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeError('not a JSON object');
    return v as DockerConfig;
  } catch (e) {
    throw new CredentialError(`cannot parse ${join(dir, 'config.json')}: ${(e as Error).message}`, 'fix or remove the file (it is Docker\'s config.json)', { cause: e });
  }
}

/**
 * Returns a keychain over Docker's config.json. Lookup order per registry: `credHelpers[registry]`,
 * then `credsStore` (falling back to `auths` when the helper has no entry), then `auths`, else anonymous.
 */
export function dockerKeychain(o: { configDir?: string; env?: NodeJS.ProcessEnv } = {}): Keychain {
  const dir = dockerConfigDir(o);
  return {
    async resolve(registry: string): Promise<Credential | undefined> {
      const cfg = await readConfig(dir);
      const helper = Object.entries(cfg.credHelpers ?? {}).find(([k]) => normaliseKey(k) === registry)?.[1] ?? cfg.credsStore;
      if (helper) {
        const c = await credentialHelperGet(helper, registry, o.env);
        if (c) return c;
      }
      const entry = Object.entries(cfg.auths ?? {}).find(([k]) => normaliseKey(k) === registry)?.[1];
      if (!entry) return undefined;
      return credentialFromAuthEntry(entry, `config.json auths (${join(dir, 'config.json')})`);
    },
  };
}

function credentialFromAuthEntry(e: DockerAuthEntry, source: string): Credential | undefined {
  let username = e.username;
  let password = e.password;
  if (e.auth) {
    const dec = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = dec.indexOf(':');
    if (i > 0) {
      username = dec.slice(0, i);
      password = dec.slice(i + 1);
    }
  }
  if (!username && !e.identitytoken && !e.registrytoken) return undefined;
  return new Credential({ source, username, password, identityToken: e.identitytoken || undefined, registryToken: e.registrytoken || undefined });
}

/** Runs `docker-credential-NAME ACTION` with `input` on stdin and returns its stdout. */
function runHelper(name: string, action: string, input: string, env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(`docker-credential-${name}`, [action], { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', (e) => reject(new CredentialError(`credential helper docker-credential-${name} could not run: ${e.message}`, `install docker-credential-${name} or remove it from config.json (credsStore/credHelpers)`, { cause: e })));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** Returns the credential a docker-credential-helper stores for `registry`, or undefined when it has none. */
export async function credentialHelperGet(name: string, registry: string, env?: NodeJS.ProcessEnv): Promise<Credential | undefined> {
  const server = dockerConfigKey(registry);
  const r = await runHelper(name, 'get', server, env);
  if (r.code !== 0) {
    if (/credentials not found/i.test(r.stdout + r.stderr)) return undefined;
    throw new CredentialError(`credential helper docker-credential-${name} failed for ${registry}: ${(r.stdout + r.stderr).trim().slice(0, 200)}`, 'run the helper by hand to see why, or log in again');
  }
  let v: { Username?: string; Secret?: string };
  try {
    v = JSON.parse(r.stdout) as { Username?: string; Secret?: string };
  } catch (e) {
    throw new CredentialError(`credential helper docker-credential-${name} printed invalid JSON`, 'the helper must print {"Username":…,"Secret":…}', { cause: e });
  }
  const source = `credential helper ${name}`;
  if (v.Username === '<token>') return new Credential({ source, identityToken: v.Secret });
  return new Credential({ source, username: v.Username, password: v.Secret });
}

async function writeConfig(dir: string, cfg: DockerConfig): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'config.json');
  const tmp = join(dir, `.config.json.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, JSON.stringify(cfg, null, '\t') + '\n', { mode: 0o600 });
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Saves username/password for `registry` in config.json `auths` (Docker's format, file mode 0600). */
export async function saveDockerCredential(registry: string, username: string, password: string, o: { configDir?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const dir = dockerConfigDir(o);
  const cfg = await readConfig(dir);
  const auths = { ...(cfg.auths ?? {}) };
  for (const k of Object.keys(auths)) if (normaliseKey(k) === registry) delete auths[k];
  auths[dockerConfigKey(registry)] = { auth: Buffer.from(`${username}:${password}`).toString('base64') };
  await writeConfig(dir, { ...cfg, auths });
  return join(dir, 'config.json');
}

/** Removes the `auths` entries for `registry`; returns false when there was none. */
export async function removeDockerCredential(registry: string, o: { configDir?: string; env?: NodeJS.ProcessEnv } = {}): Promise<boolean> {
  const dir = dockerConfigDir(o);
  const cfg = await readConfig(dir);
  const auths = { ...(cfg.auths ?? {}) };
  let found = false;
  for (const k of Object.keys(auths)) if (normaliseKey(k) === registry) { delete auths[k]; found = true; }
  if (found) await writeConfig(dir, { ...cfg, auths });
  return found;
}
