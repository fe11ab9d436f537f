// The Patient API's operations (../shared/seeds/004) on the Git store, for every door alike:
// create the full record, read, replace with an expected version, soft-delete, restore, list,
// and the history of changes. Validation comes first (core), then the write switch, the
// uniqueness claims and the idempotency record, then one Git commit whose compare-and-swap on
// the expected parent makes "check the version and write" one atomic step. Reads of one patient
// come from Git at HEAD through the cache (keyed by commit, so never stale); lists come from the
// projection. Nothing here knows HTTP or gRPC.
import { createHash } from 'node:crypto';
import type { Author } from '../core/commit/author.js';
import { parseCommitMessage, type Trailer } from '../core/commit/commit-message.js';
import { VprError, invalidInput, isVprError } from '../core/errors.js';
import type { ObjectId } from '../core/git/git-object.js';
import { newRecordId, parseRecordId, type RecordId } from '../core/ids/record-id.js';
import {
  parseDateOfBirth,
  parseDemographics,
  parsePhone,
  type Address,
  type Demographics,
  type GenderIdentity,
  type SexAtBirth,
} from '../core/patient/demographics.js';
import {
  PATIENT_FILE,
  readPatient,
  renderPatient,
  withActive,
  type StoredPatient,
} from '../core/patient/fhir-patient.js';
import { parseVersion, type RecordStore } from '../core/record/record-store.js';
import { DocumentReader } from '../cache/document-reader.js';
import { ViewCache } from '../cache/view-cache.js';
import type { ReadCache } from '../cache/read-cache.js';
import {
  ACTING_PRINCIPAL_TRAILER,
  PATIENT_ACTION_TRAILER,
  auditRowOfCommit,
} from '../projection/audit-rows.js';
import type { ContactClaims, ContactValue } from '../projection/contact-claims.js';
import type { IdempotencyStore } from '../projection/idempotency-store.js';
import type { Projection } from '../projection/projection.js';
import { parseYamlMapping } from '../core/yaml-mapping.js';
import type { WriteSwitch } from './write-switch.js';
import type { RecordLinks, RecordLinksOf } from './record-links.js';
import { CommitSigning, isCommitPrepared, type SigningMode } from './commit-signing.js';
import type { ReadVerifier } from './read-verification.js';

/** Who is acting: the API principal and the identity its commits carry. */
export interface Actor {
  readonly principal: string;
  readonly keyId: string;
  readonly author: Author;
  readonly careLocation: string;
  /** How this actor's commits are signed (services/commit-signing.ts); unsigned when absent. */
  readonly signing?: SigningMode;
}

export interface AddressView {
  readonly line1: string;
  readonly line2: string | null;
  readonly city: string;
  readonly state_province: string | null;
  readonly postal_code: string | null;
  readonly country: string | null;
}

/** A patient as the API returns it. Optional fields are null when absent. */
export interface PatientView {
  readonly patient_id: string;
  readonly clinical_id: string | null;
  readonly coordination_id: string | null;
  readonly given_name: string;
  readonly middle_name: string | null;
  readonly family_name: string;
  readonly date_of_birth: string | null;
  readonly sex_at_birth: SexAtBirth | null;
  readonly gender_identity: GenderIdentity | null;
  readonly gender_identity_text: string | null;
  readonly email: string | null;
  readonly phone_e164: string | null;
  readonly address: AddressView | null;
  readonly preferred_language: string | null;
  readonly consent_to_contact: boolean;
  readonly is_deleted: boolean;
  /** The commit of the demographics repository this view is of: the ETag. */
  readonly version: string;
  readonly created_at: string;
  readonly updated_at: string;
}

/** A patient in a list: what the projection holds. */
export interface PatientListItem {
  readonly patient_id: string;
  readonly clinical_id: string | null;
  readonly coordination_id: string | null;
  readonly family_name: string;
  readonly given_names: string;
  readonly date_of_birth: string | null;
  readonly email: string | null;
  readonly phone_e164: string | null;
  readonly is_deleted: boolean;
  readonly version: string;
  readonly created_at: string;
  readonly updated_at: string;
}

export interface PatientListFilter {
  readonly family_name?: string;
  readonly given_name?: string;
  readonly dob?: string;
  readonly email?: string;
  readonly phone?: string;
  readonly deleted?: boolean;
  readonly limit?: number;
  readonly cursor?: string;
}

export interface HistoryEntry {
  readonly version: string;
  readonly parent: string | null;
  readonly occurred_at: string;
  readonly actor: string;
  readonly action: string;
  readonly summary: string;
  readonly changed_fields: readonly string[];
  /** Unified diff of patient.yaml against the parent, when asked for and the file changed. */
  readonly diff?: string;
}

export interface CreateResult {
  readonly patient: PatientView;
  /** True when an Idempotency-Key replayed an earlier answer. */
  readonly replayed: boolean;
}

/** Fields a client may echo back in a full replace; they are checked or ignored, never stored. */
export const SERVER_MANAGED_FIELDS = [
  'patient_id',
  'clinical_id',
  'coordination_id',
  'is_deleted',
  'version',
  'created_at',
  'updated_at',
] as const;

export const DEFAULT_HISTORY_PAGE = 20;
export const MAX_HISTORY_PAGE = 100;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

type Meta = RecordLinksOf;

export interface PatientServiceDeps {
  readonly store: RecordStore;
  readonly projection: Projection;
  readonly cache: ReadCache;
  readonly claims: ContactClaims;
  readonly idempotency: IdempotencyStore;
  readonly writes: WriteSwitch;
  readonly links: RecordLinks;
  /** Where commits are made and the signing policy enforced; no policy when absent. */
  readonly signing?: CommitSigning;
  /** Verification on read; off when absent. */
  readonly verifier?: ReadVerifier;
  readonly now?: () => Date;
}

function contactValues(d: { email?: string | undefined; phone_e164?: string | undefined }): ContactValue[] {
  return [
    ...(d.email === undefined ? [] : [{ field: 'email' as const, value: d.email.toLowerCase() }]),
    ...(d.phone_e164 === undefined ? [] : [{ field: 'phone_e164' as const, value: d.phone_e164 }]),
  ];
}

function addressView(address: Address | undefined): AddressView | null {
  if (address === undefined) return null;
  return {
    line1: address.line1,
    line2: address.line2 ?? null,
    city: address.city,
    state_province: address.state_province ?? null,
    postal_code: address.postal_code ?? null,
    country: address.country ?? null,
  };
}

function view(
  id: string,
  stored: StoredPatient,
  version: string,
  updatedAt: string,
  meta: Meta,
): PatientView {
  return {
    patient_id: id,
    clinical_id: meta.clinical_id,
    coordination_id: meta.coordination_id,
    given_name: stored.given_name,
    middle_name: stored.middle_name ?? null,
    family_name: stored.family_name,
    date_of_birth: stored.date_of_birth,
    sex_at_birth: stored.sex_at_birth,
    gender_identity: stored.gender_identity,
    gender_identity_text: stored.gender_identity_text ?? null,
    email: stored.email ?? null,
    phone_e164: stored.phone_e164 ?? null,
    address: addressView(stored.address),
    preferred_language: stored.preferred_language ?? null,
    consent_to_contact: stored.consent_to_contact,
    is_deleted: !stored.active,
    version,
    created_at: meta.created_at,
    updated_at: updatedAt,
  };
}

/** JSON with every object's keys sorted, so equal values give equal text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Whether a replace would store what is stored already. */
function sameDemographics(stored: StoredPatient, next: Demographics): boolean {
  return canonicalJson({ ...stored, active: undefined }) === canonicalJson(next);
}

export class PatientService {
  readonly #store: RecordStore;
  readonly #projection: Projection;
  readonly #cache: ReadCache;
  readonly #documents: DocumentReader;
  readonly #views: ViewCache;
  readonly #claims: ContactClaims;
  readonly #idempotency: IdempotencyStore;
  readonly #writes: WriteSwitch;
  readonly #links: RecordLinks;
  readonly #signing: CommitSigning;
  readonly #now: () => Date;

  constructor(deps: PatientServiceDeps) {
    this.#store = deps.store;
    this.#projection = deps.projection;
    this.#cache = deps.cache;
    this.#documents = new DocumentReader(deps.store, deps.cache, deps.verifier);
    this.#views = new ViewCache(deps.cache, deps.verifier);
    this.#claims = deps.claims;
    this.#idempotency = deps.idempotency;
    this.#writes = deps.writes;
    this.#links = deps.links;
    this.#signing = deps.signing ?? new CommitSigning({ store: deps.store, writes: deps.writes });
    this.#now = deps.now ?? (() => new Date());
  }

  /**
   * Commits a change of the demographics. `held` are the contact values claimed for it: when the
   * commit is only prepared (two-step signing), they stay claimed until it lands or never will,
   * and then `release` lets go of what is no longer needed.
   */
  async #commitDemographics(
    actor: Actor,
    input: Parameters<CommitSigning['commit']>[1],
    release: (landed: boolean) => Promise<void>,
  ): Promise<void> {
    let landed = false;
    let prepared = false;
    try {
      await this.#signing.commit(actor, input, { onSettled: release });
      landed = true;
    } catch (error) {
      prepared = isCommitPrepared(error);
      throw error;
    } finally {
      if (!prepared) await release(landed).catch(() => undefined);
    }
  }

  #trailers(actor: Actor, action: 'create' | 'update' | 'delete' | 'restore'): Trailer[] {
    return [
      { key: ACTING_PRINCIPAL_TRAILER, value: actor.principal },
      { key: 'Acting-Key', value: actor.keyId },
      { key: PATIENT_ACTION_TRAILER, value: action },
    ];
  }

  /**
   * The patient as stored at HEAD (or at `at`, a HEAD the caller has just read), with its
   * version and time; NOT_FOUND when there is none.
   */
  async #current(
    id: RecordId,
    at?: ObjectId,
  ): Promise<{ stored: StoredPatient; version: string; updatedAt: string; text: string }> {
    const document = await this.#documents
      .read('demographics', id, PATIENT_FILE, at)
      .catch((error: unknown) => {
        if (isVprError(error, 'NOT_FOUND')) {
          throw new VprError('NOT_FOUND', 'no patient with this id', { details: { patient_id: id } });
        }
        throw error;
      });
    const version = document.version as ObjectId;
    const text = document.content.toString('utf8');
    const stored = readPatient(parseYamlMapping(text));
    if (stored === undefined) {
      throw new VprError('CORRUPT_REPOSITORY', 'patient.yaml is not a FHIR Patient', {
        details: { patient_id: id },
      });
    }
    return { stored, version, updatedAt: await this.#commitTime(id, version), text };
  }

  /** When a demographics commit was made (fixed for good, so cached by commit). */
  async #commitTime(id: RecordId, version: ObjectId): Promise<string> {
    const key = `commit-time/demographics/${id}/${version}`;
    const cached = await this.#cache.getDocument(key);
    if (cached !== undefined) return cached.toString('utf8');
    const repository = await this.#store.repository('demographics', id);
    const time = new Date((await repository.readCommit(version)).committer.timestamp).toISOString();
    await this.#cache.setDocument(key, Buffer.from(time));
    return time;
  }

  /** VERSION_CONFLICT unless the patient is still at the version the change is based on. */
  #assertVersion(current: { version: string }, expected: string): void {
    if (current.version !== expected) {
      throw new VprError(
        'VERSION_CONFLICT',
        'the patient changed since the version this change was based on',
        {
          details: { expected, current: current.version },
        },
      );
    }
  }

  async #view(id: RecordId, includeDeleted: boolean): Promise<PatientView> {
    // At one commit the view is fixed (the content, the commit's time, the links), so a warm
    // read is one cache lookup; it is kept only once the projection knows the patient's links.
    const head = this.#store.head('demographics', id);
    const build = async () => {
      const current = await this.#current(id, head);
      const links = await this.#links.of(id);
      return {
        view: view(id, current.stored, current.version, current.updatedAt, links),
        cacheable: links.clinical_id !== null && links.coordination_id !== null,
      };
    };
    const patient =
      head === undefined
        ? (await build()).view
        : await this.#views.at('demographics', id, head, `patient-view/${id}/${head}`, build);
    if (patient.is_deleted && !includeDeleted) {
      throw new VprError('RECORD_DELETED', 'this patient is deleted; restore it to use it again', {
        details: { patient_id: id, version: patient.version },
      });
    }
    return patient;
  }

  /** One patient; RECORD_DELETED for a soft-deleted one. */
  async get(patientId: unknown): Promise<PatientView> {
    return this.#view(parseRecordId(patientId, 'patient_id'), false);
  }

  /** Creates the full record; with an idempotency key, a repeat answers as the first did. */
  async create(actor: Actor, body: unknown, idempotencyKey?: string): Promise<CreateResult> {
    const demographics = parseDemographics(body);
    if (actor.signing === 'prepare') {
      throw invalidInput(
        'VPR-Signing',
        "a new record's first commits are made by the service and are not signed in two steps",
      );
    }
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw invalidInput('Idempotency-Key', 'must be 1 to 255 visible ASCII characters');
    }
    this.#writes.assertWritable();
    const fresh = { demographics: newRecordId(), clinical: newRecordId(), coordination: newRecordId() };
    let ids = fresh;
    let keyHash: string | undefined;
    if (idempotencyKey !== undefined) {
      keyHash = createHash('sha256').update(`${actor.principal}\0${idempotencyKey}`).digest('hex');
      const fingerprint = createHash('sha256').update(canonicalJson(demographics)).digest('hex');
      const started = await this.#idempotency.start(keyHash, fingerprint, JSON.stringify(fresh));
      if (started.kind === 'replay') {
        return { patient: JSON.parse(started.response) as PatientView, replayed: true };
      }
      ids = JSON.parse(started.ids) as typeof fresh;
      if (started.kind === 'resumed' && this.#store.head('demographics', ids.demographics) !== undefined) {
        // The abandoned attempt made the record before it could record its answer.
        const patient = await this.#view(ids.demographics as RecordId, true);
        await this.#idempotency.finish(keyHash, JSON.stringify(patient));
        return { patient, replayed: false };
      }
    }
    const contacts = contactValues(demographics);
    try {
      await this.#claims.claim(ids.demographics, contacts);
    } catch (error) {
      if (keyHash !== undefined) await this.#idempotency.abandon(keyHash).catch(() => undefined);
      throw error;
    }
    let record;
    try {
      record = await this.#store.createFullRecord({
        demographics,
        author: actor.author,
        careLocation: actor.careLocation,
        trailers: this.#trailers(actor, 'create'),
        ids,
      });
    } catch (error) {
      await this.#claims.release(ids.demographics, contacts).catch(() => undefined);
      if (keyHash !== undefined) await this.#idempotency.abandon(keyHash).catch(() => undefined);
      throw error;
    }
    const current = await this.#current(record.demographicsId);
    // The first commit's time is the creation time: known now, so no projection lookup later.
    const meta: Meta = {
      clinical_id: record.clinicalId,
      coordination_id: record.coordinationId,
      created_at: current.updatedAt,
    };
    await this.#links.remember(record.demographicsId, meta);
    const patient = view(record.demographicsId, current.stored, current.version, current.updatedAt, meta);
    if (keyHash !== undefined)
      await this.#idempotency.finish(keyHash, JSON.stringify(patient)).catch(() => undefined);
    return { patient, replayed: false };
  }

  /** Replaces the demographics; `expectedVersion` (the ETag) is required and must be HEAD. */
  async replace(
    actor: Actor,
    patientId: unknown,
    expectedVersion: string | undefined,
    body: unknown,
  ): Promise<PatientView> {
    const id = parseRecordId(patientId, 'patient_id');
    const demographics = parseDemographics(body, '', SERVER_MANAGED_FIELDS);
    const echoed = (body as Record<string, unknown>).patient_id;
    if (echoed !== undefined && echoed !== null && echoed !== id) {
      throw invalidInput('patient_id', 'must be the id of the patient being replaced, or left out');
    }
    if (expectedVersion === undefined) {
      throw new VprError(
        'PRECONDITION_REQUIRED',
        'a replace must name the version it is based on (If-Match)',
      );
    }
    const expected = parseVersion(expectedVersion, 'If-Match');
    this.#writes.assertWritable();
    const current = await this.#current(id);
    if (!current.stored.active) {
      throw new VprError('RECORD_DELETED', 'this patient is deleted; restore it to change it', {
        details: { patient_id: id },
      });
    }
    this.#assertVersion(current, expected);
    if (sameDemographics(current.stored, demographics)) return this.#view(id, true);
    const before = contactValues(current.stored);
    const after = contactValues(demographics);
    const added = after.filter((c) => !before.some((b) => b.field === c.field && b.value === c.value));
    const dropped = before.filter((b) => !after.some((c) => c.field === b.field && c.value === b.value));
    await this.#claims.claim(id, added);
    await this.#commitDemographics(
      actor,
      {
        kind: 'demographics',
        id,
        parent: expected,
        changes: [{ path: PATIENT_FILE, content: renderPatient(id, demographics, this.#now()) }],
        author: actor.author,
        action: 'update',
        summary: 'Updated patient demographics',
        careLocation: actor.careLocation,
        trailers: this.#trailers(actor, 'update'),
      },
      (landed) => this.#claims.release(id, landed ? dropped : added),
    );
    return this.#view(id, true);
  }

  async #setActive(
    actor: Actor,
    id: RecordId,
    active: boolean,
    expectedVersion?: string,
  ): Promise<PatientView> {
    this.#writes.assertWritable();
    const current = await this.#current(id);
    const expected =
      expectedVersion === undefined ? current.version : parseVersion(expectedVersion, 'If-Match');
    this.#assertVersion(current, expected);
    if (current.stored.active === active) return this.#view(id, true);
    const contacts = contactValues(current.stored);
    if (active) await this.#claims.claim(id, contacts);
    await this.#commitDemographics(
      actor,
      {
        kind: 'demographics',
        id,
        parent: expected,
        changes: [{ path: PATIENT_FILE, content: withActive(current.text, active, this.#now()) }],
        author: actor.author,
        action: 'update',
        summary: active ? 'Restored patient' : 'Deleted patient (soft)',
        careLocation: actor.careLocation,
        trailers: this.#trailers(actor, active ? 'restore' : 'delete'),
      },
      // A restore keeps its claims once it lands; a delete lets them go once it lands.
      async (landed) => {
        if (landed !== active) await this.#claims.release(id, contacts);
      },
    );
    return this.#view(id, true);
  }

  /** Soft delete: the record stays in Git, marked inactive. Deleting a deleted patient changes nothing. */
  async remove(actor: Actor, patientId: unknown, expectedVersion?: string): Promise<void> {
    await this.#setActive(actor, parseRecordId(patientId, 'patient_id'), false, expectedVersion);
  }

  /** Brings a soft-deleted patient back; restoring one that is not deleted changes nothing. */
  async restore(actor: Actor, patientId: unknown): Promise<PatientView> {
    return this.#setActive(actor, parseRecordId(patientId, 'patient_id'), true);
  }

  /** A page of patients from the projection, filtered, with a cursor for the next page. */
  async list(
    filter: PatientListFilter,
  ): Promise<{ patients: PatientListItem[]; next_cursor: string | null }> {
    const text = (value: string | undefined, field: string) => {
      if (value === undefined) return undefined;
      const trimmed = value.trim();
      if (trimmed.length === 0 || trimmed.length > 100)
        throw invalidInput(field, 'must be 1 to 100 characters');
      return trimmed;
    };
    // The limit, cursor and the case of an email are the projection query's to check.
    const limit = filter.limit;
    const familyName = text(filter.family_name, 'family_name');
    const givenName = text(filter.given_name, 'given_name');
    const email = text(filter.email, 'email');
    const page = await this.#projection.listPatients({
      ...(familyName === undefined ? {} : { familyName }),
      ...(givenName === undefined ? {} : { givenName }),
      ...(filter.dob === undefined ? {} : { birthDate: parseDateOfBirth(filter.dob, 'dob') }),
      ...(email === undefined ? {} : { email }),
      ...(filter.phone === undefined ? {} : { phone: parsePhone(filter.phone, 'phone') }),
      ...(filter.deleted === undefined ? {} : { deleted: filter.deleted }),
      ...(limit === undefined ? {} : { limit }),
      ...(filter.cursor === undefined ? {} : { cursor: filter.cursor }),
    });
    return {
      patients: page.patients.map((p) => ({
        patient_id: p.patientId,
        clinical_id: p.clinicalId,
        coordination_id: p.coordinationId,
        family_name: p.familyName,
        given_names: p.givenNames,
        date_of_birth: p.birthDate,
        email: p.email,
        phone_e164: p.phone,
        is_deleted: p.deleted,
        version: p.version,
        created_at: p.createdAt,
        updated_at: p.updatedAt,
      })),
      next_cursor: page.nextCursor,
    };
  }

  /** The patient's versions, newest first: who changed which fields when, and optionally how. */
  async history(
    patientId: unknown,
    options: { limit?: number; after?: string; diff?: boolean } = {},
  ): Promise<{ versions: HistoryEntry[]; next: string | null }> {
    const id = parseRecordId(patientId, 'patient_id');
    const limit = options.limit ?? DEFAULT_HISTORY_PAGE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_PAGE) {
      throw invalidInput('limit', `must be a whole number from 1 to ${MAX_HISTORY_PAGE}`);
    }
    const repository = await this.#store.repository('demographics', id);
    const page = await this.#store.history('demographics', id, {
      limit,
      ...(options.after === undefined ? {} : { after: options.after }),
    });
    const versions: HistoryEntry[] = [];
    for (const commit of page.commits) {
      const row = await auditRowOfCommit(id, repository, commit);
      const parent = commit.parents[0] ?? null;
      const summary = parseCommitMessage(commit.message)?.summary ?? commit.message.split('\n')[0] ?? '';
      let diff: string | undefined;
      if (options.diff === true && row.changedFields.some((f) => !f.startsWith('file:'))) {
        diff =
          parent === null
            ? undefined
            : await this.#store.diffFile('demographics', id, PATIENT_FILE, parent, commit.id);
      }
      versions.push({
        version: commit.id,
        parent,
        occurred_at: row.occurredAt,
        actor: row.actor,
        action: row.action,
        summary,
        changed_fields: row.changedFields,
        ...(diff === undefined ? {} : { diff }),
      });
    }
    return { versions, next: page.next ?? null };
  }
}
