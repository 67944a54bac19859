/** The typed Dockerfile instructions: one discriminated union, every field as the parser leaves it (unexpanded). */
import type { Heredoc } from '../parser/index.js';
import type { ParsedMount } from './mount.js';

export interface InstructionLocation {
  readonly file: string;
  /** First line, 1-based. */
  readonly line: number;
  /** Last line, 1-based. */
  readonly endLine: number;
}

interface Base {
  readonly location: InstructionLocation;
  /** The instruction as written (continuations joined), trimmed. */
  readonly original: string;
}

export interface KeyValue {
  readonly key: string;
  readonly value: string;
  /** True for the legacy `ENV name value` form (no `=`). */
  readonly noDelim: boolean;
}

/** A heredoc used as a COPY/ADD source: the file `path` gets `data` (expanded at build time when `expand`). */
export interface SourceContent {
  readonly path: string;
  readonly data: string;
  readonly expand: boolean;
}

export interface FromInstruction extends Base {
  readonly kind: 'from';
  /** The base image expression as written (expanded with meta args when stages are resolved). */
  readonly image: string;
  /** `AS name`, lower-cased; undefined for an unnamed stage. */
  readonly stageName?: string;
  /** `--platform` as written. */
  readonly platform?: string;
}

export interface RunInstruction extends Base {
  readonly kind: 'run';
  /** Exec form: the argv. Shell form: one string, run with the stage's SHELL. */
  readonly cmdLine: readonly string[];
  /** True for shell form. */
  readonly prependShell: boolean;
  /** Heredocs attached to the command (files fed to the shell). */
  readonly heredocs: readonly Heredoc[];
  /**
   * The `--mount` values, in order, each parsed once (ParsedMount: the value as written, its fields, and what
   * they say before expansion). builder/plan's expandRunMounts turns them into the final RunMount[].
   */
  readonly mounts: readonly ParsedMount[];
  readonly network?: 'default' | 'none' | 'host';
  readonly security?: 'sandbox' | 'insecure';
  readonly flagsUsed: readonly string[];
}

interface CopyLike extends Base {
  readonly sources: readonly string[];
  readonly sourceContents: readonly SourceContent[];
  readonly dest: string;
  readonly chown?: string;
  readonly chmod?: string;
  readonly link: boolean;
  readonly exclude: readonly string[];
}

export interface CopyInstruction extends CopyLike {
  readonly kind: 'copy';
  /** `--from=` as written: a stage name, a stage index, or an image reference. */
  readonly from?: string;
  readonly parents: boolean;
}

export interface AddInstruction extends CopyLike {
  readonly kind: 'add';
  readonly keepGitDir: boolean;
  readonly checksum?: string;
  /** `--unpack` when given (undefined: the default, unpack local archives only). */
  readonly unpack?: boolean;
}

export interface EnvInstruction extends Base {
  readonly kind: 'env';
  readonly pairs: readonly KeyValue[];
}
export interface ArgDeclaration {
  readonly key: string;
  /** The default as written; undefined for `ARG NAME`. */
  readonly value?: string;
}
export interface ArgInstruction extends Base {
  readonly kind: 'arg';
  readonly args: readonly ArgDeclaration[];
}
export interface LabelInstruction extends Base {
  readonly kind: 'label';
  readonly pairs: readonly KeyValue[];
}
export interface ExposeInstruction extends Base {
  readonly kind: 'expose';
  /** Sorted as BuildKit does; each entry may expand into several ports (processWords). */
  readonly ports: readonly string[];
}
export interface VolumeInstruction extends Base {
  readonly kind: 'volume';
  readonly volumes: readonly string[];
}
export interface UserInstruction extends Base {
  readonly kind: 'user';
  readonly user: string;
}
export interface WorkdirInstruction extends Base {
  readonly kind: 'workdir';
  readonly path: string;
}
export interface CmdInstruction extends Base {
  readonly kind: 'cmd';
  readonly cmdLine: readonly string[];
  readonly prependShell: boolean;
}
export interface EntrypointInstruction extends Base {
  readonly kind: 'entrypoint';
  /** Empty (`ENTRYPOINT []`) clears the entrypoint. */
  readonly cmdLine: readonly string[];
  readonly prependShell: boolean;
}
export interface ShellInstruction extends Base {
  readonly kind: 'shell';
  readonly shell: readonly string[];
}
export interface StopSignalInstruction extends Base {
  readonly kind: 'stopsignal';
  readonly signal: string;
}
export interface HealthConfig {
  /** `["NONE"]`, `["CMD", ...argv]` or `["CMD-SHELL", command]` (OCI/Docker config form). */
  readonly test: readonly string[];
  /** Durations in nanoseconds; 0 = inherit the default. */
  readonly interval: number;
  readonly timeout: number;
  readonly startPeriod: number;
  readonly startInterval: number;
  readonly retries: number;
}
export interface HealthcheckInstruction extends Base {
  readonly kind: 'healthcheck';
  readonly health: HealthConfig;
}
export interface OnbuildInstruction extends Base {
  readonly kind: 'onbuild';
  /** The trigger text stored in the image config (`OnBuild`), heredoc bodies appended as BuildKit does. */
  readonly expression: string;
  /** The wrapped instruction, parsed and validated. */
  readonly trigger: Instruction;
}
export interface MaintainerInstruction extends Base {
  readonly kind: 'maintainer';
  readonly maintainer: string;
}

export type Instruction =
  | FromInstruction | RunInstruction | CopyInstruction | AddInstruction | EnvInstruction | ArgInstruction
  | LabelInstruction | ExposeInstruction | VolumeInstruction | UserInstruction | WorkdirInstruction | CmdInstruction
  | EntrypointInstruction | ShellInstruction | StopSignalInstruction | HealthcheckInstruction | OnbuildInstruction
  | MaintainerInstruction;

export type InstructionKind = Instruction['kind'];

/** Every instruction keyword tsbuild (and BuildKit) accepts. */
export const INSTRUCTIONS: readonly InstructionKind[] = [
  'from', 'run', 'copy', 'add', 'env', 'arg', 'label', 'expose', 'volume', 'user', 'workdir', 'cmd', 'entrypoint',
  'shell', 'stopsignal', 'healthcheck', 'onbuild', 'maintainer',
];

