// The care coordination record over REST: the coordination status, messaging threads (create,
// message, correction, ledger change, read, list; open threads of a participant across
// patients), and appointments, encounters and referrals (record, update with If-Match, read,
// list a patient's; a care location's appointments of a day). Handlers only read the request,
// call a service and write the answer.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { actorOf } from './request-actor.js';
import type { CareEventService } from '../../services/care-event-service.js';
import type { CoordinationStatusService } from '../../services/coordination-record.js';
import type { ThreadService } from '../../services/thread-service.js';
import { careEventPage, threadPage } from '../views.js';
import { etagOf, noneMatchHits, parseIfMatch } from './etag.js';
import {
  CareEvent,
  CareEventInput,
  CareEventItemParams,
  CareEventListQuery,
  CareEventPage,
  CoordinationStatus,
  CoordinationStatusChange,
  DayQuery,
  LedgerChange,
  MessageCreate,
  ParticipantThreadsQuery,
  Thread,
  ThreadCreate,
  ThreadListQuery,
  ThreadPage,
  ThreadParams,
} from './coordination-schemas.js';
import { VersionQuery } from './clinical-schemas.js';
import { ErrorBody, PatientParams } from './schemas.js';

const errors = { '4xx': ErrorBody, '5xx': ErrorBody };
const WHAT = {
  appointments: 'an appointment (FHIR Appointment)',
  encounters: 'an encounter (FHIR Encounter)',
  referrals: 'a referral (FHIR ServiceRequest)',
} as const;
const PATIENT = '/api/v1/patients/:patient_id';

export interface CoordinationServices {
  readonly status: CoordinationStatusService;
  readonly threads: ThreadService;
  readonly events: CareEventService;
}

const header = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value.join(', ') : value;

export function registerCoordinationRoutes(app: FastifyInstance, services: CoordinationServices): void {
  const { status, threads, events } = services;
  const versioned = <T extends { version: string }>(reply: FastifyReply, value: T): T => {
    reply.header('etag', etagOf(value.version));
    return value;
  };
  const tags = ['coordination'];

  app.get<{ Params: { patient_id: string } }>(
    `${PATIENT}/coordination/status`,
    {
      config: { scope: 'patient:read' },
      schema: {
        tags,
        summary: 'The coordination record’s status (COORDINATION_STATUS.yaml)',
        params: PatientParams,
        response: { 200: CoordinationStatus, ...errors },
      },
    },
    async (request, reply) => versioned(reply, await status.get(request.params.patient_id)),
  );

  app.put<{ Params: { patient_id: string } }>(
    `${PATIENT}/coordination/status`,
    {
      config: { scope: 'patient:write', openapiBody: CoordinationStatusChange },
      schema: {
        tags,
        summary: 'Change the lifecycle state or permissions (a commit); If-Match optional; closed is final',
        params: PatientParams,
        response: { 200: CoordinationStatus, ...errors },
      },
    },
    async (request, reply) =>
      versioned(
        reply,
        await status.update(
          actorOf(request.principal),
          request.params.patient_id,
          parseIfMatch(header(request.headers['if-match'])),
          request.body,
        ),
      ),
  );

  app.post<{ Params: { patient_id: string } }>(
    `${PATIENT}/threads`,
    {
      config: { scope: 'patient:write', openapiBody: ThreadCreate },
      schema: {
        tags,
        summary: 'Start a messaging thread: its ledger and, optionally, a first message, in one commit',
        params: PatientParams,
        response: { 201: Thread, ...errors },
      },
    },
    async (request, reply) => {
      const thread = await threads.create(
        actorOf(request.principal),
        request.params.patient_id,
        request.body,
      );
      reply.header(
        'location',
        `/api/v1/patients/${request.params.patient_id}/threads/${thread.communication_id}`,
      );
      return reply.code(201).send(versioned(reply, thread));
    },
  );

  app.get<{
    Params: { patient_id: string };
    Querystring: { status?: string; limit?: number; cursor?: string };
  }>(
    `${PATIENT}/threads`,
    {
      config: { scope: 'patient:read' },
      schema: {
        tags,
        summary:
          'A patient’s threads, newest first, with participants and the last message (from the projection)',
        params: PatientParams,
        querystring: ThreadListQuery,
        response: { 200: ThreadPage, ...errors },
      },
    },
    async (request) => {
      const page = await threads.list(request.params.patient_id, request.query);
      return threadPage(page);
    },
  );

  app.get<{ Querystring: { participant_id: string; status?: string; limit?: number; cursor?: string } }>(
    '/api/v1/threads',
    {
      config: { scope: 'patient:read' },
      schema: {
        tags,
        summary:
          'The threads a participant takes part in, across patients (open ones unless status says otherwise)',
        querystring: ParticipantThreadsQuery,
        response: { 200: ThreadPage, ...errors },
      },
    },
    async (request) => {
      const { participant_id, ...query } = request.query;
      const page = await threads.forParticipant(participant_id, query);
      return threadPage(page);
    },
  );

  app.get<{ Params: { patient_id: string; communication_id: string }; Querystring: { version?: string } }>(
    `${PATIENT}/threads/:communication_id`,
    {
      config: { scope: 'patient:read' },
      schema: {
        tags,
        summary: 'A thread whole: its ledger and every message, at HEAD or at a commit',
        params: ThreadParams,
        querystring: VersionQuery,
        response: { 200: Thread, 304: { type: 'null', description: 'Not modified.' }, ...errors },
      },
    },
    async (request, reply) => {
      const thread = await threads.get(
        request.params.patient_id,
        request.params.communication_id,
        request.query.version,
      );
      versioned(reply, thread);
      if (noneMatchHits(header(request.headers['if-none-match']), thread.version))
        return reply.code(304).send();
      return thread;
    },
  );

  app.post<{ Params: { patient_id: string; communication_id: string } }>(
    `${PATIENT}/threads/:communication_id/messages`,
    {
      config: { scope: 'patient:write', openapiBody: MessageCreate },
      schema: {
        tags,
        summary:
          'Add a message (or, with `corrects`, a correction of an earlier one); messages are never edited',
        params: ThreadParams,
        response: { 201: Thread, ...errors },
      },
    },
    async (request, reply) => {
      const thread = await threads.addMessage(
        actorOf(request.principal),
        request.params.patient_id,
        request.params.communication_id,
        request.body,
      );
      return reply.code(201).send(versioned(reply, thread));
    },
  );

  app.patch<{ Params: { patient_id: string; communication_id: string } }>(
    `${PATIENT}/threads/:communication_id/ledger`,
    {
      config: { scope: 'patient:write', openapiBody: LedgerChange },
      schema: {
        tags,
        summary: 'Change participants, status, visibility or policies of a thread; If-Match optional',
        params: ThreadParams,
        response: { 200: Thread, ...errors },
      },
    },
    async (request, reply) =>
      versioned(
        reply,
        await threads.updateLedger(
          actorOf(request.principal),
          request.params.patient_id,
          request.params.communication_id,
          parseIfMatch(header(request.headers['if-match'])),
          request.body,
        ),
      ),
  );

  app.get<{ Querystring: { care_location?: string; date?: string; limit?: number; cursor?: string } }>(
    '/api/v1/appointments',
    {
      config: { scope: 'patient:read' },
      schema: {
        tags,
        summary: 'Every appointment of a care location on one day, in time order, a page at a time',
        querystring: DayQuery,
        response: { 200: CareEventPage, ...errors },
      },
    },
    async (request) => {
      const page = await events.day(request.query);
      return careEventPage(page);
    },
  );

  // The three kinds share their routes, each under its own collection path.
  for (const collection of ['appointments', 'encounters', 'referrals'] as const) {
    app.post<{ Params: { patient_id: string } }>(
      `${PATIENT}/${collection}`,
      {
        config: { scope: 'patient:write', openapiBody: CareEventInput },
        schema: {
          tags,
          summary: `Record ${WHAT[collection]}`,
          params: PatientParams,
          response: { 201: CareEvent, ...errors },
        },
      },
      async (request, reply) => {
        const event = await events.add(
          actorOf(request.principal),
          request.params.patient_id,
          collection,
          request.body,
        );
        reply.header(
          'location',
          `/api/v1/patients/${request.params.patient_id}/${collection}/${event.event_id}`,
        );
        return reply.code(201).send(versioned(reply, event));
      },
    );

    app.get<{
      Params: { patient_id: string };
      Querystring: { upcoming?: boolean; from?: string; limit?: number; cursor?: string };
    }>(
      `${PATIENT}/${collection}`,
      {
        config: { scope: 'patient:read' },
        schema: {
          tags,
          summary: 'A patient’s appointments, encounters or referrals in time order (?upcoming=true)',
          params: PatientParams,
          querystring: CareEventListQuery,
          response: { 200: CareEventPage, ...errors },
        },
      },
      async (request) => {
        const page = await events.list(request.params.patient_id, collection, request.query);
        return careEventPage(page);
      },
    );

    app.get<{ Params: { patient_id: string; event_id: string }; Querystring: { version?: string } }>(
      `${PATIENT}/${collection}/:event_id`,
      {
        config: { scope: 'patient:read' },
        schema: {
          tags,
          summary: 'Read an appointment, encounter or referral at HEAD or at a commit',
          params: CareEventItemParams,
          querystring: VersionQuery,
          response: { 200: CareEvent, ...errors },
        },
      },
      async (request, reply) =>
        versioned(
          reply,
          await events.get(
            request.params.patient_id,
            collection,
            request.params.event_id,
            request.query.version,
          ),
        ),
    );

    app.put<{ Params: { patient_id: string; event_id: string } }>(
      `${PATIENT}/${collection}/:event_id`,
      {
        config: { scope: 'patient:write', openapiBody: CareEventInput },
        schema: {
          tags,
          summary:
            'Update an appointment, encounter or referral (its status moves only as FHIR allows); If-Match required',
          params: CareEventItemParams,
          response: { 200: CareEvent, ...errors },
        },
      },
      async (request, reply) =>
        versioned(
          reply,
          await events.update(
            actorOf(request.principal),
            request.params.patient_id,
            collection,
            request.params.event_id,
            parseIfMatch(header(request.headers['if-match'])),
            request.body,
          ),
        ),
    );
  }
}
