import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import {
  ENTITLEMENTS, checkOneStdout, parseAnnotation, parseAttestFlags, parseBuildContextSource, parseCacheSpec, parseOutput, parseSshSpec, pull, runBuildPipeline,
  type BuildContextSource, type BuildPipelineOptions, type CheckWarning, type BuildPipelineResult, type Entitlement, type OutputSpec, type SecretSource,
} from '../../builder/build-command.js';
import { TsbuildError } from '../../layer-store/core/index.js';
import { findRuntime, parseIsolation, type Limits } from '../../runtime-exec/index.js';
import type { EventSink } from '../../layer-store/core/index.js';
import { checkBuildFlags, checkBuildPlatforms } from '../build-checks.js';
import { answerCall, isAnswerableCall } from '../call.js';
import type { GlobalArgs } from '../context.js';
import { listOption, parseSize } from '../options.js';
import { stdinInputs } from '../stdin-inputs.js';
import { loggerFor } from '../context.js';
import { createRenderer, jsonLine } from '../progress/index.js';
import { openCache, openRuntime, openStore } from '../services.js';
import { client, concurrencyFlag, registryFlags, type RegistryFlags } from '../registry-flags.js';
import { checkWarningOf, formatBuildWarnings, parseCall, runCall, type CallSpec } from './build-call.js';
import { withDockerProxyArgs } from '../docker-proxy.js';
import { parseRunFlags, runFlags, type RunFlagArgs } from '../run-flags.js';

interface BuildArgs extends RegistryFlags, RunFlagArgs {
  push: boolean;
  'sign-by'?: string;
  output: string[];
  explain: boolean;
  'cache-from': string[];
  'cache-to': string[];
  context?: string;
  tag: string[];
  file?: string;
  'build-arg': string[];
  'build-context': string[];
  target?: string;
  label: string[];
  'no-cache': boolean;
  'no-cache-filter': string[];
  pull: boolean;
  platform?: string;
  secret: string[];
  ssh: string[];
  network: 'default' | 'host' | 'none';
  allow: string[];
  iidfile?: string;
  'metadata-file'?: string;
  memory?: string;
  'cpu-quota'?: number;
  cpus?: number;
  'pids-limit'?: number;
  runtime?: string;
  isolation?: string;
  compression: 'gzip' | 'zstd';
  load: boolean;
  quiet: boolean;
  annotation: string[];
  builder?: string;
  check: boolean;
  call?: string;
  attest: string[];
  provenance?: string;
  sbom?: string;
}

/** Parses `--build-arg K=V` / `--build-arg K` (value from the environment, as docker does). */
export function parseBuildArgs(list: readonly string[], env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const a of list) {
    const i = a.indexOf('=');
    if (i === 0) throw new TsbuildError('USAGE', `invalid --build-arg ${JSON.stringify(a)}`, { hint: 'write --build-arg NAME=VALUE or --build-arg NAME' });
    if (i < 0) out[a] = env[a];
    else out[a.slice(0, i)] = a.slice(i + 1);
  }
  return out;
}

/** Parses `--secret id=ID,src=FILE|env=VAR` (also `source=`, `type=file|env`). */
export function parseSecret(spec: string): SecretSource {
  const kv = new Map<string, string>();
  for (const part of spec.split(',')) {
    const i = part.indexOf('=');
    if (i < 0) throw new TsbuildError('USAGE', `invalid --secret ${JSON.stringify(spec)}`, { hint: 'write --secret id=NAME,src=FILE or --secret id=NAME,env=VAR' });
    kv.set(part.slice(0, i).trim().toLowerCase(), part.slice(i + 1));
  }
  const id = kv.get('id');
  const src = kv.get('src') ?? kv.get('source');
  const envName = kv.get('env') ?? (kv.get('type') === 'env' ? src : undefined);
  if (!id) throw new TsbuildError('USAGE', `--secret ${JSON.stringify(spec)} has no id`, { hint: 'write --secret id=NAME,src=FILE' });
  if (envName !== undefined) return { id, env: envName };
  // buildx detects the type when none is given: the variable named like the id if it is set, else the file.
  if (src === undefined && kv.get('type') === undefined && process.env[id] !== undefined) return { id, env: id };
  return { id, src: resolve(src ?? id) };
}

/** Parses `--allow` values (repeatable, comma-separated as buildx accepts): `security.insecure`, `network.host`. */
export function parseAllow(list: readonly string[]): Entitlement[] {
  const out: Entitlement[] = [];
  for (const v of list.flatMap((a) => a.split(',')).map((a) => a.trim()).filter(Boolean)) {
    if (!(ENTITLEMENTS as readonly string[]).includes(v)) {
      throw new TsbuildError('USAGE', `unknown entitlement --allow ${JSON.stringify(v)}`, { hint: `use one of ${ENTITLEMENTS.join(', ')}` });
    }
    if (!out.includes(v as Entitlement)) out.push(v as Entitlement);
  }
  return out;
}

export { parseSize } from '../options.js';

/** The pipeline options the flags give (everything but the opened store, cache, runtime and registry). */
type PipelineFlags = Omit<BuildPipelineOptions, 'store' | 'cache' | 'runtime' | 'registry' | 'events' | 'logger' | 'signal'>;

/** Returns the pipeline options of `tsbuild build`'s flags; throws the first bad value as a USAGE error. */
async function pipelineFlags(argv: BuildArgs): Promise<PipelineFlags> {
  const allow = parseAllow(argv.allow);
  const outputs = parseOutputs(argv);
  const cacheFrom = argv['cache-from'].map((c) => parseCacheSpec(c, 'from'));
  const cacheTo = argv['cache-to'].map((c) => parseCacheSpec(c, 'to'));
  const platforms = checkBuildPlatforms(argv.platform);
  const names = await checkBuildFlags({ tags: argv.tag, push: argv.push, outputs, cacheFrom, cacheTo, iidfile: argv.iidfile, metadataFile: argv['metadata-file'] });
  if (argv.push && names.length === 0) throw new TsbuildError('USAGE', '--push needs a name', { hint: 'add -t REGISTRY/REPO:TAG' });
  const limits = parseLimits(argv);
  const epoch = sourceDateEpoch();
  return {
    ...(await stdinInputs(argv.context ?? '.', argv.file)),
    tags: argv.tag,
    annotations: argv.annotation.flatMap(parseAnnotation),
    buildArgs: await withDockerProxyArgs(parseBuildArgs(argv['build-arg'])),
    ...parseRunFlags(argv),
    target: argv.target,
    labels: parseLabels(argv.label),
    noCache: argv['no-cache'],
    noCacheFilter: argv['no-cache-filter'],
    pull: argv.pull,
    platforms,
    network: argv.network,
    allow,
    secrets: argv.secret.map(parseSecret),
    ssh: argv.ssh.map(parseSshSpec),
    limits: Object.keys(limits).length ? limits : undefined,
    sourceDateEpoch: epoch,
    compression: argv.compression,
    outputs,
    cacheFrom,
    cacheTo,
    push: argv.push,
    pullConcurrency: concurrencyFlag(argv['max-concurrent-downloads'], 'max-concurrent-downloads'),
    pushConcurrency: concurrencyFlag(argv['max-concurrent-uploads'], 'max-concurrent-uploads'),
    buildContexts: parseBuildContexts(argv['build-context']),
    ...(argv['sign-by'] !== undefined ? { signBy: await (await import('./sign.js')).loadSigningKey(argv['sign-by']) } : {}), // signing code loads only for --sign-by
    attestations: parseAttestFlags({ attest: argv.attest, provenance: argv.provenance, sbom: argv.sbom, noDefaultAttestations: process.env.BUILDX_NO_DEFAULT_ATTESTATIONS }),
  };
}

/**
 * Returns the `--output` values parsed, `dest=-` meaning this process's stdout; refuses a terminal (as buildx),
 * two outputs on stdout, and stdout shared with what else writes there (`--progress json`, `-q`).
 */
function parseOutputs(argv: BuildArgs): OutputSpec[] {
  const o = { stdout: process.stdout, stdoutIsTerminal: process.stdout.isTTY === true };
  const outputs = argv.output.map((spec) => parseOutput(spec, o));
  if (checkOneStdout(outputs, process.stdout) > 0) {
    const other = argv.quiet || argv.progress === 'quiet' ? '-q (the image ID)' : argv.progress === 'json' ? '--progress json (the events)' : undefined;
    if (other) throw new TsbuildError('USAGE', `--output to stdout cannot share it with ${other}`, { hint: 'write the output to a file (dest=FILE), or drop the other' });
  }
  return outputs;
}

/** Parses `--build-context NAME=SOURCE` (buildx's syntax; a name given twice keeps the last). */
function parseBuildContexts(list: readonly string[]): Record<string, BuildContextSource> | undefined {
  if (list.length === 0) return undefined;
  const out: Record<string, BuildContextSource> = {};
  for (const v of list) {
    const i = v.indexOf('=');
    if (i <= 0) throw new TsbuildError('USAGE', `--build-context ${v}: expected NAME=SOURCE`, { hint: 'e.g. --build-context base=docker-image://alpine:3.20 or --build-context src=../src' });
    out[v.slice(0, i)] = parseBuildContextSource(v.slice(0, i), v.slice(i + 1));
  }
  return out;
}

/** Parses `--label K=V` (`--label K`: an empty value). */
function parseLabels(list: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const l of list) {
    const i = l.indexOf('=');
    labels[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
  }
  return labels;
}

/** Returns the cgroup limits of `--memory`, `--cpu-quota`, `--cpus` and `--pids-limit` (only those given). */
function parseLimits(argv: BuildArgs): Limits {
  return {
    ...(argv.memory ? { memoryBytes: parseSize(argv.memory) } : {}),
    ...(argv['cpu-quota'] !== undefined ? { cpuQuota: argv['cpu-quota'] } : {}),
    ...(argv.cpus !== undefined ? { cpus: argv.cpus } : {}),
    ...(argv['pids-limit'] !== undefined ? { pidsLimit: argv['pids-limit'] } : {}),
  };
}

/** Returns `$SOURCE_DATE_EPOCH` in Unix seconds, undefined when unset; anything but digits is a USAGE error. */
function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const sde = env.SOURCE_DATE_EPOCH;
  if (sde !== undefined && !/^\d+$/.test(sde)) throw new TsbuildError('USAGE', `invalid SOURCE_DATE_EPOCH ${JSON.stringify(sde)}`, { hint: 'set it to a Unix time in seconds' });
  return sde !== undefined ? Number(sde) : undefined;
}

/** Writes `--iidfile` (the config digest) and `--metadata-file` (buildx's keys), when asked. */
async function writeBuildFiles(argv: BuildArgs, r: BuildPipelineResult): Promise<void> {
  if (argv.iidfile) await writeFile(argv.iidfile, r.configDigest);
  if (argv['metadata-file']) {
    await writeFile(argv['metadata-file'], JSON.stringify({
      'containerimage.digest': r.imageDigest,
      'containerimage.config.digest': r.configDigest,
      'containerimage.descriptor': r.manifest,
      'image.name': r.tags.join(','),
    }, null, 2) + '\n');
  }
}

/** The last `--progress json` event: what the build made and where it went. */
function resultEvent(argv: BuildArgs, r: BuildPipelineResult): { type: 'result'; [k: string]: unknown } {
  return {
    type: 'result',
    imageId: r.configDigest,
    manifestDigest: r.imageDigest,
    mediaType: r.manifest.mediaType,
    tags: r.tags,
    outputs: argv.output,
    pushed: r.pushed.map((p) => ({ ref: p.ref, digest: p.digest })),
    steps: r.steps.length,
    cached: r.steps.filter((s) => s.cached).length,
    warnings: r.warnings,
  };
}

/** Prints `--explain` (every step, CACHED or why it ran) on stderr, then the result line (the ID alone when quiet). */
function renderResult(argv: BuildArgs, r: BuildPipelineResult, frontend?: string): void {
  if (argv.explain) {
    if (frontend) process.stderr.write(`FRONTEND ${frontend}\n`); // what a # syntax directive or BUILDKIT_SYNTAX named
    for (const st of r.steps) process.stderr.write(`${st.cached ? 'CACHED ' : 'RAN    '} ${st.name}${st.reason ? `\n        because: ${st.reason.detail}` : ''}\n`);
  }
  if (argv.quiet || argv.progress === 'quiet') {
    process.stdout.write(`${r.configDigest}\n`);
  } else if (argv.progress === 'json') {
    process.stdout.write(jsonLine(resultEvent(argv, r)));
  } else if (argv.progress !== 'rawjson' && argv.progress !== 'none') {
    process.stderr.write(`built ${r.configDigest}${r.tags.length ? ` as ${r.tags.join(', ')}` : ''} (manifest ${r.imageDigest}; ${r.steps.filter((s) => s.cached).length}/${r.steps.length} steps cached)\n`);
  }
}

/** `--call`/`--check`: runs the call (no build) with the build's context, Dockerfile, args, target and platform. */
async function runCallCommand(argv: BuildArgs, call: CallSpec): Promise<number> {
  const platform = checkBuildPlatforms(argv.platform)[0];
  if (isAnswerableCall(call.name)) {
    // outline, targets, subrequests.describe read the Dockerfile only: no store is opened
    process.stdout.write(await answerCall({ name: call.name, format: call.format }, {
      context: argv.context ?? '.', ...(argv.file !== undefined ? { dockerfile: argv.file } : {}),
      buildArgs: parseBuildArgs(argv['build-arg']), ...(argv.target !== undefined ? { target: argv.target } : {}),
      ...(platform ? { platform } : {}),
    }));
    return 0;
  }
  const reg = client(argv);
  try {
    const store = await openStore(argv.root, loggerFor(argv));
    return await runCall(call, {
      context: argv.context ?? '.', dockerfile: argv.file, buildArgs: parseBuildArgs(argv['build-arg']), target: argv.target, platform, store,
      pullImage: (ref, p, signal) => pull({ store, registry: reg, ref, platform: p, ...(signal ? { signal } : {}) }).then(() => undefined),
      signal: argv.signal,
    });
  } finally {
    await reg.close();
  }
}

/** The Dockerfile's text by the name warnings give it (for --debug's source lines); empty when unreadable. */
async function dockerfileSources(argv: BuildArgs): Promise<Map<string, string>> {
  const path = argv.file ?? resolve(argv.context ?? '.', 'Dockerfile');
  const text = await readFile(path, 'utf8').catch(() => undefined);
  return new Map(text === undefined ? [] : [[argv.file ?? 'Dockerfile', text]]);
}

/** `tsbuild build [OPTIONS] CONTEXT` (the default command, so `tsbuild -t app .` builds). */
export const buildCommand: CommandModule<GlobalArgs, BuildArgs> = {
  command: ['build [context]', '$0 [context]'],
  describe: 'build an image from a Dockerfile',
  builder: (y) =>
    runFlags(registryFlags(y))
      // No type or default: yargs reads a bare `-` as `true` and would drop it with either (stdin-inputs.ts).
      .positional('context', { describe: 'build context: a directory (default .), a git URL (https://host/repo.git#ref:subdir, git@host:repo.git#ref), an http(s) tarball URL, or - (stdin: a tar of the context, plain or gzip/bzip2/xz/zstd, or a Dockerfile with no context)', coerce: (v: unknown) => (v === true ? '-' : String(v)) })
      .option('tag', listOption('name and optionally a tag (name:tag); repeatable', 't'))
      .option('file', { alias: 'f', type: 'string', describe: 'Dockerfile path (default: CONTEXT/Dockerfile; - reads it from stdin; with context -, a path inside the tar)' })
      .option('build-arg', listOption('build-time variable NAME=VALUE (NAME alone: from the environment)'))
      .option('build-context', listOption('named context NAME=SOURCE for FROM, COPY --from and RUN --mount from=: a directory, docker-image://REF, oci-layout://PATH[:TAG|@DIGEST] or target:STAGE'))
      .option('target', { type: 'string', describe: 'build this stage (default: the last)' })
      .option('label', listOption('label KEY=VALUE on the image'))
      .option('no-cache', { type: 'boolean', default: false, describe: 'run every step (the cache is not read, but still written: the next build hits)' })
      .option('no-cache-filter', listOption('run every step of these stages (their results are still cached)'))
      .option('pull', { type: 'boolean', default: false, describe: 'always pull base images' })
      .option('platform', { type: 'string', describe: 'target platform os/arch[/variant] (default: this machine)' })
      .option('secret', listOption('secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VAR'))
      .option('ssh', listOption('SSH agent for RUN --mount=type=ssh and git over SSH: default ($SSH_AUTH_SOCK), ID=SOCKET or ID=KEYFILE[,KEYFILE] (a private ssh-agent for the build)'))
      .option('network', { choices: ['default', 'host', 'none'] as const, default: 'default' as const, describe: 'network for RUN steps (default = host network, see README)' })
      .option('allow', listOption('grant an entitlement: security.insecure (lets RUN --security=insecure run with every capability and no seccomp) or network.host (accepted, as buildx; tsbuild\'s default network is the host\'s)'))
      .option('iidfile', { type: 'string', describe: 'write the image ID (config digest) to this file' })
      .option('metadata-file', { type: 'string', describe: 'write build metadata (JSON, like buildx) to this file' })
      .option('memory', { type: 'string', describe: 'memory limit for RUN steps (e.g. 512m)' })
      .option('cpu-quota', { type: 'number', describe: 'CFS CPU quota (µs per 100 ms period) for RUN steps' })
      .option('cpus', { type: 'number', describe: 'number of CPUs for RUN steps (e.g. 1.5)' })
      .option('pids-limit', { type: 'number', describe: 'maximum number of processes in a RUN step' })
      .option('runtime', { type: 'string', describe: 'OCI runtime binary (default: runc on PATH)' })
      .option('isolation', { type: 'string', describe: 'how RUN steps are isolated: oci (default: runc, namespaces, overlay) or chroot (locked-down containers: no namespaces, no mounts; see README "--isolation chroot")' })
      .option('compression', { choices: ['gzip', 'zstd'] as const, default: 'gzip' as const, describe: 'layer compression' })
      .option('push', { type: 'boolean', default: false, describe: 'push every tag to its registry after the build' })
      .option('sign-by', { type: 'string', describe: 'with --push: sign each pushed tag with this cosign private key (by digest, then the signature, then the tag)' })
      .option('output', listOption('also write the result: type=oci|docker|tar[,dest=FILE|-], type=local,dest=DIR, DIR, - (a tar on stdout), type=image[,name=N][,push=true], type=registry (pushes); oci-mediatypes=false: Docker media types; platform-split=false merges platforms', 'o'))
      .option('load', { type: 'boolean', default: false, describe: 'accepted (buildx): the image is always loaded into tsbuild\'s store (for Docker: -o type=docker,dest=FILE, then docker load)' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print only the image ID (sha256:…) on stdout, nothing else' })
      .option('annotation', listOption('add an annotation [TYPE[,TYPE…]:]KEY=VALUE; TYPE: manifest (default), index, manifest-descriptor, index-descriptor, optionally TYPE[os/arch]'))
      .option('builder', { type: 'string', describe: 'accepted (buildx): tsbuild has one builder, this process on --root; the name is not used' })
      .option('cache-from', listOption('import build cache: type=registry,ref=REPO:TAG (a cache artifact, or an image built with --cache-to type=inline) or type=local,src=DIR (repeatable)'))
      .option('cache-to', listOption('export build cache: type=registry,ref=REPO:TAG[,mode=min|max], type=local,dest=DIR[,mode=…] or type=inline (in the image; read back with --cache-from type=registry,ref=IMAGE)'))
      .option('explain', { type: 'boolean', default: false, describe: 'after the build, list every step with CACHED or the exact reason it ran' })
      .option('call', { type: 'string', describe: 'what to do instead of building (buildx): check[,format=json][,ignorestatus=true], outline, targets (the stages) or subrequests.describe (nothing is built; add ,format=json for JSON); build (the default) builds' })
      .option('check', { type: 'boolean', default: false, describe: 'run the build checks only and print them (shorthand for --call=check)' })
      .option('attest', listOption('attestation parameters, as buildx: type=provenance[,mode=min|max][,builder-id=ID], type=sbom[,scan-context=true][,scan-stage=true], type=T,disabled=true (default: mode=min provenance on pushed images)'))
      .option('provenance', { type: 'string', describe: 'shorthand for --attest=type=provenance: true|false, or mode=min|max[,…] (a bare --provenance is true: mode=max)' })
      .option('sbom', { type: 'string', describe: 'shorthand for --attest=type=sbom: true|false, or scan-context=true[,…] (an SPDX 2.3 document per platform image)' })
      .example('$0 build -t localhost:5000/app:1 --push .', 'build ./Dockerfile, push it')
      .example('$0 build --platform linux/amd64,linux/arm64 --build-arg VERSION=2 -t app:2 -f docker/Dockerfile .', 'two platforms, one index') as never,
  handler: async (argv) => {
    const logger = loggerFor(argv);
    const call = parseCall(argv.call, argv.check);
    if (call) {
      process.exitCode = await runCallCommand(argv, call);
      return;
    }
    const renderer = createRenderer(argv.quiet ? 'quiet' : argv.progress);
    const reg = client(argv);
    const checks: CheckWarning[] = [];
    let frontend: string | undefined;
    const sink: EventSink = (e) => {
      const w = checkWarningOf(e);
      if (w) checks.push(w);
      if (e.type === 'info' && e.data?.frontend) frontend = (e.data.frontend as { description: string }).description;
      renderer.sink(e);
    };
    try {
      // Every flag is parsed and checked now, before the store is opened or a step runs.
      const isolation = parseIsolation(argv.isolation ?? 'oci');
      if (isolation === 'chroot' && argv.runtime !== undefined) throw new TsbuildError('USAGE', '--runtime and --isolation chroot exclude each other', { hint: 'chroot isolation runs no OCI runtime: drop --runtime' });
      const flags = await pipelineFlags(argv);
      const store = await openStore(argv.root, logger);
      const [cache, runtime] = await Promise.all([openCache(argv.root, logger), isolation === 'chroot' ? findRuntime({ isolation, logger }) : openRuntime(argv.runtime, logger, argv.root)]);
      const r = await runBuildPipeline({
        ...flags, store, cache, runtime, registry: reg, events: sink, logger, signal: argv.signal ?? new AbortController().signal,
      });
      renderer.close();
      await writeBuildFiles(argv, r);
      renderResult(argv, r, frontend);
    } finally {
      renderer.close();
      await reg.close();
      // As buildx, the check warnings come last, after a failure too (not in json or quiet mode).
      if (checks.length > 0 && argv.progress !== 'json' && argv.progress !== 'quiet') {
        process.stderr.write(formatBuildWarnings(checks, argv.debug, await dockerfileSources(argv)));
      }
    }
  },
};
