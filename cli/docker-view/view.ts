/**
 * docker-view without `import --change` (changes.ts), which needs the builder's Dockerfile front end: what the
 * image commands (`images`, `inspect`, `history`, `du`) import, so that their bundle chunk leaves the builder out
 * (see cli/README.md, Start-up). index.ts re-exports all of it.
 */
export { dockerImageInspect, familiarName, formatInspectJson, type DockerInspectOptions } from './inspect.js';
export {
  imageRows, historyRows, imagesTableFormat, IMAGE_HEADERS, HISTORY_HEADERS, HISTORY_TABLE_FORMAT,
  type ImageRow, type ImageRowsOptions, type HistoryRowContext,
} from './rows.js';
export { humanSize, humanDuration, since, goTimeString, rfc3339Nano } from './human.js';
