// The rows a clinical repository contributes besides its documents: one per letter (title,
// snippet of its body, status, composer, care location, what it references) and one per
// structured entry (kind, time, one-line summary, what it supersedes). Built from the files
// alone, so the incremental projector, the full projector and the reindex agree. Which letters
// and entries are superseded is not stored: it is a question of whether a newer row references
// them, asked at query time, so no row ever has to change because another one arrived.
import { entrySummary, readEntryComposition } from '../core/clinical/entries.js';
import { entryOfPath } from '../core/clinical/entry-layout.js';
import {
  LETTER_BODY,
  LETTER_COMPOSITION,
  letterIdOfPath,
  readLetterComposition,
} from '../core/clinical/letter.js';
import type { TimestampId } from '../core/ids/timestamp-id.js';

export interface LetterRow {
  readonly clinicalId: string;
  readonly letterId: string;
  readonly title: string;
  readonly snippet: string;
  readonly status: string;
  readonly composerName: string;
  readonly composerRole: string;
  /** Lower case: the sign-off queue's "for one author" filter. */
  readonly composerEmail: string;
  readonly careLocation: string;
  readonly startTime: string | null;
  readonly referencesLetter: string | null;
  readonly hasBody: boolean;
  readonly attachmentCount: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly commitSha: string;
}

export interface EntryRow {
  readonly clinicalId: string;
  readonly entryId: string;
  readonly entryKind: string;
  readonly path: string;
  readonly recordedAt: string;
  readonly title: string;
  readonly summary: string;
  readonly supersedes: string | null;
  /** The entry's values as JSON text (jsonb in the database). */
  readonly data: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly commitSha: string;
}

/** When a file was first added and last changed, and by which commit. */
export interface FileDates {
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly commitSha: string;
}

const SNIPPET_LENGTH = 160;

function snippetOf(markdown: string): string {
  const flat = markdown
    .replace(/^#{1,6}\s+/gm, '')
    .replace(/[*_`>]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return flat.length <= SNIPPET_LENGTH ? flat : `${flat.slice(0, SNIPPET_LENGTH - 1)}…`;
}

const later = (a: FileDates, b: FileDates | undefined): FileDates =>
  b !== undefined && b.updatedAt > a.updatedAt ? { ...a, updatedAt: b.updatedAt, commitSha: b.commitSha } : a;

/** The row of one letter from its composition (and body, when it has one); undefined if not a letter. */
export function letterRowOf(
  clinicalId: string,
  composition: { text: string; dates: FileDates },
  body: { text: string; dates: FileDates } | undefined,
): LetterRow | undefined {
  const letter = readLetterComposition(composition.text);
  if (letter === undefined) return undefined;
  const dates = later(composition.dates, body?.dates);
  const startTime =
    letter.startTime === '' || Number.isNaN(Date.parse(letter.startTime)) ? null : letter.startTime;
  return {
    clinicalId,
    letterId: letter.letterId,
    title: letter.title,
    snippet:
      body !== undefined && letter.hasBody
        ? snippetOf(body.text)
        : letter.attachments.map((a) => a.original_filename).join(', '),
    status: letter.status,
    composerName: letter.composer.name,
    composerRole: letter.composer.role,
    composerEmail: letter.composer.email.toLowerCase(),
    careLocation: letter.careLocation,
    startTime,
    referencesLetter: letter.references ?? null,
    hasBody: letter.hasBody,
    attachmentCount: letter.attachments.length,
    createdAt: composition.dates.createdAt,
    updatedAt: dates.updatedAt,
    commitSha: dates.commitSha,
  };
}

/** The row of one entry file; undefined when the file is not an entry composition. */
export function entryRowOf(
  clinicalId: string,
  path: string,
  text: string,
  dates: FileDates,
): EntryRow | undefined {
  const where = entryOfPath(path);
  if (where === undefined) return undefined;
  const entry = readEntryComposition(text);
  if (entry === undefined || entry.entryId !== where.entryId || Number.isNaN(Date.parse(entry.recordedAt))) {
    return undefined;
  }
  const summary = entrySummary(entry);
  return {
    clinicalId,
    entryId: entry.entryId,
    entryKind: entry.kind,
    path,
    recordedAt: new Date(entry.recordedAt).toISOString(),
    title: summary.title,
    summary: summary.snippet,
    supersedes: entry.supersedes ?? null,
    data: JSON.stringify(entry.entry),
    createdAt: dates.createdAt,
    updatedAt: dates.updatedAt,
    commitSha: dates.commitSha,
  };
}

/** The clinical rows of a whole repository, from every file at HEAD (full projection, reindex). */
export class ClinicalRowCollector {
  readonly #clinicalId: string;
  readonly #letters = new Map<
    TimestampId,
    { composition?: { text: string; dates: FileDates }; body?: { text: string; dates: FileDates } }
  >();
  readonly #entries: EntryRow[] = [];

  constructor(clinicalId: string) {
    this.#clinicalId = clinicalId;
  }

  /** Offers one file; the collector keeps what it needs of letter and entry files. */
  add(path: string, content: Buffer, dates: FileDates): void {
    const letterId = letterIdOfPath(path);
    if (letterId !== undefined) {
      const name = path.slice(path.lastIndexOf('/') + 1);
      if (path.split('/').length !== 4 || (name !== LETTER_COMPOSITION && name !== LETTER_BODY)) return;
      const files = this.#letters.get(letterId) ?? {};
      files[name === LETTER_COMPOSITION ? 'composition' : 'body'] = { text: content.toString('utf8'), dates };
      this.#letters.set(letterId, files);
      return;
    }
    const entry = entryRowOf(this.#clinicalId, path, content.toString('utf8'), dates);
    if (entry !== undefined) this.#entries.push(entry);
  }

  rows(): { letters: LetterRow[]; entries: EntryRow[] } {
    const letters = [...this.#letters.values()].flatMap((files) => {
      if (files.composition === undefined) return [];
      return letterRowOf(this.#clinicalId, files.composition, files.body) ?? [];
    });
    return { letters, entries: this.#entries };
  }
}
