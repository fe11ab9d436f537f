// The Patient API over REST (../shared/seeds/004): create, read, replace, soft-delete, restore,
// list and history, with ETags, If-Match, If-None-Match and Idempotency-Key. Each handler only
// reads the request, calls the patient service and writes the answer.
import type { FastifyInstance } from 'fastify';
import { actorOf } from './request-actor.js';
import type { PatientService, PatientView } from '../../services/patient-service.js';
import { etagOf, noneMatchHits, parseIfMatch } from './etag.js';
import {
  ErrorBody,
  HistoryQuery,
  Patient,
  PatientCreate,
  PatientHistory,
  PatientListQuery,
  PatientPage,
  PatientParams,
  PatientReplace,
} from './schemas.js';

const errors = { '4xx': ErrorBody, '5xx': ErrorBody };
const tags = ['patients'];

const header = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value.join(', ') : value;

export function registerPatientRoutes(app: FastifyInstance, patients: PatientService): void {
  const withVersion = (reply: { header(name: string, value: string): unknown }, patient: PatientView) =>
    reply.header('etag', etagOf(patient.version));

  app.post(
    '/api/v1/patients',
    {
      config: { scope: 'patient:write', openapiBody: PatientCreate },
      schema: {
        tags,
        summary: 'Create a patient: demographics, clinical and coordination records, each a first commit',
        description:
          'With an Idempotency-Key, repeating the same request answers as the first did (header Idempotent-Replayed: true); the same key with a different body is refused.',
        headers: {
          type: 'object',
          properties: { 'idempotency-key': { type: 'string', maxLength: 255 } },
        },
        response: { 201: Patient, ...errors },
      },
    },
    async (request, reply) => {
      const result = await patients.create(
        actorOf(request.principal),
        request.body,
        header(request.headers['idempotency-key']),
      );
      withVersion(reply, result.patient);
      reply.header('location', `/api/v1/patients/${result.patient.patient_id}`);
      if (result.replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(201).send(result.patient);
    },
  );

  app.get<{ Querystring: Record<string, unknown> }>(
    '/api/v1/patients',
    {
      config: { scope: 'patient:read' },
      schema: {
        tags,
        summary: 'List patients from the projection, filtered, a page at a time (keyset cursor)',
        querystring: PatientListQuery,
        response: { 200: PatientPage, ...errors },
      },
    },
    async (request) => patients.list(request.query as never),
  );

  app.get<{ Params: { patient_id: string } }>(
    '/api/v1/patients/:patient_id',
    {
      config: { scope: 'patient:read' },
      schema: {
        tags,
        summary: 'Read a patient at its current version (ETag; If-None-Match answers 304)',
        params: PatientParams,
        response: { 200: Patient, 304: { type: 'null', description: 'Not modified.' }, ...errors },
      },
    },
    async (request, reply) => {
      const patient = await patients.get(request.params.patient_id);
      withVersion(reply, patient);
      if (noneMatchHits(header(request.headers['if-none-match']), patient.version))
        return reply.code(304).send();
      return patient;
    },
  );

  app.put<{ Params: { patient_id: string } }>(
    '/api/v1/patients/:patient_id',
    {
      config: { scope: 'patient:write', openapiBody: PatientReplace },
      schema: {
        tags,
        summary: 'Replace a patient’s demographics; If-Match with the current ETag is required',
        params: PatientParams,
        response: { 200: Patient, ...errors },
      },
    },
    async (request, reply) => {
      const patient = await patients.replace(
        actorOf(request.principal),
        request.params.patient_id,
        parseIfMatch(header(request.headers['if-match'])),
        request.body,
      );
      withVersion(reply, patient);
      return patient;
    },
  );

  app.delete<{ Params: { patient_id: string } }>(
    '/api/v1/patients/:patient_id',
    {
      config: { scope: 'patient:write' },
      schema: {
        tags,
        summary: 'Soft-delete a patient: it stays in Git, marked inactive (If-Match optional)',
        params: PatientParams,
        response: { 204: { type: 'null', description: 'Deleted (or deleted already).' }, ...errors },
      },
    },
    async (request, reply) => {
      await patients.remove(
        actorOf(request.principal),
        request.params.patient_id,
        parseIfMatch(header(request.headers['if-match'])),
      );
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { patient_id: string } }>(
    // A literal colon after a parameter needs the parameter's pattern spelt out (find-my-way).
    '/api/v1/patients/:patient_id(^[^:/]+)::restore',
    {
      config: { scope: 'patient:write' },
      schema: {
        tags,
        summary: 'Restore a soft-deleted patient',
        params: PatientParams,
        response: { 200: Patient, ...errors },
      },
    },
    async (request, reply) => {
      const patient = await patients.restore(actorOf(request.principal), request.params.patient_id);
      withVersion(reply, patient);
      return patient;
    },
  );

  app.get<{
    Params: { patient_id: string };
    Querystring: { limit?: number; after?: string; diff?: boolean };
  }>(
    '/api/v1/patients/:patient_id/history',
    {
      config: { scope: 'patient:read' },
      schema: {
        tags,
        summary: 'The patient’s versions from Git, newest first: who changed which fields when',
        params: PatientParams,
        querystring: HistoryQuery,
        response: { 200: PatientHistory, ...errors },
      },
    },
    async (request) => patients.history(request.params.patient_id, request.query),
  );
}
