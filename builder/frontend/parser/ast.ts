/**
 * The raw Dockerfile parse tree (BuildKit's parser layer): syntax only, before variable expansion,
 * quote removal and instruction validation. Every node carries its 1-based source lines.
 */

export type EscapeToken = '\\' | '`';

export interface Heredoc {
  /** The delimiter word with quotes removed (`<<'EOF'` → `EOF`). */
  readonly name: string;
  /** The body: every line up to the terminator, each with its newline (`""` when empty). */
  readonly content: string;
  /** False when any part of the delimiter was quoted: the body is then not variable-expanded. */
  readonly expand: boolean;
  /** True for `<<-NAME`: leading tabs are stripped from the body at build time. */
  readonly chomp: boolean;
  /** The file descriptor for `N<<NAME`, when given. */
  readonly fileDescriptor?: number;
}

export interface InstructionNode {
  /** The keyword, lower case (`from`, `run`, …); unknown words are kept here, rejected later. */
  readonly cmd: string;
  /** The logical line as written after joining continuations (keyword included). */
  readonly original: string;
  /** Leading `--flag[=value]` words as written, quotes removed, e.g. `--from=builder`. */
  readonly flags: readonly string[];
  /** Arguments after line-level parsing, before expansion, exactly as BuildKit's parser splits them. */
  readonly args: readonly string[];
  /** True for exec (JSON array) form. */
  readonly json: boolean;
  readonly heredocs: readonly Heredoc[];
  /** First line, 1-based. */
  readonly line: number;
  /** Last line, 1-based (heredoc bodies included). */
  readonly endLine: number;
  /** For ONBUILD: the wrapped instruction. */
  readonly next?: InstructionNode;
  /**
   * The comment lines right above the instruction (BuildKit's PrevComment), `#` and surrounding space removed,
   * in order; a bare `#` line clears them, blank lines do not, parser directives are not comments. Absent when none. Build checks read
   * `# check=…` and description comments from them.
   */
  readonly comments?: readonly string[];
}

export interface ParserDirectives {
  readonly syntax?: string;
  readonly escape: EscapeToken;
  readonly check?: string;
}

export interface ParseWarning {
  readonly message: string;
  readonly line: number;
}

export interface DockerfileAst {
  /** The file name used in error locations. */
  readonly file: string;
  readonly directives: ParserDirectives;
  /** Instructions in file order. */
  readonly children: readonly InstructionNode[];
  readonly warnings: readonly ParseWarning[];
  /** Lines spanned by the instructions (first instruction's line to last instruction's endLine). */
  readonly line: number;
  readonly endLine: number;
}
