// Letters (seed 001 "VPR Letters", seed 003 "letters needing sign-off") for every door alike:
// create (with a Markdown body, attachments, or both; as a draft or signed off at once), read
// at HEAD or at any version, edit (a new commit; an edit of a signed letter makes it a draft
// again), supersede by a new letter that references the old, sign off (its own commit), the
// letter's history with diffs, a patient's letters and the sign-off queue from the projection,
// and attachments streamed in and out of the repository's content-addressed file store.
//
// Order of work on create: validate the letter, check the patient and what it references, then
// stream each attachment into the file store (bounded), then one commit. If the commit fails,
// the bytes it would have referenced are removed again: no orphan files.
import type { Readable } from 'node:stream';
import { parseCommitMessage } from '../core/commit/commit-message.js';
import { VprError, invalidInput, isVprError } from '../core/errors.js';
import type { StoredFile } from '../core/files/file-store.js';
import type { ObjectId } from '../core/git/git-object.js';
import type { RecordId } from '../core/ids/record-id.js';
import { parseTimestampId, type TimestampId } from '../core/ids/timestamp-id.js';
import { parseVersion } from '../core/record/record-store.js';
import {
  MAX_ATTACHMENTS,
  assertLetterHasContent,
  canSignOff,
  letterBodyPath,
  letterCompositionPath,
  letterDir,
  parseLetterInput,
  readLetterComposition,
  renderLetterComposition,
  type ClinicalList,
  type FileReference,
  type LetterComposition,
  type LetterInput,
} from '../core/clinical/letter.js';
import {
  listLetters,
  signOffQueue,
  supersession,
  type LetterSummary,
  type Page,
  type SignOffFilter,
} from '../projection/clinical-queries.js';
import { assertItemVersion, contentVersion, type ClinicalRecord, type FileReader } from './record-access.js';
import { isCommitPrepared } from './commit-signing.js';
import type { Actor } from './patient-service.js';

/** One file of an upload, in the order the client sent it. */
export interface Upload {
  readonly filename: unknown;
  readonly stream: AsyncIterable<Buffer | Uint8Array>;
}

export interface LetterView {
  readonly letter_id: string;
  readonly patient_id: string;
  readonly clinical_id: string;
  /** The letter's version: its ETag, changed by every edit of its files. */
  readonly version: string;
  /** The clinical repository commit this view was read at. */
  readonly commit: string;
  readonly title: string;
  readonly status: 'draft' | 'signed';
  readonly composer: { readonly name: string; readonly role: string };
  readonly care_location: string;
  readonly start_time: string;
  readonly body: string | null;
  readonly clinical_lists: readonly ClinicalList[];
  readonly attachments: readonly FileReference[];
  readonly references: string | null;
  /** The newer letter that references this one, if the projection knows of one. */
  readonly superseded_by: string | null;
  readonly signed_off: {
    readonly name: string;
    readonly role: string;
    readonly registrations: readonly string[];
    readonly at: string;
  } | null;
}

export interface LetterHistoryEntry {
  readonly commit: string;
  readonly occurred_at: string;
  readonly author: string;
  readonly action: string;
  readonly summary: string;
  readonly diff?: string;
}

export interface AttachmentDownload {
  readonly file: FileReference;
  readonly stream: Readable;
}

const LETTER_TRAILER = 'Letter-Id';

/** One letter's files, read by `readFile` (at a commit, or as a commit wrote them). */
async function readLetter(letterId: TimestampId, readFile: FileReader) {
  const composition = await readFile(letterCompositionPath(letterId));
  const letter = composition === undefined ? undefined : readLetterComposition(composition.toString('utf8'));
  if (composition === undefined || letter === undefined) {
    throw new VprError('NOT_FOUND', 'no letter with this id at this version', {
      details: { letter_id: letterId },
    });
  }
  const body = letter.hasBody ? await readFile(letterBodyPath(letterId)) : undefined;
  return { letter, composition, body, version: contentVersion(composition, body) };
}

export class LetterService {
  readonly #record: ClinicalRecord;

  constructor(record: ClinicalRecord) {
    this.#record = record;
  }

  async #read(clinicalId: RecordId, letterId: TimestampId, version?: string) {
    return readLetter(letterId, this.#record.filesAt(clinicalId, version));
  }

  #view(
    patientId: string,
    clinicalId: RecordId,
    commit: string,
    read: { letter: LetterComposition; body: Buffer | undefined; version: string },
    supersededBy: string | null,
  ): LetterView {
    const { letter } = read;
    return {
      letter_id: letter.letterId,
      patient_id: patientId,
      clinical_id: clinicalId,
      version: read.version,
      commit,
      title: letter.title,
      status: letter.status,
      composer: { name: letter.composer.name, role: letter.composer.role },
      care_location: letter.careLocation,
      start_time: letter.startTime,
      body: read.body === undefined ? null : read.body.toString('utf8'),
      clinical_lists: letter.clinicalLists,
      attachments: letter.attachments,
      references: letter.references ?? null,
      superseded_by: supersededBy,
      signed_off:
        letter.signedOff === undefined
          ? null
          : {
              name: letter.signedOff.name,
              role: letter.signedOff.role,
              registrations: letter.signedOff.registrations.map((r) => `${r.authority} ${r.number}`),
              at: letter.signedOff.at,
            },
    };
  }

  /** Which letter supersedes this one (the projection's answer), and as of which commit. */
  async #supersession(clinicalId: RecordId, letterId: string) {
    // If the projection cannot answer, the letter is still served (and not cached).
    return supersession(this.#record.projection.client, 'letters', clinicalId, letterId).catch(() => ({
      supersededBy: null,
      projectedHead: null,
    }));
  }

  async #store(
    files: readonly StoredFile[],
    clinicalId: RecordId,
    upload: Upload,
    index: number,
  ): Promise<StoredFile> {
    if (files.length >= MAX_ATTACHMENTS) {
      throw invalidInput('attachments', `a letter may have at most ${MAX_ATTACHMENTS} attachments`);
    }
    return this.#record
      .files(clinicalId)
      .put(upload.stream, {
        originalFilename: upload.filename as string,
      })
      .catch((error: unknown) => {
        // Name the attachment a field error is about; other errors (size, storage) pass as they are.
        const field = isVprError(error) ? error.details?.field : undefined;
        if (isVprError(error) && (field === 'filename' || field === 'file')) {
          throw new VprError(
            error.code,
            error.message.replace(/^[^:]+:/, `attachments[${index}].${field}:`),
            {
              details: { ...error.details, field: `attachments[${index}].${field}` },
            },
          );
        }
        throw error;
      });
  }

  /**
   * Creates a letter. `uploads` are read one after another, after everything else is checked;
   * a client that sends a letter whose check fails never has a byte of its files stored.
   */
  async create(
    actor: Actor,
    patientId: unknown,
    body: unknown,
    uploads: AsyncIterable<Upload> = emptyUploads(),
  ): Promise<LetterView> {
    const input = parseLetterInput(body);
    if (input.signOff && !canSignOff(actor.author)) {
      throw new VprError(
        'FORBIDDEN',
        'signing off a letter needs an author with a professional registration',
      );
    }
    const clinicalId = await this.#record.idForWrite(patientId);
    if (input.references !== undefined) await this.#read(clinicalId, input.references);
    const stored: StoredFile[] = [];
    let committed = false;
    let prepared = false;
    // Bytes no commit references are removed again (unless another request committed them).
    const release = (landed: boolean) =>
      Promise.all(
        stored.map((file) => this.#record.releaseFile(clinicalId, file, landed).catch(() => undefined)),
      ).then(() => undefined);
    try {
      let index = 0;
      for await (const upload of uploads) {
        const file = await this.#store(stored, clinicalId, upload, index++);
        this.#record.holdFile(clinicalId, file);
        stored.push(file);
      }
      assertLetterHasContent(input.body !== undefined, stored.length);
      const letterId = this.#record.ids.next();
      const now = this.#record.now().toISOString();
      const letter = this.#composition(
        actor,
        letterId,
        input,
        stored.map(referenceOf),
        input.signOff ? now : undefined,
      );
      const result = await this.#record.commitItem(
        actor,
        clinicalId,
        async () => ({
          changes: [
            { path: letterCompositionPath(letterId), content: renderLetterComposition(letter) },
            ...(input.body === undefined ? [] : [{ path: letterBodyPath(letterId), content: input.body }]),
          ],
          action: input.references === undefined ? 'create' : 'superseded',
          summary:
            input.references === undefined
              ? `Created letter${input.signOff ? ' (signed off)' : ''}`
              : `Letter superseding ${input.references}`,
          trailers: [{ key: LETTER_TRAILER, value: letterId }],
        }),
        { onSettled: release },
      );
      committed = true;
      // Answered from the bytes just committed: a new letter is superseded by nothing yet.
      const read = await readLetter(letterId, await this.#record.filesCommitted(clinicalId, result));
      return this.#view(String(patientId), clinicalId, result.commit, read, null);
    } catch (error) {
      // A commit prepared for signing keeps its attachments until it lands or never will.
      prepared = isCommitPrepared(error);
      throw error;
    } finally {
      if (!prepared) await release(committed);
    }
  }

  #composition(
    actor: Actor,
    letterId: TimestampId,
    input: LetterInput,
    attachments: readonly FileReference[],
    signedAt: string | undefined,
  ): LetterComposition {
    return {
      letterId,
      title: input.title,
      composer: {
        name: actor.author.name,
        role: actor.author.role,
        email: actor.author.email,
        registrations: actor.author.registrations,
      },
      careLocation: actor.careLocation,
      startTime: input.startTime ?? this.#record.now().toISOString(),
      hasBody: input.body !== undefined,
      clinicalLists: input.clinicalLists,
      attachments,
      ...(input.references === undefined ? {} : { references: input.references }),
      status: signedAt === undefined ? 'draft' : 'signed',
      ...(signedAt === undefined
        ? {}
        : {
            signedOff: {
              name: actor.author.name,
              role: actor.author.role,
              registrations: actor.author.registrations,
              at: signedAt,
            },
          }),
    };
  }

  /** A letter at HEAD, or at the clinical repository commit `version`. */
  async get(patientId: unknown, letterId: unknown, version?: string): Promise<LetterView> {
    const clinicalId = await this.#record.idOf(patientId);
    const id = parseTimestampId(letterId, 'letter_id');
    const head = this.#record.head(clinicalId);
    const at = version === undefined ? head : parseVersion(version, 'version');
    if (at === undefined)
      throw new VprError('NOT_FOUND', 'no letter with this id', { details: { letter_id: id } });
    return this.#record.viewAtHead(clinicalId, at, `letter-view/${clinicalId}/${at}/${id}`, async () => {
      const read = await this.#read(clinicalId, id, at);
      const { supersededBy, projectedHead } = await this.#supersession(clinicalId, id);
      return {
        view: this.#view(String(patientId), clinicalId, at, read, supersededBy),
        cacheable: at === head && projectedHead === head,
      };
    });
  }

  /**
   * Replaces what the author wrote (title, body, start time, clinical lists), keeping the
   * composer, attachments and references. An edit of a signed letter makes it a draft again.
   */
  async edit(
    actor: Actor,
    patientId: unknown,
    letterId: unknown,
    expected: string | undefined,
    body: unknown,
  ) {
    const id = parseTimestampId(letterId, 'letter_id');
    const input = parseLetterInput(body);
    if (input.references !== undefined)
      throw invalidInput('references', 'cannot change; write a new letter that references this one');
    if (input.signOff) throw invalidInput('sign_off', 'sign a letter off with its own request');
    if (expected === undefined) {
      throw new VprError(
        'PRECONDITION_REQUIRED',
        'an edit must name the version of the letter it is based on (If-Match)',
      );
    }
    const clinicalId = await this.#record.idForWrite(patientId);
    const { commit } = await this.#record.commitItem(actor, clinicalId, async (head) => {
      const current = await this.#read(clinicalId, id, head);
      assertItemVersion(current.version, expected, 'letter');
      assertLetterHasContent(input.body !== undefined, current.letter.attachments.length);
      const { signedOff, ...kept } = current.letter;
      const next: LetterComposition = {
        ...kept,
        title: input.title,
        startTime: input.startTime ?? current.letter.startTime,
        hasBody: input.body !== undefined,
        clinicalLists: input.clinicalLists,
        status: 'draft',
      };
      const composition = renderLetterComposition(next);
      if (
        composition === current.composition.toString('utf8') &&
        input.body === current.body?.toString('utf8')
      ) {
        return undefined; // the same letter: nothing to commit
      }
      return {
        changes: [
          { path: letterCompositionPath(id), content: composition },
          ...(input.body !== undefined
            ? [{ path: letterBodyPath(id), content: input.body }]
            : current.body !== undefined
              ? [{ path: letterBodyPath(id), content: null }]
              : []),
        ],
        action: 'update',
        summary:
          current.letter.status === 'signed'
            ? 'Edited signed letter (needs sign-off again)'
            : 'Edited letter',
        trailers: [{ key: LETTER_TRAILER, value: id }],
      };
    });
    return this.get(patientId, id, commit);
  }

  /** Signs a draft off: its own commit, by an author with a professional registration. */
  async signOff(actor: Actor, patientId: unknown, letterId: unknown, expected: string | undefined) {
    const id = parseTimestampId(letterId, 'letter_id');
    if (!canSignOff(actor.author)) {
      throw new VprError(
        'FORBIDDEN',
        'signing off a letter needs an author with a professional registration',
      );
    }
    const clinicalId = await this.#record.idForWrite(patientId);
    const { commit } = await this.#record.commitItem(actor, clinicalId, async (head) => {
      const current = await this.#read(clinicalId, id, head);
      assertItemVersion(current.version, expected, 'letter');
      if (current.letter.status === 'signed') {
        throw new VprError('INVALID_STATE', 'this letter is signed off already', {
          details: { letter_id: id },
        });
      }
      const next: LetterComposition = {
        ...current.letter,
        status: 'signed',
        signedOff: {
          name: actor.author.name,
          role: actor.author.role,
          registrations: actor.author.registrations,
          at: this.#record.now().toISOString(),
        },
      };
      return {
        changes: [{ path: letterCompositionPath(id), content: renderLetterComposition(next) }],
        action: 'update',
        summary: 'Signed off letter',
        trailers: [{ key: LETTER_TRAILER, value: id }],
      };
    });
    return this.get(patientId, id, commit);
  }

  /** The commits that changed this letter, newest first, optionally with unified diffs. */
  async history(
    patientId: unknown,
    letterId: unknown,
    query: { limit?: number; after?: string; diff?: boolean } = {},
  ): Promise<{ history: LetterHistoryEntry[]; next: string | null }> {
    const clinicalId = await this.#record.idOf(patientId);
    const id = parseTimestampId(letterId, 'letter_id');
    const page = await this.#record.store.history('clinical', clinicalId, {
      path: letterDir(id),
      ...(query.limit === undefined ? {} : { limit: query.limit }),
      ...(query.after === undefined ? {} : { after: query.after }),
    });
    if (page.commits.length === 0 && query.after === undefined) {
      throw new VprError('NOT_FOUND', 'no letter with this id', { details: { letter_id: id } });
    }
    const history = await Promise.all(
      page.commits.map(async (commit): Promise<LetterHistoryEntry> => {
        const message = parseCommitMessage(commit.message);
        const entry = {
          commit: commit.id,
          occurred_at: new Date(commit.committer.timestamp).toISOString(),
          author: commit.author.name,
          action: message?.action ?? 'unknown',
          summary: message?.summary ?? commit.message.split('\n')[0] ?? '',
        };
        if (query.diff !== true) return entry;
        const parent = commit.parents[0];
        const diffs =
          parent === undefined
            ? []
            : await Promise.all(
                [letterCompositionPath(id), letterBodyPath(id)].map((path) =>
                  this.#record.store.diffFile('clinical', clinicalId, path, parent, commit.id),
                ),
              );
        return { ...entry, diff: diffs.filter((d) => /^[+-][^+-]/m.test(d)).join('\n') };
      }),
    );
    return { history, next: page.next ?? null };
  }

  /** A patient's letters, newest first, from the projection. */
  async list(
    patientId: unknown,
    query: { limit?: number; cursor?: string } = {},
  ): Promise<Page<LetterSummary>> {
    const clinicalId = await this.#record.idOf(patientId);
    return listLetters(this.#record.projection.client, clinicalId, query);
  }

  /** Letters needing sign-off across every patient, oldest first. */
  async signOffQueue(filter: SignOffFilter = {}): Promise<Page<LetterSummary>> {
    return signOffQueue(this.#record.projection.client, filter);
  }

  /**
   * An attachment's bytes, checked against their hash before the first byte is sent (and again
   * as they stream): a tampered file is CORRUPT_REPOSITORY, a missing one NOT_FOUND.
   */
  async attachment(
    patientId: unknown,
    letterId: unknown,
    hash: unknown,
    version?: string,
  ): Promise<AttachmentDownload> {
    const clinicalId = await this.#record.idOf(patientId);
    const id = parseTimestampId(letterId, 'letter_id');
    const at = version === undefined ? this.#record.head(clinicalId) : parseVersion(version, 'version');
    if (at === undefined)
      throw new VprError('NOT_FOUND', 'no letter with this id', { details: { letter_id: id } });
    const { letter } = await this.#read(clinicalId, id, at);
    const file = letter.attachments.find((a) => a.hash === hash);
    if (file === undefined) {
      throw new VprError('NOT_FOUND', 'this letter has no attachment with this hash', {
        details: { letter_id: id },
      });
    }
    const files = this.#record.files(clinicalId);
    await files.verify(file.hash);
    return { file, stream: await files.open(file.hash) };
  }
}

function referenceOf(file: StoredFile): FileReference {
  return {
    hash_algorithm: 'sha256',
    hash: file.hash,
    relative_path: file.relativePath,
    size_bytes: file.sizeBytes,
    media_type: file.mediaType,
    original_filename: file.originalFilename,
    stored_at: file.storedAt,
  };
}

async function* emptyUploads(): AsyncIterable<Upload> {
  // none
}

export type { ObjectId };
