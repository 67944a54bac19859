/**
 * `images`, `inspect` and `history` as docker prints them: docker's columns, `--format` Go templates (`table`,
 * `json`), `images [REPO[:TAG]]`, newest first. The documents come from layer-store; the shaping from
 * cli/docker-view; template execution from cli/go-template.
 */
import type { CommandModule } from 'yargs';
import {
  LayerStore, TsbuildError, familiarRepository, imageHistory, isAttestationManifest, listImageSummaries, parsePlatform, splitTagName,
  type ImageSummary, type StoredImage,
} from '../../layer-store/index.js';
// Not the builder's barrel, which would load the whole builder (cli/README.md, Start-up).
import { readAttestations } from '../../builder/attest/storage.js';
import { attestationFields } from '../docker-view/attestations.js';
import {
  HISTORY_HEADERS, HISTORY_TABLE_FORMAT, IMAGE_HEADERS, dockerImageInspect, formatInspectJson, historyRows, imageRows, imagesTableFormat,
} from '../docker-view/view.js';
import { TemplateError, compileTemplate, formatRows, goStruct, templateUsageError } from '../go-template/index.js';
import { loggerFor, type GlobalArgs } from '../context.js';
import { listOption } from '../options.js';

function openStore(argv: GlobalArgs): Promise<LayerStore> {
  return LayerStore.open(argv.root, { logger: loggerFor(argv) });
}

function usage(msg: string, hint: string): TsbuildError {
  return new TsbuildError('USAGE', msg, { hint });
}

/** Runs `f`; a template error becomes one usage error naming the --format value. */
export function withTemplate<T>(format: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TemplateError) throw templateUsageError(format, e);
    throw e;
  }
}

function globToRegExp(glob: string): RegExp {
  return new RegExp('^' + glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$');
}

/**
 * Returns a predicate on one image name for a docker reference pattern (`alpine`, `alpine:3*`, `me/*`): the
 * familiar repository (or repository:tag when the pattern has a tag) must match, glob-style, as docker's
 * reference filter does.
 */
export function referenceMatcher(pattern: string): (name: string) => boolean {
  const hasTag = pattern.includes(':') && pattern.lastIndexOf(':') > pattern.lastIndexOf('/');
  const re = globToRegExp(pattern);
  return (n) => {
    const { repository, tag } = splitTagName(n);
    const fam = familiarRepository(repository);
    const cands = hasTag ? [`${fam}:${tag}`, n] : [fam, repository];
    return cands.some((c) => re.test(c));
  };
}

/** Returns a predicate for one `--filter key=value`; throws TsbuildError on unknown keys. */
export function imageFilter(f: string): (s: ImageSummary) => boolean {
  const eq = f.indexOf('=');
  if (eq <= 0) throw usage(`invalid filter ${JSON.stringify(f)}`, 'write --filter dangling=true|false, reference=PATTERN or label=KEY[=VALUE]');
  const key = f.slice(0, eq);
  const value = f.slice(eq + 1);
  switch (key) {
    case 'dangling': {
      if (value !== 'true' && value !== 'false') throw usage(`invalid dangling filter ${JSON.stringify(value)}`, 'write dangling=true or dangling=false');
      const want = value === 'true';
      return (s) => (s.names.length === 0) === want;
    }
    case 'reference': {
      const m = referenceMatcher(value);
      return (s) => s.names.some(m);
    }
    case 'label': {
      const e2 = value.indexOf('=');
      const k = e2 < 0 ? value : value.slice(0, e2);
      const v = e2 < 0 ? undefined : value.slice(e2 + 1);
      return (s) => k in s.labels && (v === undefined || s.labels[k] === v);
    }
    default:
      throw usage(`unknown filter ${JSON.stringify(key)}`, 'supported filters: dangling, reference, label');
  }
}

interface ImagesArgs extends GlobalArgs { reference?: string; filter: string[]; digests: boolean; format?: string; quiet: boolean; all: boolean; 'no-trunc': boolean }

export const imagesCommand: CommandModule<GlobalArgs, ImagesArgs> = {
  command: 'images [reference]',
  describe: 'list images in the store, newest first (docker images)',
  builder: (y) =>
    y
      .positional('reference', { type: 'string', describe: 'REPOSITORY[:TAG] pattern (globs allowed), as --filter reference=' })
      .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'show all images (tsbuild keeps no intermediate images: every image is listed anyway)' })
      .option('filter', listOption('dangling=true|false, reference=PATTERN, label=KEY[=VALUE] (repeatable, all must match)', 'f'))
      .option('digests', { type: 'boolean', default: false, describe: 'show manifest digests' })
      .option('format', { type: 'string', describe: 'Go template, "table [TEMPLATE]" or "json" (as docker)' })
      .option('no-trunc', { type: 'boolean', default: false, describe: 'full image IDs' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'only image IDs' })
      .example('$0 images alpine', 'the alpine images')
      .example('$0 images --format "{{.Repository}}:{{.Tag}} {{.Size}}"', 'one line per name') as never,
  handler: async (argv) => {
    const filters = [...argv.filter, ...(argv.reference !== undefined ? [`reference=${argv.reference}`] : [])];
    const preds = filters.map(imageFilter);
    const keeps = filters.filter((f) => f.startsWith('reference=')).map((f) => referenceMatcher(f.slice('reference='.length)));
    const format = argv.quiet ? '{{.ID}}' : argv.format ?? imagesTableFormat({ digests: argv.digests });
    if (format !== 'json') withTemplate(format, () => compileTemplate(format.replace(/^table\s?/, '').replace(/\\t/g, '\t').replace(/\\n/g, '\n')));
    const store = await openStore(argv);
    const summaries = (await listImageSummaries(store)).filter((s) => preds.every((p) => p(s)));
    const rows = imageRows(summaries, { noTrunc: argv['no-trunc'], keep: (n) => keeps.every((k) => k(n)) });
    process.stdout.write(withTemplate(format, () => formatRows(format, rows, { defaultTable: imagesTableFormat({ digests: argv.digests }).slice('table '.length), headers: IMAGE_HEADERS })));
  },
};

interface InspectArgs extends GlobalArgs { refs: string[]; format?: string; oci: boolean; platform?: string }

/** Returns the OCI documents of a stored object, as `inspect --oci` prints them. */
function ociDocuments(obj: Awaited<ReturnType<LayerStore['resolve']>>): object {
  if (obj.kind === 'index') return { Id: obj.id, Names: obj.names, Descriptor: obj.descriptor, Index: obj.index };
  return {
    Id: obj.id, Names: obj.names, Descriptor: obj.descriptor, Created: obj.config.created ?? null,
    Architecture: obj.config.architecture, Os: obj.config.os, ...(obj.config.variant ? { Variant: obj.config.variant } : {}),
    Manifest: obj.manifest, Config: obj.config,
  };
}

/** Returns docker's inspect object with buildx imagetools' `Provenance` and `SBOM` of what `ref` names. */
async function withAttestations(store: LayerStore, ref: string, doc: Record<string, unknown>): Promise<Record<string, unknown>> {
  const top = await store.resolve(ref);
  const atts = top.kind === 'index' ? await readAttestations(store, top.descriptor) : [];
  const platforms = top.kind === 'index' ? top.index.manifests.filter((m) => !isAttestationManifest(m)).length : 1;
  const out: Record<string, unknown> = { ...doc, ...attestationFields(atts, platforms) };
  // dockerImageInspect's omitempty fields, marked again on the copy.
  return goStruct(out, ['Created', 'Variant', 'OsVersion', 'Descriptor']);
}

/** Returns the bytes of every blob `img` references as stored (its manifest, config and layers). */
function storedSize(img: StoredImage): number {
  return img.descriptor.size + img.configDescriptor.size + img.manifest.layers.reduce((n, l) => n + l.size, 0);
}

export const inspectCommand: CommandModule<GlobalArgs, InspectArgs> = {
  command: 'inspect <refs..>',
  describe: 'print images as docker image inspect does (or their OCI documents with --oci)',
  builder: (y) => y
    .positional('refs', { type: 'string', array: true, demandOption: true, describe: 'name, digest or image ID' })
    .option('format', { alias: 'f', type: 'string', describe: 'Go template run on each image (as docker), or "json"' })
    .option('oci', { type: 'boolean', default: false, describe: 'print the OCI descriptor, manifest (or index) and config instead of docker\'s shape' })
    .option('platform', { type: 'string', describe: 'os/arch[/variant] to pick from an index (default: this machine\'s, or the only one)' })
    .example('$0 inspect --format "{{.Config.Cmd}}" alpine', 'one field')
    .example('$0 inspect --format "{{json .Config.Labels}}" app', 'a map as JSON') as never,
  handler: async (argv) => {
    const platform = argv.platform !== undefined ? parsePlatform(argv.platform) : undefined;
    const tmpl = argv.format !== undefined && argv.format !== 'json' ? withTemplate(argv.format, () => compileTemplate(argv.format!)) : undefined;
    const store = await openStore(argv);
    const docs: object[] = [];
    for (const ref of argv.refs) {
      if (argv.oci) {
        docs.push(ociDocuments(platform ? await store.image(ref, { platform }) : await store.resolve(ref)));
        continue;
      }
      const img = await store.image(ref, platform ? { platform } : {});
      const doc = dockerImageInspect(img, { size: storedSize(img) });
      // `.Provenance` and `.SBOM` (buildx imagetools'): only for a template that asks, so docker's JSON stays docker's.
      docs.push(tmpl && /\b(Provenance|SBOM)\b/.test(argv.format!) ? await withAttestations(store, ref, doc) : doc);
    }
    if (tmpl) {
      process.stdout.write(docs.map((d) => withTemplate(argv.format!, () => tmpl.execute(d)) + '\n').join(''));
      return;
    }
    process.stdout.write(argv.oci ? JSON.stringify(docs.length === 1 && argv.refs.length === 1 ? docs[0] : docs, null, 2) + '\n' : formatInspectJson(docs));
  },
};

interface HistoryArgs extends GlobalArgs { ref: string; 'no-trunc': boolean; format?: string; quiet: boolean; human: boolean; platform?: string }

export const historyCommand: CommandModule<GlobalArgs, HistoryArgs> = {
  command: 'history <ref>',
  describe: 'show the history of an image, newest first (docker history)',
  builder: (y) =>
    y
      .positional('ref', { type: 'string', demandOption: true })
      .option('no-trunc', { type: 'boolean', default: false, describe: 'do not truncate CREATED BY or the image ID' })
      .option('human', { alias: 'H', type: 'boolean', default: true, describe: 'sizes and dates in human-readable form (-H=false: bytes and RFC 3339)' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'only the image ID' })
      .option('format', { type: 'string', describe: 'Go template, "table [TEMPLATE]" or "json" (as docker)' })
      .option('platform', { type: 'string', describe: 'os/arch[/variant] to pick from an index' })
      .example('$0 history --format "{{.CreatedBy}}" app', 'the instructions only') as never,
  handler: async (argv) => {
    const format = argv.quiet ? '{{.ID}}' : argv.format ?? HISTORY_TABLE_FORMAT;
    if (format !== 'json') withTemplate(format, () => compileTemplate(format.replace(/^table\s?/, '').replace(/\\t/g, '\t').replace(/\\n/g, '\n')));
    const store = await openStore(argv);
    const img = await store.image(argv.ref, argv.platform !== undefined ? { platform: parsePlatform(argv.platform) } : {});
    const rows = historyRows(img.id, imageHistory(img), { noTrunc: argv['no-trunc'], human: argv.human });
    process.stdout.write(withTemplate(format, () => formatRows(format, rows, { defaultTable: HISTORY_TABLE_FORMAT.slice('table '.length), headers: HISTORY_HEADERS })));
  },
};
