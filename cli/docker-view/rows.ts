/**
 * The rows `images` and `history` format, as docker's formatter contexts present them to `--format` templates
 * (docker/cli cli/command/formatter image.go and image/formatter_history.go): the same field names, values as
 * strings, the same headers and default tables.
 */
import { digestHex, familiarRepository, splitTagName, type HistoryRow, type ImageSummary } from '../../layer-store/index.js';
import { goStruct } from '../go-template/index.js';
import { goTimeString, humanSize, since } from './human.js';

/** One row of `images`: docker's ImageContext fields. */
export interface ImageRow {
  readonly Containers: string;
  readonly CreatedAt: string;
  readonly CreatedSince: string;
  readonly Digest: string;
  readonly ID: string;
  readonly Repository: string;
  readonly SharedSize: string;
  readonly Size: string;
  readonly Tag: string;
  readonly UniqueSize: string;
  readonly VirtualSize: string;
}

/** The column titles of `images` fields (docker's). */
export const IMAGE_HEADERS: Readonly<Record<keyof ImageRow, string>> = {
  Containers: 'CONTAINERS', CreatedAt: 'CREATED AT', CreatedSince: 'CREATED', Digest: 'DIGEST', ID: 'IMAGE ID',
  Repository: 'REPOSITORY', SharedSize: 'SHARED SIZE', Size: 'SIZE', Tag: 'TAG', UniqueSize: 'UNIQUE SIZE', VirtualSize: 'SIZE',
};

/** Returns docker's default `images` table template (with a DIGEST column when `digests`). */
export function imagesTableFormat(o: { digests?: boolean } = {}): string {
  return `table {{.Repository}}\t{{.Tag}}\t${o.digests ? '{{.Digest}}\t' : ''}{{.ID}}\t{{.CreatedSince}}\t{{.Size}}`;
}

/** Options of imageRows. */
export interface ImageRowsOptions {
  /** Full `sha256:…` IDs instead of 12 hex digits (`--no-trunc`). */
  readonly noTrunc?: boolean;
  /** Reference for "ago" (ms since the epoch; default now). */
  readonly now?: number;
}

/**
 * Returns one row per name of each image (one `<none>` row for an unnamed image), in the order given; a name that
 * a `keep` predicate rejects is left out (docker lists only the names matching `images REPO[:TAG]`).
 */
export function imageRows(images: readonly ImageSummary[], o: ImageRowsOptions & { keep?: (name: string) => boolean } = {}): ImageRow[] {
  const rows: ImageRow[] = [];
  for (const s of images) {
    const size = humanSize(s.size);
    const base = {
      Containers: 'N/A', CreatedAt: goTimeString(s.created), CreatedSince: since(s.created, o.now),
      ID: o.noTrunc ? s.id : digestHex(s.id).slice(0, 12), SharedSize: 'N/A', Size: size, UniqueSize: 'N/A', VirtualSize: size,
    };
    const names = s.names.filter((n) => !o.keep || o.keep(n));
    if (s.names.length === 0) rows.push({ ...base, Digest: '<none>', Repository: '<none>', Tag: '<none>' });
    for (const n of names) {
      const { repository, tag } = splitTagName(n);
      rows.push({ ...base, Digest: s.descriptor.digest, Repository: familiarRepository(repository), Tag: tag });
    }
  }
  return sortRows(rows).map((r) => goStruct(r, [], { sortedJson: true }));
}

/** Docker's order: newest first, then by repository and tag. */
function sortRows(rows: ImageRow[]): ImageRow[] {
  return rows
    .map((r, i) => ({ r, i }))
    .sort((a, b) => (b.r.CreatedAt.localeCompare(a.r.CreatedAt)) || a.r.Repository.localeCompare(b.r.Repository) || a.r.Tag.localeCompare(b.r.Tag) || a.i - b.i)
    .map((x) => x.r);
}

/** One row of `history`: docker's historyContext fields. */
export interface HistoryRowContext {
  readonly ID: string;
  readonly CreatedSince: string;
  readonly CreatedAt: string;
  readonly CreatedBy: string;
  readonly Size: string;
  readonly Comment: string;
}

export const HISTORY_HEADERS: Readonly<Record<keyof HistoryRowContext, string>> = {
  ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT',
};

export const HISTORY_TABLE_FORMAT = 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';

/**
 * Returns docker's history rows for an image's history (newest first): the top row carries the image ID (12 hex
 * digits, or the full ID with `noTrunc`), older ones `<missing>`; CREATED BY is cut to 45 characters with "…"
 * unless `noTrunc`; SIZE is the layer's stored size (0B for an entry without a layer); `human: false` gives
 * RFC 3339 times and byte counts, as `docker history -H=false`.
 */
export function historyRows(id: string, rows: readonly HistoryRow[], o: { noTrunc?: boolean; human?: boolean; now?: number } = {}): HistoryRowContext[] {
  const human = o.human ?? true;
  return rows.map((r, i) => {
    const by = r.createdBy.replace(/\t/g, ' ');
    const runes = [...by];
    const createdAt = r.created ? new Date(r.created).toISOString().replace(/\.\d+Z$/, 'Z') : '';
    return goStruct({
      ID: i === 0 ? (o.noTrunc ? id : digestHex(id as never).slice(0, 12)) : '<missing>',
      CreatedSince: human ? since(r.created, o.now) : createdAt,
      CreatedAt: createdAt,
      CreatedBy: o.noTrunc || runes.length <= 45 ? by : runes.slice(0, 44).join('') + '…',
      Size: human ? humanSize(r.layer?.size ?? 0) : String(r.layer?.size ?? 0),
      Comment: r.comment ?? '',
    }, [], { sortedJson: true });
  });
}
