/** Import rules from STYLE.md section 2, checked in the test command. */
const MODULES = ['builder', 'registry-client', 'layer-store', 'cache', 'runtime-exec', 'cli'];
const deepImport = MODULES.map((m) => ({
  name: `no-deep-import-into-${m}`,
  comment: `import ${m} only through its index.ts`,
  severity: 'error',
  from: { pathNot: `^${m}/` },
  to: { path: `^${m}/`, pathNot: [`^${m}/index\\.ts$`, ...(m === 'layer-store' ? ['^layer-store/core/index\\.ts$'] : []),
    // The image commands read stored attestations without loading the builder: esbuild's code splitting loads
    // every module a barrel imports (cli/README.md, Start-up).
    // pull and push likewise load only the builder's transfer verbs (cli/commands/transfer.ts).
    ...(m === 'builder' ? ['^builder/attest/storage\\.ts$', '^builder/pipeline/transfer\\.ts$'] : []),
    // The build command's own barrel: through builder/index.ts its chunk loaded signing, crane and run code.
    ...(m === 'builder' ? ['^builder/build-command\\.ts$'] : [])] },
}));
module.exports = {
  forbidden: [
    ...deepImport,
    { name: 'no-cycles', severity: 'error', from: {}, to: { circular: true } },
    { name: 'core-imports-only-builtins', severity: 'error', from: { path: '^layer-store/core/' },
      to: { pathNot: ['^layer-store/core/', '^node:'], dependencyTypesNot: ['core'] } },
    { name: 'registry-client-only-core', severity: 'error', from: { path: '^registry-client/' },
      to: { path: '^(builder|cache|runtime-exec|cli)/|^layer-store/(?!core/)' } },
    { name: 'runtime-exec-only-core', severity: 'error', from: { path: '^runtime-exec/' },
      to: { path: '^(builder|cache|registry-client|cli)/|^layer-store/(?!core/)' } },
    { name: 'cache-not-registry', severity: 'error', from: { path: '^cache/' },
      to: { path: '^(builder|registry-client|runtime-exec|cli)/' } },
    { name: 'layer-store-depends-on-nothing', severity: 'error', from: { path: '^layer-store/' },
      to: { path: '^(builder|cache|registry-client|runtime-exec|cli)/' } },
    { name: 'image-and-layer-not-store', severity: 'error',
      comment: 'layer-store/image (the document model helpers) and layer-store/layer (pack, apply, compression) sit below the store: the store uses them, never the reverse',
      from: { path: '^layer-store/(image|layer)/' }, to: { path: '^layer-store/store/' } },
    { name: 'frontend-is-pure', severity: 'error', from: { path: '^builder/frontend/' },
      to: { path: '^(cache|registry-client|runtime-exec|cli)/|^layer-store/(?!core/)|^builder/(?!frontend/)' } },
    { name: 'plan-is-pure', severity: 'error',
      comment: 'builder/plan computes configs, history and key material from typed instructions: no I/O, so it imports builder/frontend and layer-store/core only',
      from: { path: '^builder/plan/' },
      to: { path: '^(cache|registry-client|runtime-exec|cli)/|^layer-store/(?!core/)|^builder/(?!(frontend|plan)/)' } },
    { name: 'plan-has-no-effects', severity: 'error',
      comment: 'of the node: builtins, builder/plan may use only node:path (string functions)',
      from: { path: '^builder/plan/' }, to: { dependencyTypes: ['core'], pathNot: '^(node:)?path$' } },
    { name: 'checks-are-pure', severity: 'error',
      comment: 'builder/checks reads a parsed Dockerfile and what its caller knows: it imports builder/frontend, layer-store/core and (types only) builder/context, and no node: builtin',
      from: { path: '^builder/checks/' },
      to: { path: '^(cache|registry-client|runtime-exec|cli)/|^layer-store/(?!core/)|^builder/(?!(frontend|checks|context)/)|^(node:)?(fs|child_process|net|http|https)' } },
    { name: 'builder-not-cli', severity: 'error', from: { path: '^builder/' }, to: { path: '^cli/' } },
    { name: 'sbom-only-scans', severity: 'error',
      comment: 'builder/attest/sbom reads the directories it is given: it imports layer-store (byte-exact names, xattrs) and node: builtins, nothing that builds, runs or talks to a registry',
      from: { path: '^builder/attest/sbom/' },
      to: { path: '^(cache|registry-client|runtime-exec|cli)/|^builder/(?!attest/sbom/)' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules|test)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
