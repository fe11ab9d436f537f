// The calls of the vpr.v1.VPR service (proto/vpr/v1/vpr.proto): for each, the scope it needs
// and what it does, which is only to hand the request's fields to the same service REST calls
// and give back the same answer. Query-like fields are checked against the REST API's own
// schemas, so limits, patterns and allowed values are the same rules in the same place; request
// bodies are checked by the core, as for REST. Free-form bodies arrive as google.protobuf.Struct.
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import type { Principal, Scope } from '../../auth/api-keys.js';
import { VprError, invalidInput } from '../../core/errors.js';
import { MAX_ATTACHMENTS } from '../../core/clinical/letter.js';
import type { PatientService } from '../../services/patient-service.js';
import type { SignatureService } from '../../services/signature-service.js';
import { isCommitPrepared, type CommitSigning } from '../../services/commit-signing.js';
import type { Upload } from '../../services/letter-service.js';
import type { WriteSwitch } from '../../services/write-switch.js';
import type { ClinicalServices } from '../http/clinical-routes.js';
import type { CoordinationServices } from '../http/coordination-routes.js';
import {
  AttachmentParams,
  ContributionKindParams,
  ContributionParams,
  EntryKindParams,
  EntryListQuery,
  EntryParams,
  LetterHistoryQuery,
  PageQuery,
  SignOffQuery,
  VersionQuery,
} from '../http/clinical-schemas.js';
import {
  CareEventListQuery,
  DayQuery,
  ParticipantThreadsQuery,
  ThreadListQuery,
} from '../http/coordination-schemas.js';
import { HistoryQuery, PatientListQuery, SignatureQuery } from '../http/schemas.js';
import {
  careEventPage,
  contributionPage,
  contributionView,
  entryPage,
  letterPage,
  threadPage,
} from '../views.js';
import { fromStruct, toStruct, toValue, type WireStruct } from './struct.js';

export interface RpcDeps {
  readonly patients: PatientService;
  readonly signatures: SignatureService;
  readonly signing: CommitSigning;
  /** Decodes a serialised request message of the named call (for PrepareSignedCall). */
  readonly decodeRequest: (method: string, bytes: Buffer) => unknown;
  readonly clinical: ClinicalServices;
  readonly coordination: CoordinationServices;
  readonly writes: WriteSwitch;
  readonly version: string;
}

/** One request/one answer. `principal` is undefined only for calls without a scope. */
export interface UnaryRpc {
  readonly kind: 'unary';
  readonly scope?: Scope;
  handle(request: never, principal: Principal): Promise<unknown>;
}
/** Client streaming: many messages in, one answer. */
export interface UploadRpc {
  readonly kind: 'upload';
  readonly scope: Scope;
  handle(messages: AsyncIterator<never>, principal: Principal): Promise<unknown>;
}
/** Server streaming: one request, many messages out. */
export interface DownloadRpc {
  readonly kind: 'download';
  readonly scope: Scope;
  handle(request: never, principal: Principal): Promise<AsyncIterable<unknown>>;
}
export type Rpc = UnaryRpc | UploadRpc | DownloadRpc;

const unary = <Q>(scope: Scope | undefined, handle: (request: Q, principal: Principal) => Promise<unknown>) =>
  ({ kind: 'unary', ...(scope === undefined ? {} : { scope }), handle }) as UnaryRpc;

/** The fields a REST query or path would hold, checked by that schema; unset fields are left out. */
function checked<T extends object>(schema: TSchema, fields: T): T {
  const value = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as T;
  const error = Value.Errors(schema, value).find((e) => e.keyword !== 'anyOf' && e.keyword !== 'boolean');
  if (error === undefined) return value;
  const extra = (error.params as { additionalProperties?: string[] }).additionalProperties?.[0];
  const field = [error.instancePath.replace(/^\//, '').replaceAll('/', '.'), extra]
    .filter((p) => p !== undefined && p !== '')
    .join('.');
  const reason =
    error.keyword === 'const' ? 'is not one of the allowed values' : (error.message ?? 'is not valid');
  throw invalidInput(field === '' ? 'request' : field, reason);
}

/** The sub-message a call needs, such as `patient` or `letter`: absent is INVALID_INPUT. */
function body<T>(value: T | undefined, field: string): T {
  if (value === undefined || value === null) throw invalidInput(field, 'is required');
  return value;
}

const withData = <T extends { data: unknown }>(view: T) => ({
  ...view,
  data: toStruct(view.data as Record<string, unknown>),
});
const entryPageOut = (page: ReturnType<typeof entryPage>) => ({
  ...page,
  entries: page.entries.map(withData),
});

interface Paged {
  limit?: number;
  cursor?: string;
}
interface PatientRef {
  patient_id?: string;
}
interface LetterRef extends PatientRef {
  letter_id?: string;
}
interface Versioned {
  version?: string;
}
interface Expected {
  expected_version?: string;
}
interface History {
  limit?: number;
  after?: string;
  diff?: boolean;
}
/** The commit a read names (REST's `?version=`), checked as REST checks it. */
const versionOf = (r: Versioned) => checked(VersionQuery, { version: r.version }).version;

/** An entry's patient, kind and id, checked as REST checks its path. */
const entryRef = (r: PatientRef & { kind?: string; entry_id?: string }) =>
  checked(EntryParams, { patient_id: r.patient_id ?? '', kind: r.kind ?? '', entry_id: r.entry_id ?? '' });

interface UploadMessage {
  letter?: { patient_id?: string; letter?: unknown };
  attachment?: { filename?: string };
  chunk?: Buffer;
}

/**
 * The attachments of a streamed letter, one at a time as their bytes arrive: each `attachment`
 * header starts a file whose bytes are the `chunk` messages up to the next header or the end.
 */
function uploadsOf(messages: AsyncIterator<UploadMessage>): AsyncIterable<Upload> {
  let pending: UploadMessage | undefined;
  let ended = false;
  const next = async (): Promise<UploadMessage | undefined> => {
    if (pending !== undefined) {
      const message = pending;
      pending = undefined;
      return message;
    }
    if (ended) return undefined;
    const result = await messages.next();
    if (result.done === true) {
      ended = true;
      return undefined;
    }
    return result.value;
  };
  return {
    async *[Symbol.asyncIterator]() {
      for (let index = 0; ; index++) {
        const header = await next();
        if (header === undefined) return;
        if (header.attachment === undefined) {
          throw invalidInput(`attachments[${index}]`, 'send an attachment header before its bytes');
        }
        if (index >= MAX_ATTACHMENTS) {
          throw new VprError(
            'PAYLOAD_TOO_LARGE',
            `a letter may have at most ${MAX_ATTACHMENTS} attachments`,
            {
              details: { field: 'attachment' },
            },
          );
        }
        async function* bytes(): AsyncIterable<Buffer> {
          for (;;) {
            const message = await next();
            if (message === undefined) return;
            if (message.chunk === undefined) {
              if (message.letter !== undefined) throw invalidInput('letter', 'may be sent only once, first');
              pending = message;
              return;
            }
            yield message.chunk;
          }
        }
        yield { filename: header.attachment.filename ?? '', stream: bytes() };
      }
    },
  };
}

/** Calls that cannot be run in the prepare signing mode, though they write. */
const NOT_PREPARABLE = new Set(['CreatePatient', 'PrepareSignedCall', 'SubmitCommitSignature']);

export function vprRpcs(deps: RpcDeps): Record<string, Rpc> {
  const table = writeAndReadRpcs(deps);
  return {
    ...table,
    PrepareSignedCall: unary<{ method?: string; request?: Buffer }>('patient:write', async (r, actor) => {
      const target = r.method === undefined ? undefined : table[r.method];
      if (
        target === undefined ||
        target.kind !== 'unary' ||
        target.scope !== 'patient:write' ||
        NOT_PREPARABLE.has(r.method!)
      ) {
        throw invalidInput('method', 'must name a unary write call of vpr.v1.VPR other than CreatePatient');
      }
      const request = deps.decodeRequest(r.method!, r.request ?? Buffer.alloc(0));
      try {
        await target.handle(request as never, { ...actor, signing: 'prepare' } as Principal);
      } catch (error) {
        if (!isCommitPrepared(error)) throw error;
        const view = error.view;
        return { prepared_commit: { ...view, bytes: Buffer.from(view.bytes, 'base64') }, no_change: false };
      }
      return { no_change: true };
    }),
    SubmitCommitSignature: unary<{
      prepared_commit_id?: string;
      signature?: Buffer;
      certificates?: Buffer[];
      public_key?: Buffer;
    }>('patient:write', async (r, actor) => {
      const landed = await deps.signing.submit(actor, r.prepared_commit_id ?? '', {
        signature: (r.signature ?? Buffer.alloc(0)).toString('base64'),
        certificates: (r.certificates ?? []).map((der) => der.toString('base64')),
        ...(r.public_key === undefined ? {} : { public_key: r.public_key.toString('base64') }),
      });
      const { registration, ...signer } = landed.signer;
      return { ...landed, signer: { ...signer, ...(registration === null ? {} : { registration }) } };
    }),
  };
}

function writeAndReadRpcs(deps: RpcDeps): Record<string, Rpc> {
  const { patients, clinical, coordination } = deps;
  const { letters, entries, contributions } = clinical;
  const { status, threads, events } = coordination;
  const readOnlyState = () => ({
    read_only: deps.writes.readOnly,
    changed_at: deps.writes.changedAt.toISOString(),
  });
  const createPatient = unary<{ patient?: unknown; idempotency_key?: string }>(
    'patient:write',
    async (request, actor) =>
      patients.create(actor, body(request.patient, 'patient'), request.idempotency_key),
  );

  return {
    // The service.
    Health: unary(undefined, async () => ({ status: 'ok', version: deps.version })),
    GetReadOnly: unary('admin', async () => readOnlyState()),
    SetReadOnly: unary<{ read_only?: boolean }>('admin', async (request) => {
      deps.writes.set(request.read_only === true);
      return readOnlyState();
    }),

    // Patients.
    CreatePatient: createPatient,
    InitialiseFullRecord: createPatient,
    GetPatient: unary<PatientRef>('patient:read', async (r) => patients.get(r.patient_id)),
    UpdatePatient: unary<PatientRef & { expected_version?: string; patient?: unknown }>(
      'patient:write',
      async (r, actor) =>
        patients.replace(actor, r.patient_id, r.expected_version, body(r.patient, 'patient')),
    ),
    DeletePatient: unary<PatientRef & Expected>('patient:write', async (r, actor) => {
      await patients.remove(actor, r.patient_id, r.expected_version);
      return {};
    }),
    RestorePatient: unary<PatientRef>('patient:write', async (r, actor) =>
      patients.restore(actor, r.patient_id),
    ),
    ListPatients: unary<Record<string, unknown>>('patient:read', async (r) =>
      patients.list(checked(PatientListQuery, r) as never),
    ),
    PatientHistory: unary<PatientRef & History>('patient:read', async ({ patient_id, ...query }) =>
      patients.history(patient_id, checked(HistoryQuery, query)),
    ),

    VerifyPatientSignatures: unary<PatientRef & { limit?: number }>(
      'patient:read',
      async ({ patient_id, ...query }) =>
        deps.signatures.verifyPatient(patient_id, checked(SignatureQuery, query)),
    ),

    // Letters.
    CreateLetter: unary<PatientRef & { letter?: unknown }>('patient:write', async (r, actor) =>
      letters.create(actor, r.patient_id, body(r.letter, 'letter')),
    ),
    UploadLetter: {
      kind: 'upload',
      scope: 'patient:write',
      async handle(messages: AsyncIterator<UploadMessage>, actor: Principal) {
        const first = await messages.next();
        const start = first.done === true ? undefined : first.value.letter;
        if (start === undefined) {
          throw invalidInput('letter', 'send the letter first, then each attachment header and its bytes');
        }
        return letters.create(actor, start.patient_id, body(start.letter, 'letter'), uploadsOf(messages));
      },
    } as UploadRpc,
    GetLetter: unary<LetterRef & Versioned>('patient:read', async (r) =>
      letters.get(r.patient_id, r.letter_id, versionOf(r)),
    ),
    UpdateLetter: unary<LetterRef & Expected & { letter?: unknown }>('patient:write', async (r, actor) =>
      letters.edit(actor, r.patient_id, r.letter_id, r.expected_version, body(r.letter, 'letter')),
    ),
    SignOffLetter: unary<LetterRef & Expected>('patient:write', async (r, actor) =>
      letters.signOff(actor, r.patient_id, r.letter_id, r.expected_version),
    ),
    ListLetters: unary<PatientRef & Paged>('patient:read', async ({ patient_id, ...query }) =>
      letterPage(await letters.list(patient_id, checked(PageQuery, query))),
    ),
    LetterHistory: unary<LetterRef & History>('patient:read', async ({ patient_id, letter_id, ...query }) =>
      letters.history(patient_id, letter_id, checked(LetterHistoryQuery, query)),
    ),
    DownloadAttachment: {
      kind: 'download',
      scope: 'patient:read',
      async handle(r: LetterRef & Versioned & { hash?: string }) {
        const params = checked(AttachmentParams, {
          patient_id: r.patient_id ?? '',
          letter_id: r.letter_id ?? '',
          hash: r.hash ?? '',
        });
        const version = versionOf(r);
        const { file, stream } = await letters.attachment(
          params.patient_id,
          params.letter_id,
          params.hash,
          version,
        );
        return (async function* () {
          yield { file };
          for await (const data of stream) yield { data };
        })();
      },
    } as DownloadRpc,
    SignOffQueue: unary<Paged & { author?: string; care_location?: string }>('patient:read', async (r) => {
      const { author, care_location, limit, cursor } = checked(SignOffQuery, r);
      return letterPage(
        await letters.signOffQueue({
          ...(author === undefined ? {} : { author }),
          ...(care_location === undefined ? {} : { careLocation: care_location }),
          ...(limit === undefined ? {} : { limit }),
          ...(cursor === undefined ? {} : { cursor }),
        }),
      );
    }),

    // Structured entries.
    AddEntry: unary<PatientRef & { kind?: string; data?: WireStruct }>('patient:write', async (r, actor) => {
      const p = checked(EntryKindParams, { patient_id: r.patient_id ?? '', kind: r.kind ?? '' });
      return withData(await entries.add(actor, p.patient_id, p.kind, fromStruct(r.data, 'data')));
    }),
    GetEntry: unary<PatientRef & Versioned & { kind?: string; entry_id?: string }>(
      'patient:read',
      async (r) => {
        const p = entryRef(r);
        const version = versionOf(r);
        return withData(await entries.get(p.patient_id, p.kind, p.entry_id, version));
      },
    ),
    UpdateEntry: unary<PatientRef & Expected & { kind?: string; entry_id?: string; data?: WireStruct }>(
      'patient:write',
      async (r, actor) => {
        const p = entryRef(r);
        return withData(
          await entries.update(
            actor,
            p.patient_id,
            p.kind,
            p.entry_id,
            r.expected_version,
            fromStruct(r.data, 'data'),
          ),
        );
      },
    ),
    SupersedeEntry: unary<PatientRef & { kind?: string; entry_id?: string; data?: WireStruct }>(
      'patient:write',
      async (r, actor) => {
        const p = entryRef(r);
        return withData(
          await entries.supersede(actor, p.patient_id, p.kind, p.entry_id, fromStruct(r.data, 'data')),
        );
      },
    ),
    ListEntries: unary<PatientRef & Paged & { kind?: string; from?: string; to?: string; current?: boolean }>(
      'patient:read',
      async ({ patient_id, ...query }) =>
        entryPageOut(entryPage(await entries.list(patient_id, checked(EntryListQuery, query) as never))),
    ),

    // The patient's own contributions.
    AddContribution: unary<PatientRef & { kind?: string; data?: WireStruct }>(
      'patient:write',
      async (r, actor) => {
        const p = checked(ContributionKindParams, { patient_id: r.patient_id ?? '', kind: r.kind ?? '' });
        const view = contributionView(
          await contributions.add(actor, p.patient_id, p.kind, fromStruct(r.data, 'data')),
        );
        return { ...view, data: toValue(view.data) };
      },
    ),
    GetContribution: unary<PatientRef & Versioned & { kind?: string; contribution_id?: string }>(
      'patient:read',
      async (r) => {
        const p = checked(ContributionParams, {
          patient_id: r.patient_id ?? '',
          kind: r.kind ?? '',
          contribution_id: r.contribution_id ?? '',
        });
        const version = versionOf(r);
        const view = contributionView(
          await contributions.get(p.patient_id, p.kind, p.contribution_id, version),
        );
        return { ...view, data: toValue(view.data) };
      },
    ),
    ListContributions: unary<PatientRef & Paged>('patient:read', async ({ patient_id, ...query }) =>
      contributionPage(await contributions.list(patient_id, checked(PageQuery, query))),
    ),

    // Care coordination.
    GetCoordinationStatus: unary<PatientRef>('patient:read', async (r) => status.get(r.patient_id)),
    UpdateCoordinationStatus: unary<PatientRef & Expected & { change?: unknown }>(
      'patient:write',
      async (r, actor) => status.update(actor, r.patient_id, r.expected_version, body(r.change, 'change')),
    ),
    CreateThread: unary<PatientRef & { thread?: unknown }>('patient:write', async (r, actor) =>
      threads.create(actor, r.patient_id, body(r.thread, 'thread')),
    ),
    AddMessage: unary<PatientRef & { communication_id?: string; message?: unknown }>(
      'patient:write',
      async (r, actor) =>
        threads.addMessage(actor, r.patient_id, r.communication_id, body(r.message, 'message')),
    ),
    CorrectMessage: unary<PatientRef & { communication_id?: string; corrects?: string; body?: string }>(
      'patient:write',
      async (r, actor) =>
        threads.addMessage(actor, r.patient_id, r.communication_id, {
          body: r.body ?? '',
          corrects: body(r.corrects, 'corrects'),
        }),
    ),
    UpdateLedger: unary<PatientRef & Expected & { communication_id?: string; change?: unknown }>(
      'patient:write',
      async (r, actor) =>
        threads.updateLedger(
          actor,
          r.patient_id,
          r.communication_id,
          r.expected_version,
          body(r.change, 'change'),
        ),
    ),
    GetThread: unary<PatientRef & Versioned & { communication_id?: string }>('patient:read', async (r) =>
      threads.get(r.patient_id, r.communication_id, versionOf(r)),
    ),
    ListThreads: unary<PatientRef & Paged & { status?: string }>(
      'patient:read',
      async ({ patient_id, ...query }) =>
        threadPage(await threads.list(patient_id, checked(ThreadListQuery, query))),
    ),
    ParticipantThreads: unary<Paged & { participant_id?: string; status?: string }>(
      'patient:read',
      async (r) => {
        const { participant_id, ...query } = checked(ParticipantThreadsQuery, r);
        return threadPage(await threads.forParticipant(participant_id, query));
      },
    ),

    // Appointments, encounters and referrals.
    AddCareEvent: unary<PatientRef & { collection?: string; event?: WireStruct }>(
      'patient:write',
      async (r, actor) =>
        withData(
          await events.add(actor, r.patient_id, collectionOf(r.collection), fromStruct(r.event, 'event')),
        ),
    ),
    GetCareEvent: unary<PatientRef & Versioned & { collection?: string; event_id?: string }>(
      'patient:read',
      async (r) =>
        withData(await events.get(r.patient_id, collectionOf(r.collection), r.event_id, versionOf(r))),
    ),
    UpdateCareEvent: unary<
      PatientRef & Expected & { collection?: string; event_id?: string; event?: WireStruct }
    >('patient:write', async (r, actor) =>
      withData(
        await events.update(
          actor,
          r.patient_id,
          collectionOf(r.collection),
          r.event_id,
          r.expected_version,
          fromStruct(r.event, 'event'),
        ),
      ),
    ),
    ListCareEvents: unary<PatientRef & Paged & { collection?: string; upcoming?: boolean; from?: string }>(
      'patient:read',
      async ({ patient_id, collection, ...query }) =>
        careEventPage(
          await events.list(patient_id, collectionOf(collection), checked(CareEventListQuery, query)),
        ),
    ),
    AppointmentsOfDay: unary<Paged & { care_location?: string; date?: string }>('patient:read', async (r) =>
      careEventPage(await events.day(checked(DayQuery, { ...r, care_location: r.care_location ?? '' }))),
    ),
  };
}

const COLLECTIONS = ['appointments', 'encounters', 'referrals'] as const;

/** The REST collection name a care-event call names. */
function collectionOf(value: string | undefined): (typeof COLLECTIONS)[number] {
  const found = COLLECTIONS.find((c) => c === value);
  if (found === undefined) throw invalidInput('collection', `must be one of ${COLLECTIONS.join(', ')}`);
  return found;
}
