/**
 * The build-check rules: BuildKit's 22 (frontend/dockerfile/linter/ruleset.go: names, descriptions, URLs and
 * message texts exactly as BuildKit has them) and tsbuild's own, which need what only a builder that knows its
 * cache can say. A rule's `format` makes the detail line of one warning.
 */

export interface Rule {
  readonly name: string;
  readonly description: string;
  /** BuildKit's documentation page; none for InvalidBaseImagePlatform (as upstream) and tsbuild's own rules. */
  readonly url?: string;
  /** Off unless enabled with `experimental=NAME|all` (BuildKit's Experimental). */
  readonly experimental?: boolean;
  /** True for tsbuild's rules, which BuildKit does not have. */
  readonly tsbuild?: boolean;
  /** For tsbuild's rules: what to change. */
  readonly fix?: string;
}

const doc = (slug: string): string => `https://docs.docker.com/go/dockerfile/rule/${slug}/`;

export const RULES = {
  StageNameCasing: { name: 'StageNameCasing', description: 'Stage names should be lowercase', url: doc('stage-name-casing') },
  FromAsCasing: { name: 'FromAsCasing', description: "The 'as' keyword should match the case of the 'from' keyword", url: doc('from-as-casing') },
  NoEmptyContinuation: { name: 'NoEmptyContinuation', description: 'Empty continuation lines will become errors in a future release', url: doc('no-empty-continuation') },
  ConsistentInstructionCasing: { name: 'ConsistentInstructionCasing', description: 'All commands within the Dockerfile should use the same casing (either upper or lower)', url: doc('consistent-instruction-casing') },
  DuplicateStageName: { name: 'DuplicateStageName', description: 'Stage names should be unique', url: doc('duplicate-stage-name') },
  ReservedStageName: { name: 'ReservedStageName', description: 'Reserved words should not be used as stage names', url: doc('reserved-stage-name') },
  JSONArgsRecommended: { name: 'JSONArgsRecommended', description: 'JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals', url: doc('json-args-recommended') },
  MaintainerDeprecated: { name: 'MaintainerDeprecated', description: 'The MAINTAINER instruction is deprecated, use a label instead to define an image author', url: doc('maintainer-deprecated') },
  UndefinedArgInFrom: { name: 'UndefinedArgInFrom', description: 'FROM command must use declared ARGs', url: doc('undefined-arg-in-from') },
  WorkdirRelativePath: { name: 'WorkdirRelativePath', description: 'Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes', url: doc('workdir-relative-path') },
  UndefinedVar: { name: 'UndefinedVar', description: 'Variables should be defined before their use', url: doc('undefined-var') },
  MultipleInstructionsDisallowed: { name: 'MultipleInstructionsDisallowed', description: 'Multiple instructions of the same type should not be used in the same stage', url: doc('multiple-instructions-disallowed') },
  LegacyKeyValueFormat: { name: 'LegacyKeyValueFormat', description: 'Legacy key/value format with whitespace separator should not be used', url: doc('legacy-key-value-format') },
  InvalidBaseImagePlatform: { name: 'InvalidBaseImagePlatform', description: 'Base image platform does not match expected target platform' },
  RedundantTargetPlatform: { name: 'RedundantTargetPlatform', description: 'Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior', url: doc('redundant-target-platform') },
  SecretsUsedInArgOrEnv: { name: 'SecretsUsedInArgOrEnv', description: 'Sensitive data should not be used in the ARG or ENV commands', url: doc('secrets-used-in-arg-or-env') },
  InvalidDefaultArgInFrom: { name: 'InvalidDefaultArgInFrom', description: 'Default value for global ARG results in an empty or invalid base image name', url: doc('invalid-default-arg-in-from') },
  FromPlatformFlagConstDisallowed: { name: 'FromPlatformFlagConstDisallowed', description: 'FROM --platform flag should not use a constant value', url: doc('from-platform-flag-const-disallowed') },
  CopyIgnoredFile: { name: 'CopyIgnoredFile', description: 'Attempting to Copy file that is excluded by .dockerignore', url: doc('copy-ignored-file') },
  InvalidDefinitionDescription: {
    name: 'InvalidDefinitionDescription',
    description: 'Comment for build stage or argument should follow the format: `# <arg/stage name> <description>`. If this is not intended to be a description comment, add an empty line or comment between the instruction and the comment.',
    url: doc('invalid-definition-description'), experimental: true,
  },
  ExposeProtoCasing: { name: 'ExposeProtoCasing', description: 'Protocol in EXPOSE instruction should be lowercase', url: doc('expose-proto-casing') },
  ExposeInvalidFormat: { name: 'ExposeInvalidFormat', description: 'IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release', url: doc('expose-invalid-format') },

  // tsbuild's own rules (not in BuildKit).
  CopyAllBeforeInstall: {
    name: 'CopyAllBeforeInstall', tsbuild: true,
    description: 'Copying the whole context before a dependency install makes every edit rerun the install',
    fix: 'copy the dependency manifests first (e.g. COPY package.json package-lock.json ./), run the install, then COPY . .',
  },
  FinalStageRunsAsRoot: {
    name: 'FinalStageRunsAsRoot', tsbuild: true, experimental: true,
    description: 'The final stage sets no USER, so the image runs as root',
    fix: 'add a USER instruction with a non-root user (e.g. USER 65534 or a user created in the image) to the final stage',
  },
  SecretInLayer: {
    name: 'SecretInLayer', tsbuild: true,
    description: 'A secret-looking value is written into the image (its config or a layer), where anyone who pulls it can read it',
    fix: 'pass secrets with RUN --mount=type=secret,id=NAME (tsbuild build --secret id=NAME,src=FILE) and keep key files out of the context (.dockerignore)',
  },
  EarlyCacheBust: {
    name: 'EarlyCacheBust', tsbuild: true,
    description: 'An instruction whose result changes on every build comes early, so every step after it runs again each time',
    fix: 'move it to the end of the stage, or make it deterministic (ADD --checksum=sha256:… for a URL; a build arg instead of $(date))',
  },
} as const satisfies Record<string, Rule>;

export type RuleName = keyof typeof RULES;

/** The detail texts, word for word as BuildKit formats them (ruleset.go `Format`). */
export const FORMAT = {
  StageNameCasing: (stage: string) => `Stage name '${stage}' should be lowercase`,
  FromAsCasing: (from: string, as: string) => `'${as}' and '${from}' keywords' casing do not match`,
  NoEmptyContinuation: () => 'Empty continuation line',
  ConsistentInstructionCasing: (cmd: string, casing: string) => `Command '${cmd}' should match the case of the command majority (${casing})`,
  DuplicateStageName: (stage: string) => `Duplicate stage name ${goQuote(stage)}, stage names should be unique`,
  ReservedStageName: (stage: string) => `Stage name should not use the same name as reserved stage ${goQuote(stage)}`,
  JSONArgsRecommended: (ins: string) => `JSON arguments recommended for ${ins} to prevent unintended behavior related to OS signals`,
  MaintainerDeprecated: () => 'Maintainer instruction is deprecated in favor of using label',
  UndefinedArgInFrom: (arg: string, sugg?: string) => `FROM argument '${arg}' is not declared${sugg ? ` (did you mean ${sugg}?)` : ''}`,
  WorkdirRelativePath: (wd: string) => `Relative workdir ${goQuote(wd)} can have unexpected results if the base image changes`,
  UndefinedVar: (v: string, sugg?: string) => `Usage of undefined variable '$${v}'${sugg ? ` (did you mean $${sugg}?)` : ''}`,
  MultipleInstructionsDisallowed: (ins: string) => `Multiple ${ins} instructions should not be used in the same stage because only the last one will be used`,
  LegacyKeyValueFormat: (cmd: string) => `"${cmd} key=value" should be used instead of legacy "${cmd} key value" format`,
  InvalidBaseImagePlatform: (image: string, expected: string, actual: string) => `Base image ${image} was pulled with platform ${goQuote(actual)}, expected ${goQuote(expected)} for current build`,
  RedundantTargetPlatform: (v: string) => `Setting platform to predefined ${v} in FROM is redundant as this is the default behavior`,
  SecretsUsedInArgOrEnv: (ins: string, key: string) => `Do not use ARG or ENV instructions for sensitive data (${ins} ${goQuote(key)})`,
  InvalidDefaultArgInFrom: (base: string) => `Default value for ARG ${base} results in empty or invalid base image name`,
  FromPlatformFlagConstDisallowed: (p: string) => `FROM --platform flag should not use constant value ${goQuote(p)}`,
  CopyIgnoredFile: (cmd: string, file: string) => `Attempting to ${cmd} file ${goQuote(file)} that is excluded by .dockerignore`,
  InvalidDefinitionDescription: (ins: string, name: string) => `Comment for ${ins} should follow the format: \`# ${name} <description>\``,
  ExposeProtoCasing: (port: string) => `Defined protocol '${port}' in EXPOSE instruction should be lowercase`,
  ExposeInvalidFormat: (port: string) => `EXPOSE instruction should not define an IP address or host-port mapping, found '${port}'`,
} as const;

/** Go's %q for the strings rules quote (JSON escaping matches it for printable text). */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** Every rule, BuildKit's first, in the order above. */
export const ALL_RULES: readonly Rule[] = Object.values(RULES);
