// Structured clinical entries (vital signs, lab results, problems) for every door alike, with
// the lifecycle of seed 001's "Four Commit Actions": create (a new file), update (a new version
// of the same file, for a correction), superseded (a new entry that names the one it replaces;
// the old file stays as it was). Which entries are current is the projection's answer, as is
// the list of a patient's entries of a kind over a time range.
import { VprError, invalidInput } from '../core/errors.js';
import { parseTimestampId, type TimestampId } from '../core/ids/timestamp-id.js';
import type { RecordId } from '../core/ids/record-id.js';
import { parseVersion } from '../core/record/record-store.js';
import {
  ENTRY_KINDS,
  isEntryKind,
  parseEntryInput,
  readEntryComposition,
  renderEntryComposition,
  type StoredEntry,
} from '../core/clinical/entries.js';
import { entryPath } from '../core/clinical/entry-layout.js';
import {
  listEntries,
  supersession,
  type EntryFilter,
  type EntrySummary,
  type Page,
} from '../projection/clinical-queries.js';
import { assertItemVersion, contentVersion, type ClinicalRecord, type FileReader } from './record-access.js';
import type { Actor } from './patient-service.js';

export interface EntryView {
  readonly entry_id: string;
  readonly kind: string;
  readonly patient_id: string;
  readonly clinical_id: string;
  /** The entry's version (its ETag). */
  readonly version: string;
  readonly commit: string;
  readonly recorded_at: string;
  readonly composer: { readonly name: string; readonly role: string };
  readonly supersedes: string | null;
  readonly superseded_by: string | null;
  readonly data: Readonly<Record<string, unknown>>;
}

const ENTRY_TRAILER = 'Entry-Id';

/** One entry at a commit; NOT_FOUND when there is none of this kind and id. */
async function readEntry(
  record: ClinicalRecord,
  clinicalId: RecordId,
  kind: unknown,
  entryId: TimestampId,
  at: string,
): Promise<{ path: string; content: Buffer; entry: StoredEntry }> {
  return readEntryFile(kind, entryId, record.filesAt(clinicalId, at));
}

/** One entry's file, read by `readFile` (at a commit, or as a commit wrote it). */
async function readEntryFile(
  kind: unknown,
  entryId: TimestampId,
  readFile: FileReader,
): Promise<{ path: string; content: Buffer; entry: StoredEntry }> {
  if (!isEntryKind(kind)) throw invalidInput('kind', `must be one of ${ENTRY_KINDS.join(', ')}`);
  const path = entryPath(kind, entryId);
  const content = await readFile(path);
  const entry = content === undefined ? undefined : readEntryComposition(content.toString('utf8'));
  if (content === undefined || entry === undefined) {
    throw new VprError('NOT_FOUND', 'no entry of this kind with this id at this version', {
      details: { entry_id: entryId },
    });
  }
  return { path, content, entry };
}

/** The wire form of one entry as stored at `commit`. */
function entryView(
  patientId: string,
  clinicalId: RecordId,
  commit: string,
  content: Buffer,
  entry: StoredEntry,
  supersededBy: string | null,
): EntryView {
  return {
    entry_id: entry.entryId,
    kind: entry.kind,
    patient_id: patientId,
    clinical_id: clinicalId,
    version: contentVersion(content),
    commit,
    recorded_at: entry.recordedAt,
    composer: { name: entry.composer.name, role: entry.composer.role },
    supersedes: entry.supersedes ?? null,
    superseded_by: supersededBy,
    data: entry.entry as unknown as Record<string, unknown>,
  };
}

export class EntryService {
  readonly #record: ClinicalRecord;

  constructor(record: ClinicalRecord) {
    this.#record = record;
  }

  /** Which entry supersedes this one (the projection's answer), and as of which commit. */
  async #supersession(clinicalId: RecordId, entryId: string) {
    return supersession(this.#record.projection.client, 'clinical_entries', clinicalId, entryId).catch(
      () => ({
        supersededBy: null,
        projectedHead: null,
      }),
    );
  }

  /**
   * Which entry supersedes `entryId` as of `head`, waiting briefly for the projection to reach
   * that commit (a racing supersede's projection lands just after its commit); the projection
   * must answer for that very commit, or two supersedes of one entry could both succeed.
   */
  async #supersessionAt(clinicalId: RecordId, entryId: string, head: string): Promise<string | null> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const known = await supersession(
        this.#record.projection.client,
        'clinical_entries',
        clinicalId,
        entryId,
      );
      if (known.projectedHead === head) return known.supersededBy;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new VprError(
      'PROJECTION_UNAVAILABLE',
      'the projection has not caught up with this record; try again shortly',
    );
  }

  async #write(
    actor: Actor,
    patientId: unknown,
    kind: unknown,
    body: unknown,
    supersedes?: TimestampId,
  ): Promise<EntryView> {
    const input = parseEntryInput(kind, body, this.#record.now());
    const clinicalId = await this.#record.idForWrite(patientId);
    const entryId = this.#record.ids.next();
    const text = renderEntryComposition({
      entryId,
      entry: input,
      composer: { name: actor.author.name, role: actor.author.role },
      ...(supersedes === undefined ? {} : { supersedes }),
    });
    const committed = await this.#record.commitItem(actor, clinicalId, async (head) => {
      if (supersedes !== undefined) {
        // Against the HEAD the commit will have as parent: the entry exists, and nothing newer
        // supersedes it already (the projection's answer, asked as of this HEAD).
        await readEntry(this.#record, clinicalId, input.kind, supersedes, head);
        const known = await this.#supersessionAt(clinicalId, supersedes, head);
        if (known !== null) {
          throw new VprError('INVALID_STATE', 'this entry is superseded already; supersede the newer one', {
            details: { entry_id: supersedes, superseded_by: known },
          });
        }
      }
      return {
        changes: [{ path: entryPath(input.kind, entryId), content: text }],
        action: supersedes === undefined ? 'create' : 'superseded',
        summary:
          supersedes === undefined ? `Recorded ${input.kind}` : `Superseded ${input.kind} ${supersedes}`,
        trailers: [{ key: ENTRY_TRAILER, value: entryId }],
      };
    });
    // Answered from the bytes just committed: a new entry is superseded by nothing yet.
    const { content, entry } = await readEntryFile(
      input.kind,
      entryId,
      await this.#record.filesCommitted(clinicalId, committed),
    );
    return entryView(String(patientId), clinicalId, committed.commit, content, entry, null);
  }

  /** Records a new entry of `kind`. */
  async add(actor: Actor, patientId: unknown, kind: unknown, body: unknown): Promise<EntryView> {
    return this.#write(actor, patientId, kind, body);
  }

  /** A new entry of the same kind that replaces `entryId`; the old entry is kept as it was. */
  async supersede(
    actor: Actor,
    patientId: unknown,
    kind: unknown,
    entryId: unknown,
    body: unknown,
  ): Promise<EntryView> {
    return this.#write(actor, patientId, kind, body, parseTimestampId(entryId, 'entry_id'));
  }

  /** A correction: a new version of the same entry file. If-Match is required. */
  async update(
    actor: Actor,
    patientId: unknown,
    kind: unknown,
    entryId: unknown,
    expected: string | undefined,
    body: unknown,
  ): Promise<EntryView> {
    const id = parseTimestampId(entryId, 'entry_id');
    if (expected === undefined) {
      throw new VprError(
        'PRECONDITION_REQUIRED',
        'an update must name the version of the entry it is based on (If-Match)',
      );
    }
    const input = parseEntryInput(kind, body, this.#record.now());
    const clinicalId = await this.#record.idForWrite(patientId);
    const { commit } = await this.#record.commitItem(actor, clinicalId, async (head) => {
      const current = await readEntry(this.#record, clinicalId, input.kind, id, head);
      assertItemVersion(contentVersion(current.content), expected, 'entry');
      const text = renderEntryComposition({
        entryId: id,
        entry: input,
        // The entry's composer stays; who corrected it is the commit's author.
        composer: current.entry.composer,
        ...(current.entry.supersedes === undefined ? {} : { supersedes: current.entry.supersedes }),
      });
      if (text === current.content.toString('utf8')) return undefined; // the same entry: nothing to commit
      return {
        changes: [{ path: current.path, content: text }],
        action: 'update',
        summary: `Corrected ${current.entry.kind}`,
        trailers: [{ key: ENTRY_TRAILER, value: id }],
      };
    });
    return this.get(patientId, kind, id, commit);
  }

  async get(patientId: unknown, kind: unknown, entryId: unknown, version?: string): Promise<EntryView> {
    const clinicalId = await this.#record.idOf(patientId);
    const id = parseTimestampId(entryId, 'entry_id');
    const head = this.#record.head(clinicalId);
    const at = version === undefined ? head : parseVersion(version, 'version');
    if (at === undefined)
      throw new VprError('NOT_FOUND', 'no entry with this id', { details: { entry_id: id } });
    return this.#record.viewAtHead(
      clinicalId,
      at,
      `entry-view/${clinicalId}/${at}/${String(kind)}/${id}`,
      async () => {
        const { content, entry } = await readEntry(this.#record, clinicalId, kind, id, at);
        const { supersededBy, projectedHead } = await this.#supersession(clinicalId, id);
        return {
          view: entryView(String(patientId), clinicalId, at, content, entry, supersededBy),
          cacheable: at === head && projectedHead === head,
        };
      },
    );
  }

  /** A patient's entries, newest first, from the projection. */
  async list(patientId: unknown, filter: EntryFilter = {}): Promise<Page<EntrySummary>> {
    const clinicalId = await this.#record.idOf(patientId);
    return listEntries(this.#record.projection.client, clinicalId, filter);
  }
}
