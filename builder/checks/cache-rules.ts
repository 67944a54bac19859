/**
 * tsbuild's own rules, beyond BuildKit's: what a builder that keys every step by its parent can tell about how
 * a Dockerfile uses the cache, and what leaks into layers.
 *   CopyAllBeforeInstall  a COPY of the whole context before a dependency install: any edit reruns the install.
 *   EarlyCacheBust        a step whose result differs on every run (RUN with date/random; ADD <url> without
 *                         --checksum) followed by other steps: whenever it reruns, everything after it does too.
 *   SecretInLayer         a secret-looking value in ARG/ENV (kept in the config or in RUN history), or a copied
 *                         file named like a key (id_rsa, *.pem, .env, …).
 *   FinalStageRunsAsRoot  (experimental) the image's user is root.
 */
import type { Instruction } from '../frontend/instructions/index.js';
import type { CheckConfig } from './config.js';
import type { Reporter } from './report.js';
import { RULES } from './rules.js';
import { where, type CheckedCommand, type CheckedStage } from './source-rules.js';

/** Dependency installers and the manifest files to copy before running them. */
const INSTALLERS: readonly { re: RegExp; manifests: string }[] = [
  { re: /\bnpm\s+(?:ci|install|i)\b/, manifests: 'package.json package-lock.json' },
  { re: /\byarn(?:\s+install)?(?:\s|$|&|;)/, manifests: 'package.json yarn.lock' },
  { re: /\bpnpm\s+(?:install|i)\b/, manifests: 'package.json pnpm-lock.yaml' },
  { re: /\bpip3?\s+install\s+(?:[^&;|]*\s)?-r\s/, manifests: 'requirements.txt' },
  { re: /\bpoetry\s+install\b/, manifests: 'pyproject.toml poetry.lock' },
  { re: /\buv\s+sync\b/, manifests: 'pyproject.toml uv.lock' },
  { re: /\bbundle\s+install\b/, manifests: 'Gemfile Gemfile.lock' },
  { re: /\bcomposer\s+install\b/, manifests: 'composer.json composer.lock' },
  { re: /\bgo\s+mod\s+download\b/, manifests: 'go.mod go.sum' },
  { re: /\bcargo\s+fetch\b/, manifests: 'Cargo.toml Cargo.lock' },
  { re: /\bmvn\b[^&;|]*dependency:go-offline/, manifests: 'pom.xml' },
];

/** Shell text that makes a RUN's output differ on every run. */
const VOLATILE_RUN = /(?:^|[;&|(]\s*)date\b|\$\(\s*date\b|`\s*date\b|\bdate\s+\+|\$RANDOM\b|\$\{RANDOM\}|\/dev\/u?random\b|\buuidgen\b|\/proc\/sys\/kernel\/random\/uuid/;

/** Context files that are keys or credentials by their name. */
const SECRET_FILE = /(?:^|\/)(?:id_(?:rsa|dsa|ecdsa|ed25519)|\.env|\.netrc|\.git-credentials|\.pgpass|credentials(?:\.json)?|[^/]*\.(?:pem|key|p12|pfx|jks|kdbx|ppk))$/i;

/** Values that are secrets by their shape (well-known token formats, private keys). */
const SECRET_VALUE = /AKIA[0-9A-Z]{16}|\bgh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}|\bxox[abprs]-[A-Za-z0-9-]{10,}|-----BEGIN [A-Z ]*PRIVATE KEY-----|\bAIza[0-9A-Za-z_-]{35}\b|\bsk_live_[0-9A-Za-z]{16,}|\bnpm_[A-Za-z0-9]{36}\b|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/;

/** True for a context path named like a key or credential file (id_rsa, *.pem, .env, …). */
export function looksLikeSecretFile(path: string): boolean {
  return SECRET_FILE.test(path);
}

function runText(ins: Instruction): string | undefined {
  if (ins.kind !== 'run') return undefined;
  return [...ins.cmdLine, ...ins.heredocs.map((h) => h.content)].join(' ');
}

const isLayerStep = (ins: Instruction): boolean => ins.kind === 'run' || ins.kind === 'copy' || ins.kind === 'add';

function isWholeContext(ins: Instruction): boolean {
  if (ins.kind !== 'copy' && ins.kind !== 'add') return false;
  if (ins.kind === 'copy' && ins.from !== undefined) return false;
  return ins.sources.some((s) => s === '.' || s === './' || s === '/' || s === '*');
}

export interface CacheRuleInput {
  /** Context files (relative paths, .dockerignore applied) for SecretInLayer on directory copies; optional. */
  readonly contextFiles?: readonly string[] | undefined;
}

/** Runs tsbuild's rules on one stage that is built. */
export function checkStageCache(s: CheckedStage, rep: Reporter, input: CacheRuleInput): void {
  const cmds = s.commands;
  cmds.forEach((cmd, i) => {
    const later = cmds.slice(i + 1);
    copyAllBeforeInstall(cmd, later, rep);
    earlyCacheBust(cmd, later, rep);
    secretInLayer(cmd, rep, input);
  });
}

function copyAllBeforeInstall(cmd: CheckedCommand, later: readonly CheckedCommand[], rep: Reporter): void {
  if (!isWholeContext(cmd.ins)) return;
  for (const l of later) {
    const text = runText(l.ins);
    if (text === undefined) continue;
    const hit = INSTALLERS.find((x) => x.re.test(text));
    if (!hit) continue;
    rep.report(cmd.cfg, RULES.CopyAllBeforeInstall, where(cmd.node),
      `${cmd.keyword} of the whole context before the install on line ${l.node.line}: any edit reruns it; COPY ${hit.manifests} first, install, then copy the rest`);
    return;
  }
}

function earlyCacheBust(cmd: CheckedCommand, later: readonly CheckedCommand[], rep: Reporter): void {
  const after = later.filter((l) => isLayerStep(l.ins)).length;
  if (after === 0) return;
  const ins = cmd.ins;
  const text = runText(ins);
  if (text !== undefined && VOLATILE_RUN.test(text)) {
    rep.report(cmd.cfg, RULES.EarlyCacheBust, where(cmd.node),
      `${cmd.keyword} output changes on every run (${VOLATILE_RUN.exec(text)![0].trim()}); whenever it reruns, the ${after} step(s) after it rerun too: move it to the end of the stage`);
  }
  if (ins.kind === 'add' && ins.checksum === undefined) {
    const url = ins.sources.find((s) => /^https?:\/\//i.test(s) && !/\.git(?:#|$)/.test(s));
    if (url !== undefined) {
      rep.report(cmd.cfg, RULES.EarlyCacheBust, where(cmd.node),
        `${cmd.keyword} ${url} is fetched again on every build; when it changes, the ${after} step(s) after it rerun: add --checksum=sha256:… or move it later`);
    }
  }
}

function secretInLayer(cmd: CheckedCommand, rep: Reporter, input: CacheRuleInput): void {
  const ins = cmd.ins;
  const values: [string, string][] =
    ins.kind === 'env' ? ins.pairs.map((p) => [p.key, p.value])
      : ins.kind === 'arg' ? ins.args.filter((a) => a.value !== undefined).map((a) => [a.key, a.value!])
        : [];
  for (const [k, v] of values) {
    if (SECRET_VALUE.test(v)) {
      rep.report(cmd.cfg, RULES.SecretInLayer, where(cmd.node),
        `${cmd.keyword} ${k} holds a value shaped like a credential; it is stored in the image ${ins.kind === 'env' ? 'config' : 'history'}: use a build secret (RUN --mount=type=secret) instead`);
    }
  }
  if (ins.kind !== 'copy' && ins.kind !== 'add') return;
  if (ins.kind === 'copy' && ins.from !== undefined) return;
  const named = new Set<string>();
  for (const src of ins.sources) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(src)) continue;
    const clean = src.replace(/^\.?\/+/, '').replace(/\/+$/, '');
    if (SECRET_FILE.test(clean)) named.add(clean);
    else if (input.contextFiles && !/[*?[]/.test(clean)) {
      const prefix = clean === '' || clean === '.' ? '' : clean + '/';
      for (const f of input.contextFiles) if (f.startsWith(prefix) && SECRET_FILE.test(f)) named.add(f);
    }
  }
  for (const f of [...named].slice(0, 5)) {
    rep.report(cmd.cfg, RULES.SecretInLayer, where(cmd.node),
      `${cmd.keyword} writes ${JSON.stringify(f)}, named like a key or credential, into a layer: add it to .dockerignore and mount it with RUN --mount=type=secret`);
  }
}

/** FinalStageRunsAsRoot: the target stage ends with no USER (or root). */
export function checkFinalUser(s: CheckedStage, user: string, rep: Reporter, cfg: CheckConfig): void {
  const u = user.split(':')[0]!.trim();
  if (u !== '' && u !== 'root' && u !== '0') return;
  rep.report(cfg, RULES.FinalStageRunsAsRoot, where(s.node), `the image runs as root${u === '' ? ' (no USER)' : ''}: add USER with a non-root user to this stage`);
}
