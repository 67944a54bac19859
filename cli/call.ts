/**
 * `tsbuild build --call=outline|targets|subrequests.describe[,format=json]`: buildx's `--call` for BuildKit's
 * Dockerfile subrequests. Nothing is built: the Dockerfile is read and parsed, and the answer printed on stdout,
 * as text (BuildKit's printers, Go tabwriter columns) or with `format=json` as BuildKit's result.json.
 */
import { resolve } from 'node:path';
import {
  assertDockerfileNotEmpty, chooseFrontend, defaultDockerfile, listTargets, outlineDockerfile, parseDockerfile, readDockerfile, SUBREQUESTS,
  type Outline, type Subrequest, type TargetList,
} from '../builder/build-command.js';
import type { Platform } from '../layer-store/index.js';
import { goJson, tabwrite } from './go-format.js';

/** The `--call` functions this build answers without building (buildx's names). */
export const CALL_FUNCTIONS = ['outline', 'targets', 'subrequests.describe'] as const;
export type CallName = (typeof CALL_FUNCTIONS)[number];

/** True when `name` is a call answered by answerCall. */
export function isAnswerableCall(name: string | undefined): name is CallName {
  return (CALL_FUNCTIONS as readonly (string | undefined)[]).includes(name);
}

/** Returns BuildKit's text form of an outline (subrequests/outline PrintOutline). */
export function printOutline(o: Outline): string {
  let out = '';
  if (o.name || o.description) {
    out += tabwrite(`TARGET:\t${o.name || '(default)'}\n${o.description ? `DESCRIPTION:\t${o.description}\n` : ''}`, { padding: 1 });
    out += '\n';
  }
  if (o.args?.length) {
    out += tabwrite(`BUILD ARG\tVALUE\tDESCRIPTION\n${o.args.map((a) => `${a.name}\t${a.value ?? ''}\t${a.description ?? ''}\n`).join('')}`, { padding: 3 });
    out += '\n';
  }
  for (const [title, list] of [['SECRET', o.secrets], ['SSH', o.ssh]] as const) {
    if (!list?.length) continue;
    out += tabwrite(`${title}\tREQUIRED\n${list.map((s) => `${s.name}\t${s.required ? 'true' : ''}\n`).join('')}`, { padding: 3 });
    out += '\n';
  }
  return out;
}

/** Returns BuildKit's text form of a targets list (subrequests/targets PrintTargets). */
export function printTargets(l: TargetList): string {
  const rows = l.targets.map((t) => {
    const name = !t.name && t.default ? '(default)' : t.default ? `${t.name ?? ''} (default)` : t.name ?? '';
    return `${name}\t${t.description ?? ''}\n`;
  });
  return tabwrite(`TARGET\tDESCRIPTION\n${rows.join('')}`, { padding: 1 });
}

/** Returns BuildKit's text form of the subrequest list (subrequests PrintDescribe). */
export function printDescribe(list: readonly Subrequest[]): string {
  const rows = list.map((r) => `${r.name.replace(/^frontend\./, '')}\t${r.version}\t${r.description}\n`);
  return tabwrite(`NAME\tVERSION\tDESCRIPTION\n${rows.join('')}`, { padding: 1 });
}

export interface CallOptions {
  readonly context: string;
  /** Default: CONTEXT/Dockerfile (or a lowercase `dockerfile` when only that exists). */
  readonly dockerfile?: string;
  readonly buildArgs: Readonly<Record<string, string | undefined>>;
  readonly target?: string;
  /** The target platform (default: this machine's). */
  readonly platform?: Platform;
}

/**
 * Answers `call` for the Dockerfile of `o` and returns what buildx prints on stdout (JSON: BuildKit's result.json
 * and a newline). Throws DOCKERFILE_NOT_FOUND for an unreadable Dockerfile and the front end's DockerfileError.
 */
export async function answerCall(call: { readonly name: CallName; readonly format: 'text' | 'json' }, o: CallOptions): Promise<string> {
  if (call.name === 'subrequests.describe') return call.format === 'json' ? `${goJson(SUBREQUESTS)}\n` : printDescribe(SUBREQUESTS);
  const path = o.dockerfile ?? defaultDockerfile(resolve(o.context));
  const bytes = await readDockerfile(path);
  chooseFrontend(bytes, { file: o.dockerfile ?? 'Dockerfile', buildArgs: o.buildArgs }); // BuildKit asks the frontend image
  if (call.name !== 'targets') assertDockerfileNotEmpty(bytes, o.dockerfile ?? 'Dockerfile');
  const ast = parseDockerfile(bytes, { file: o.dockerfile ?? 'Dockerfile' });
  if (call.name === 'targets') {
    const l = listTargets(ast, { source: bytes });
    return call.format === 'json' ? `${goJson(l)}\n` : printTargets(l);
  }
  const outline = outlineDockerfile(ast, {
    source: bytes, buildArgs: o.buildArgs,
    ...(o.target !== undefined ? { target: o.target } : {}), ...(o.platform ? { platform: { target: o.platform } } : {}),
  });
  return call.format === 'json' ? `${goJson(outline)}\n` : printOutline(outline);
}
