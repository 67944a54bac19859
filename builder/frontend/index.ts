/** builder/frontend: parser (syntax), instructions (meaning), shell (expansion), stages (graph). Pure. */
export type * from './parser/ast.js';
export * from './parser/index.js';
export * from './instructions/index.js';
export * from './shell/index.js';
export * from './stages/index.js';
export { DockerfileError, editDistance, suggest } from './errors.js';
export { BUILTIN_DOCKERFILE_VERSION, chooseFrontend, detectSyntax, type FrontendChoice, type SyntaxDirective } from './syntax.js';
