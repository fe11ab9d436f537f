// The clinical record over REST: letters (JSON or multipart with attachments; read at any
// version; edit; sign off; history; attachment download streamed with its media type), the
// cross-patient sign-off queue, structured entries (JSON or YAML bodies) and the patient's own
// contributions. Each handler only reads the request, calls a service and writes the answer.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MultipartFile, MultipartValue } from '@fastify/multipart';
import { VprError, invalidInput } from '../../core/errors.js';
import { actorOf } from './request-actor.js';
import type { ContributionService } from '../../services/contribution-service.js';
import type { EntryService } from '../../services/entry-service.js';
import type { LetterService, Upload } from '../../services/letter-service.js';
import { contributionPage, contributionView, entryPage, letterPage } from '../views.js';
import { etagOf, noneMatchHits, parseIfMatch } from './etag.js';
import {
  AttachmentParams,
  Contribution,
  ContributionInput,
  ContributionKindParams,
  ContributionPage,
  ContributionParams,
  Entry,
  EntryInput,
  EntryKindParams,
  EntryListQuery,
  EntryPage,
  EntryParams,
  Letter,
  LetterEdit,
  LetterHistory,
  LetterHistoryQuery,
  LetterInput,
  LetterPage,
  LetterParams,
  PageQuery,
  SignOffQuery,
  VersionQuery,
} from './clinical-schemas.js';
import { ErrorBody, PatientParams } from './schemas.js';

const errors = { '4xx': ErrorBody, '5xx': ErrorBody };
const PATIENT = '/api/v1/patients/:patient_id';

export interface ClinicalServices {
  readonly letters: LetterService;
  readonly entries: EntryService;
  readonly contributions: ContributionService;
}

const header = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value.join(', ') : value;

/**
 * A multipart letter: the first part must be the field `letter` (the letter as JSON); every
 * later part must be a file. Files are handed on one at a time, as they arrive.
 */
async function multipartLetter(
  request: FastifyRequest,
): Promise<{ body: unknown; uploads: AsyncIterable<Upload> }> {
  const parts = request.parts();
  const first = await parts.next();
  const field = first.value as MultipartValue<string> | MultipartFile | undefined;
  if (first.done === true || field === undefined || field.type !== 'field' || field.fieldname !== 'letter') {
    throw invalidInput('letter', 'send the letter first, as a form field named letter holding JSON');
  }
  if (field.valueTruncated) {
    throw new VprError('PAYLOAD_TOO_LARGE', 'the letter field is larger than the configured body limit', {
      details: { field: 'letter' },
    });
  }
  // A part sent with Content-Type application/json arrives parsed already; a plain field as text.
  let body: unknown = field.value;
  if (typeof field.value === 'string') {
    try {
      body = JSON.parse(field.value);
    } catch {
      throw invalidInput('letter', 'is not valid JSON');
    }
  }
  async function* uploads(): AsyncIterable<Upload> {
    let index = 0;
    for await (const part of parts) {
      if (part.type !== 'file')
        throw invalidInput(`attachments[${index}]`, 'only files may follow the letter');
      yield { filename: part.filename, stream: part.file };
      index++;
    }
  }
  return { body, uploads: uploads() };
}

export function registerClinicalRoutes(app: FastifyInstance, services: ClinicalServices): void {
  const { letters, entries, contributions } = services;
  const versioned = <T extends { version: string }>(reply: FastifyReply, value: T): T => {
    reply.header('etag', etagOf(value.version));
    return value;
  };

  app.post<{ Params: { patient_id: string } }>(
    `${PATIENT}/letters`,
    {
      config: { scope: 'patient:write', openapiBody: LetterInput },
      schema: {
        tags: ['letters'],
        summary:
          'Write a letter: a Markdown body, attachments (multipart), or both; a draft unless signed off at once',
        params: PatientParams,
        consumes: ['application/json', 'multipart/form-data'],
        response: { 201: Letter, ...errors },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request.principal);
      const { body, uploads } = request.isMultipart()
        ? await multipartLetter(request)
        : { body: request.body, uploads: undefined };
      const letter = await letters.create(actor, request.params.patient_id, body, uploads);
      reply.header('location', `/api/v1/patients/${request.params.patient_id}/letters/${letter.letter_id}`);
      return reply.code(201).send(versioned(reply, letter));
    },
  );

  app.get<{ Params: { patient_id: string }; Querystring: { limit?: number; cursor?: string } }>(
    `${PATIENT}/letters`,
    {
      config: { scope: 'patient:read' },
      schema: {
        tags: ['letters'],
        summary: 'A patient’s letters, newest first, with title and snippet (from the projection)',
        params: PatientParams,
        querystring: PageQuery,
        response: { 200: LetterPage, ...errors },
      },
    },
    async (request) => {
      const page = await letters.list(request.params.patient_id, request.query);
      return letterPage(page);
    },
  );

  app.get<{ Params: { patient_id: string; letter_id: string }; Querystring: { version?: string } }>(
    `${PATIENT}/letters/:letter_id`,
    {
      config: { scope: 'patient:read' },
      schema: {
        tags: ['letters'],
        summary: 'Read a letter at HEAD, or as it was at a commit (?version=)',
        params: LetterParams,
        querystring: VersionQuery,
        response: { 200: Letter, 304: { type: 'null', description: 'Not modified.' }, ...errors },
      },
    },
    async (request, reply) => {
      const letter = await letters.get(
        request.params.patient_id,
        request.params.letter_id,
        request.query.version,
      );
      versioned(reply, letter);
      if (noneMatchHits(header(request.headers['if-none-match']), letter.version))
        return reply.code(304).send();
      return letter;
    },
  );

  app.put<{ Params: { patient_id: string; letter_id: string } }>(
    `${PATIENT}/letters/:letter_id`,
    {
      config: { scope: 'patient:write', openapiBody: LetterEdit },
      schema: {
        tags: ['letters'],
        summary:
          'Edit a letter (a new commit); If-Match with its ETag is required. A signed letter becomes a draft again',
        params: LetterParams,
        response: { 200: Letter, ...errors },
      },
    },
    async (request, reply) =>
      versioned(
        reply,
        await letters.edit(
          actorOf(request.principal),
          request.params.patient_id,
          request.params.letter_id,
          parseIfMatch(header(request.headers['if-match'])),
          request.body,
        ),
      ),
  );

  app.post<{ Params: { patient_id: string; letter_id: string } }>(
    // A literal colon after a parameter needs the parameter's pattern spelt out (find-my-way).
    `${PATIENT}/letters/:letter_id(^[^:/]+)::sign-off`,
    {
      config: { scope: 'patient:write' },
      schema: {
        tags: ['letters'],
        summary: 'Sign a draft letter off (its own commit); If-Match optional',
        params: LetterParams,
        response: { 200: Letter, ...errors },
      },
    },
    async (request, reply) =>
      versioned(
        reply,
        await letters.signOff(
          actorOf(request.principal),
          request.params.patient_id,
          request.params.letter_id,
          parseIfMatch(header(request.headers['if-match'])),
        ),
      ),
  );

  app.get<{
    Params: { patient_id: string; letter_id: string };
    Querystring: { limit?: number; after?: string; diff?: boolean };
  }>(
    `${PATIENT}/letters/:letter_id/history`,
    {
      config: { scope: 'patient:read' },
      schema: {
        tags: ['letters'],
        summary: 'The commits that changed a letter, newest first, optionally with diffs',
        params: LetterParams,
        querystring: LetterHistoryQuery,
        response: { 200: LetterHistory, ...errors },
      },
    },
    async (request) => letters.history(request.params.patient_id, request.params.letter_id, request.query),
  );

  app.get<{
    Params: { patient_id: string; letter_id: string; hash: string };
    Querystring: { version?: string };
  }>(
    `${PATIENT}/letters/:letter_id/attachments/:hash`,
    {
      config: { scope: 'patient:read' },
      schema: {
        tags: ['letters'],
        summary:
          'Download an attachment, streamed, checked against its SHA-256 (a tampered file is never served)',
        params: AttachmentParams,
        querystring: VersionQuery,
        produces: ['application/octet-stream'],
        response: { 200: { description: 'The file’s bytes.', type: 'string', format: 'binary' }, ...errors },
      },
    },
    async (request, reply) => {
      const { file, stream } = await letters.attachment(
        request.params.patient_id,
        request.params.letter_id,
        request.params.hash,
        request.query.version,
      );
      reply.header('content-type', file.media_type);
      reply.header('content-length', String(file.size_bytes));
      reply.header('etag', `"${file.hash}"`);
      reply.header(
        'content-disposition',
        `attachment; filename*=UTF-8''${encodeURIComponent(file.original_filename)}`,
      );
      reply.header('x-content-type-options', 'nosniff');
      return reply.send(stream);
    },
  );

  app.get<{ Querystring: { author?: string; care_location?: string; limit?: number; cursor?: string } }>(
    '/api/v1/letters/sign-off-queue',
    {
      config: { scope: 'patient:read' },
      schema: {
        tags: ['letters'],
        summary:
          'Letters needing sign-off across every patient, oldest first, optionally for one author or care location',
        querystring: SignOffQuery,
        response: { 200: LetterPage, ...errors },
      },
    },
    async (request) => {
      const { author, care_location, limit, cursor } = request.query;
      const page = await letters.signOffQueue({
        ...(author === undefined ? {} : { author }),
        ...(care_location === undefined ? {} : { careLocation: care_location }),
        ...(limit === undefined ? {} : { limit }),
        ...(cursor === undefined ? {} : { cursor }),
      });
      return letterPage(page);
    },
  );

  app.post<{ Params: { patient_id: string; kind: string } }>(
    `${PATIENT}/entries/:kind`,
    {
      config: { scope: 'patient:write', openapiBody: EntryInput },
      schema: {
        tags: ['entries'],
        summary: 'Record a structured entry (vital sign, lab result, problem) as one openEHR composition',
        params: EntryKindParams,
        consumes: ['application/json', 'application/yaml'],
        response: { 201: Entry, ...errors },
      },
    },
    async (request, reply) => {
      const entry = await entries.add(
        actorOf(request.principal),
        request.params.patient_id,
        request.params.kind,
        request.body,
      );
      reply.header(
        'location',
        `/api/v1/patients/${request.params.patient_id}/entries/${entry.kind}/${entry.entry_id}`,
      );
      return reply.code(201).send(versioned(reply, entry));
    },
  );

  app.get<{ Params: { patient_id: string }; Querystring: Record<string, unknown> }>(
    `${PATIENT}/entries`,
    {
      config: { scope: 'patient:read' },
      schema: {
        tags: ['entries'],
        summary: 'A patient’s entries of a kind over a time range, newest first (from the projection)',
        params: PatientParams,
        querystring: EntryListQuery,
        response: { 200: EntryPage, ...errors },
      },
    },
    async (request) => {
      return entryPage(await entries.list(request.params.patient_id, request.query as never));
    },
  );

  app.get<{
    Params: { patient_id: string; kind: string; entry_id: string };
    Querystring: { version?: string };
  }>(
    `${PATIENT}/entries/:kind/:entry_id`,
    {
      config: { scope: 'patient:read' },
      schema: {
        tags: ['entries'],
        summary: 'Read an entry at HEAD or at a commit',
        params: EntryParams,
        querystring: VersionQuery,
        response: { 200: Entry, 304: { type: 'null', description: 'Not modified.' }, ...errors },
      },
    },
    async (request, reply) => {
      const entry = await entries.get(
        request.params.patient_id,
        request.params.kind,
        request.params.entry_id,
        request.query.version,
      );
      versioned(reply, entry);
      if (noneMatchHits(header(request.headers['if-none-match']), entry.version))
        return reply.code(304).send();
      return entry;
    },
  );

  app.put<{ Params: { patient_id: string; kind: string; entry_id: string } }>(
    `${PATIENT}/entries/:kind/:entry_id`,
    {
      config: { scope: 'patient:write', openapiBody: EntryInput },
      schema: {
        tags: ['entries'],
        summary: 'Correct an entry: a new version of the same file (commit action update); If-Match required',
        params: EntryParams,
        consumes: ['application/json', 'application/yaml'],
        response: { 200: Entry, ...errors },
      },
    },
    async (request, reply) =>
      versioned(
        reply,
        await entries.update(
          actorOf(request.principal),
          request.params.patient_id,
          request.params.kind,
          request.params.entry_id,
          parseIfMatch(header(request.headers['if-match'])),
          request.body,
        ),
      ),
  );

  app.post<{ Params: { patient_id: string; kind: string; entry_id: string } }>(
    `${PATIENT}/entries/:kind/:entry_id(^[^:/]+)::supersede`,
    {
      config: { scope: 'patient:write', openapiBody: EntryInput },
      schema: {
        tags: ['entries'],
        summary:
          'Supersede an entry with newer information: a new entry naming the old, which stays as it was',
        params: EntryParams,
        consumes: ['application/json', 'application/yaml'],
        response: { 201: Entry, ...errors },
      },
    },
    async (request, reply) => {
      const entry = await entries.supersede(
        actorOf(request.principal),
        request.params.patient_id,
        request.params.kind,
        request.params.entry_id,
        request.body,
      );
      reply.header(
        'location',
        `/api/v1/patients/${request.params.patient_id}/entries/${entry.kind}/${entry.entry_id}`,
      );
      return reply.code(201).send(versioned(reply, entry));
    },
  );

  app.post<{ Params: { patient_id: string; kind: string } }>(
    `${PATIENT}/contributions/:kind`,
    {
      config: { scope: 'patient:write', openapiBody: ContributionInput },
      schema: {
        tags: ['patient contributions'],
        summary:
          'Add the patient’s own material under patient/: a symptom log, a reported outcome, a comment on a letter',
        params: ContributionKindParams,
        response: { 201: Contribution, ...errors },
      },
    },
    async (request, reply) => {
      const contribution = await contributions.add(
        actorOf(request.principal),
        request.params.patient_id,
        request.params.kind,
        request.body,
      );
      return reply.code(201).send(contributionView(contribution));
    },
  );

  app.get<{ Params: { patient_id: string }; Querystring: { limit?: number; cursor?: string } }>(
    `${PATIENT}/contributions`,
    {
      config: { scope: 'patient:read' },
      schema: {
        tags: ['patient contributions'],
        summary: 'The patient’s contributions, newest first (from the projection)',
        params: PatientParams,
        querystring: PageQuery,
        response: { 200: ContributionPage, ...errors },
      },
    },
    async (request) => {
      return contributionPage(await contributions.list(request.params.patient_id, request.query));
    },
  );

  app.get<{
    Params: { patient_id: string; kind: string; contribution_id: string };
    Querystring: { version?: string };
  }>(
    `${PATIENT}/contributions/:kind/:contribution_id`,
    {
      config: { scope: 'patient:read' },
      schema: {
        tags: ['patient contributions'],
        summary: 'Read one contribution',
        params: ContributionParams,
        querystring: VersionQuery,
        response: { 200: Contribution, ...errors },
      },
    },
    async (request) =>
      contributionView(
        await contributions.get(
          request.params.patient_id,
          request.params.kind,
          request.params.contribution_id,
          request.query.version,
        ),
      ),
  );
}
