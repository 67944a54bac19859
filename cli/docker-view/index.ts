/**
 * What docker shows of images, computed from the OCI documents: `image inspect`'s object, the rows and default
 * tables of `images` and `history`, docker's human sizes and durations, and `import --change`. Pure.
 */
export { dockerImageInspect, familiarName, formatInspectJson, type DockerInspectOptions } from './inspect.js';
export {
  imageRows, historyRows, imagesTableFormat, IMAGE_HEADERS, HISTORY_HEADERS, HISTORY_TABLE_FORMAT,
  type ImageRow, type ImageRowsOptions, type HistoryRowContext,
} from './rows.js';
export { humanSize, humanDuration, since, goTimeString, rfc3339Nano } from './human.js';
export { applyChanges, CHANGE_INSTRUCTIONS } from './changes.js';
