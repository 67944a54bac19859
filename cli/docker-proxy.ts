/**
 * Proxy settings from Docker's config.json, passed to RUN as build args exactly as the docker CLI does
 * (docker/cli `ConfigFile.ParseProxyConfig`): the `proxies` entry of the daemon host, else `proxies.default`;
 * each of httpProxy, httpsProxy, noProxy, ftpProxy and allProxy that is set becomes HTTP_PROXY and http_proxy
 * (…), each only where `--build-arg` did not give that proxy (in either spelling: then the user's value reaches
 * RUN in both). Proxy build args reach RUN steps only: they
 * stay out of history and cache keys (builder/frontend PROXY_ARGS).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsbuildError } from '../layer-store/core/index.js';
import { dockerConfigDir } from '../registry-client/index.js';

/** The docker CLI's default daemon host, the `proxies` key it looks up when DOCKER_HOST is unset. */
export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

/** config.json field → build arg name (upper case; the lower-case spelling is set too). */
const PROXY_FIELDS: readonly (readonly [string, string])[] = [
  ['httpProxy', 'HTTP_PROXY'], ['httpsProxy', 'HTTPS_PROXY'], ['noProxy', 'NO_PROXY'], ['ftpProxy', 'FTP_PROXY'], ['allProxy', 'ALL_PROXY'],
];

export interface DockerProxyOptions {
  /** Where config.json is (default: $DOCKER_CONFIG, else ~/.docker). */
  readonly configDir?: string | undefined;
  /** The environment read for DOCKER_CONFIG and DOCKER_HOST (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Returns `buildArgs` plus the proxy build args of Docker's config.json (see the header). The `proxies` key is
 * $DOCKER_HOST, else DEFAULT_DOCKER_HOST, as the docker CLI's daemon host for its default context. A missing
 * file adds nothing; a file that is not JSON, or a `proxies` entry that is not an object of strings, is an error
 * naming the file.
 */
export async function withDockerProxyArgs(buildArgs: Readonly<Record<string, string | undefined>>, o: DockerProxyOptions = {}): Promise<Record<string, string | undefined>> {
  const env = o.env ?? process.env;
  const file = join(dockerConfigDir({ configDir: o.configDir, env }), 'config.json');
  let text: string;
  try {
    // Synchronous: one small file at every build's start (an async read is four thread-pool round trips).
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ...buildArgs };
    throw new TsbuildError('USAGE', `cannot read ${file}: ${(e as Error).message}`, { hint: 'check the file permissions (Docker\'s config.json: its proxies become build args)', cause: e });
  }
  const bad = (why: string, cause?: unknown) => new TsbuildError('USAGE', `${file}: ${why}`, {
    hint: 'fix the file: "proxies": {"default": {"httpProxy": "http://proxy:3128", …}}', ...(cause ? { cause } : {}),
  });
  let cfg: unknown;
  try {
    cfg = JSON.parse(text);
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message})`, e);
  }
  const proxies = (cfg as { proxies?: unknown } | null)?.proxies;
  if (proxies === undefined || proxies === null) return { ...buildArgs };
  if (typeof proxies !== 'object' || Array.isArray(proxies)) throw bad('"proxies" is not an object');
  const host = env.DOCKER_HOST || DEFAULT_DOCKER_HOST;
  const key = Object.hasOwn(proxies, host) ? host : 'default';
  const entry: unknown = (proxies as Record<string, unknown>)[key];
  if (entry === undefined || entry === null) return { ...buildArgs };
  if (typeof entry !== 'object' || Array.isArray(entry)) throw bad(`"proxies.${key}" is not an object`);
  const out: Record<string, string | undefined> = { ...buildArgs };
  for (const [field, name] of PROXY_FIELDS) {
    const v: unknown = (entry as Record<string, unknown>)[field];
    if (v === undefined || v === '') continue;
    if (typeof v !== 'string') throw bad(`"proxies.${key}.${field}" is not a string`);
    // A proxy the user gives with --build-arg, in either spelling, wins in both: BuildKit reads one value per
    // proxy whatever its letter case (a config value beside it would make which one wins arbitrary).
    if (Object.keys(buildArgs).some((k) => k.toUpperCase() === name)) continue;
    out[name] = v;
    out[name.toLowerCase()] = v;
  }
  return out;
}
