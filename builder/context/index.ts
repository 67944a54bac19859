/**
 * builder/context: the build context as Docker sees it: .dockerignore (exact moby semantics),
 * a sorted walk that never follows symlinks, and COPY/ADD source selection.
 */
export { ContextError, MissingSourceError } from './errors.js';
export { ContextMatcher, goClean, loadDockerignore, parseDockerignore, type DockerignoreInfo } from './dockerignore.js';
export { compareNames, listContext, walkContext, type ContextEntry, type ContextEntryType, type WalkOptions } from './walk.js';
export { selectSources, type SelectedSource, type SourceSelection } from './select.js';
export { compileGoMatch, goMatch, hasWildcards } from './gomatch.js';
export { selectParents, selectParentsSources, splitPivot, type ParentsSource } from './parents.js';
export { isGitRef, parseGitRef, redactRemote, showGitRef, type GitRef } from './git-ref.js';
export { fetchGitRef, GitError, type GitCheckout, type GitFetchOptions } from './remote-git.js';
export { pruneGitCache, type GitCachePruneOptions, type GitCachePruneReport } from './git-cache.js';
export { downloadContext, downloadFile, isHttpContext, type DownloadedContext } from './remote-tar.js';
