// Signatures over REST (docs/signing.md): verifying a patient's three histories against the
// trust anchors, and the second step of two-step signing — submitting the signature of a commit
// that a write sent with `VPR-Signing: prepare` prepared (that write answered 202 with the bytes).
import type { FastifyInstance } from 'fastify';
import type { CommitSigning } from '../../services/commit-signing.js';
import type { SignatureService } from '../../services/signature-service.js';
import { actorOf } from './request-actor.js';
import {
  ErrorBody,
  PatientParams,
  PatientSignatures,
  PreparedCommitParams,
  SignatureQuery,
  SignatureSubmission,
  SubmittedCommit,
} from './schemas.js';

const errors = { '4xx': ErrorBody, '5xx': ErrorBody };
const tags = ['signing'];

export function registerSigningRoutes(
  app: FastifyInstance,
  signatures: SignatureService,
  signing: CommitSigning,
): void {
  app.get<{ Params: { patient_id: string }; Querystring: { limit?: number } }>(
    '/api/v1/patients/:patient_id/signatures',
    {
      config: { scope: 'patient:read' },
      schema: {
        tags,
        summary:
          'Verify the commit signatures of the patient’s three repositories against the trust anchors (docs/signing.md)',
        params: PatientParams,
        querystring: SignatureQuery,
        response: { 200: PatientSignatures, ...errors },
      },
    },
    async (request) => signatures.verifyPatient(request.params.patient_id, request.query),
  );

  app.post<{ Params: { prepared_commit_id: string } }>(
    '/api/v1/prepared-commits/:prepared_commit_id/signature',
    {
      config: { scope: 'patient:write', openapiBody: SignatureSubmission },
      schema: {
        tags,
        summary: 'Submit the signature of a prepared commit; it lands if its parent is still the head',
        description:
          'Any write sent with the header `VPR-Signing: prepare` answers 202 with a prepared commit: the exact bytes to sign and its id. Sign the bytes (ECDSA P-256, SHA-256, DER) and submit the signature with the certificate chain here, with the same API key. 422 SIGNATURE_INVALID when it does not verify (the prepared commit waits on); 412 VERSION_CONFLICT when the record moved on since (prepare again); 404 when unknown or expired.',
        params: PreparedCommitParams,
        response: { 201: SubmittedCommit, ...errors },
      },
    },
    async (request, reply) => {
      const landed = await signing.submit(
        actorOf(request.principal),
        request.params.prepared_commit_id,
        request.body,
      );
      return reply.code(201).send(landed);
    },
  );
}
