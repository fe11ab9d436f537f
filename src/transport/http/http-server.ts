// The REST door: a Fastify application with authentication by API key and scope, one error
// handler that answers every failure as `{ code, message, details? }` with the status of the
// one error table, request logs and metrics without patient data, trace context, OpenAPI 3.1
// at /openapi.json and interactive docs at /docs. Routes are thin: parse, call a service, map
// the result. Only /healthz, /readyz and the API docs are open without a key.
import { randomUUID } from 'node:crypto';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Span } from '@opentelemetry/api';
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import type { TSchema } from 'typebox';
import { presentedKey, type ApiKeys, type Principal, type Scope } from '../../auth/api-keys.js';
import { VprError, isVprError, type ErrorCode } from '../../core/errors.js';
import { ERROR_STATUSES } from '../error-statuses.js';
import { loggableError, type ServiceMetrics, type Tracing } from '../observability.js';
import { registerPatientRoutes } from './patient-routes.js';
import { registerSigningRoutes } from './signing-routes.js';
import { SIGNING_HEADER, signingModeOf } from './request-actor.js';
import { isCommitPrepared, type CommitSigning, type SigningMode } from '../../services/commit-signing.js';
import {
  verificationValue,
  type ReadVerificationState,
  type ReadVerifier,
} from '../../services/read-verification.js';
import { registerSystemRoutes, type SystemDeps } from './system-routes.js';
import type { PatientService } from '../../services/patient-service.js';
import type { SignatureService } from '../../services/signature-service.js';
import { registerClinicalRoutes, type ClinicalServices } from './clinical-routes.js';
import { registerCoordinationRoutes, type CoordinationServices } from './coordination-routes.js';
import { parseYamlBody } from './yaml-body.js';
import { MAX_ATTACHMENTS } from '../../core/clinical/letter.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal & { readonly signing?: SigningMode };
    span?: Span;
    /** What verification on read found in this request's reads (VPR_VERIFY_ON_READ). */
    readVerification?: ReadVerificationState;
  }
  interface FastifyContextConfig {
    /** The scope a key needs for this route; routes without one are open. */
    scope?: Scope;
    /** The request body's schema, for the docs only: the core validates bodies. */
    openapiBody?: TSchema;
  }
}

export interface HttpServerDeps extends SystemDeps {
  /** Gives each request its verification-on-read state. */
  readonly verifier: ReadVerifier;
  readonly patients: PatientService;
  readonly signatures: SignatureService;
  readonly signing: CommitSigning;
  readonly clinical: ClinicalServices;
  readonly coordination: CoordinationServices;
  readonly keys: ApiKeys;
  readonly metrics: ServiceMetrics;
  readonly tracing: Tracing;
  readonly logger: Logger;
}

export interface HttpServerOptions {
  readonly bodyLimit: number;
  /** The largest attachment accepted, in bytes. */
  readonly uploadLimit: number;
  readonly https?: { readonly cert: Buffer; readonly key: Buffer };
  readonly version: string;
}

/** The key a request presents: `x-api-key`, or `Authorization: Bearer <key>`. */
function keyOf(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  return presentedKey(typeof header === 'string' ? header : undefined, request.headers.authorization);
}

/** The field a schema validation failure names, as a dotted path. */
function validationField(error: FastifyError): string {
  const first = error.validation?.[0];
  const missing =
    (first?.params as { missingProperty?: string; additionalProperty?: string } | undefined) ?? {};
  const path = (first?.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.');
  const leaf = missing.missingProperty ?? missing.additionalProperty;
  const field = [path, leaf].filter((p) => p !== undefined && p !== '').join('.');
  return field === '' ? (error.validationContext ?? 'request') : field;
}

/** Any failure as the VprError it answers with. */
function asVprError(error: unknown): VprError {
  if (isVprError(error)) return error;
  const e = error as FastifyError;
  if (e.validation !== undefined) {
    const field = validationField(e);
    const reason =
      e.validation[0]?.keyword === 'additionalProperties'
        ? 'is not a known parameter'
        : (e.validation[0]?.message ?? 'is not valid');
    return new VprError('INVALID_INPUT', `${field}: ${reason}`, { details: { field } });
  }
  const byCode: Partial<Record<string, [ErrorCode, string]>> = {
    FST_ERR_CTP_BODY_TOO_LARGE: ['PAYLOAD_TOO_LARGE', 'the request body is larger than the configured limit'],
    FST_ERR_CTP_INVALID_MEDIA_TYPE: [
      'INVALID_INPUT',
      'send the body as JSON (Content-Type: application/json)',
    ],
    FST_ERR_CTP_EMPTY_JSON_BODY: ['INVALID_INPUT', 'the body is empty; send a JSON object'],
    FST_ERR_CTP_INVALID_JSON_BODY: ['INVALID_INPUT', 'the body is not valid JSON'],
    FST_ERR_BAD_URL: ['INVALID_INPUT', 'the URL is malformed'],
    FST_REQ_FILE_TOO_LARGE: ['PAYLOAD_TOO_LARGE', 'an attached file is larger than the configured limit'],
    FST_FILES_LIMIT: ['PAYLOAD_TOO_LARGE', `a letter may have at most ${MAX_ATTACHMENTS} attachments`],
    FST_PARTS_LIMIT: ['PAYLOAD_TOO_LARGE', 'the form has too many parts'],
    FST_FIELDS_LIMIT: ['INVALID_INPUT', 'the form has too many fields; send one field, letter'],
    FST_PROTO_VIOLATION: ['INVALID_INPUT', 'the form names a field that is not allowed'],
    FST_INVALID_MULTIPART_CONTENT_TYPE: ['INVALID_INPUT', 'the request is not multipart/form-data'],
    FST_MP_PREMATURE_CLOSE: ['INVALID_INPUT', 'the upload ended before the form was complete'],
    FST_INVALID_JSON_FIELD_ERROR: ['INVALID_INPUT', 'a form field sent as JSON is not valid JSON'],
  };
  const known = e.code === undefined ? undefined : byCode[e.code];
  if (known !== undefined) return new VprError(known[0], known[1], { details: { field: 'body' } });
  if (e instanceof SyntaxError || e.statusCode === 400) {
    return new VprError('INVALID_INPUT', 'the request is malformed', { details: { field: 'body' } });
  }
  if (e.statusCode === 413)
    return new VprError('PAYLOAD_TOO_LARGE', 'the request is larger than the configured limit');
  return new VprError('INTERNAL', 'an unexpected failure; report it with the x-request-id', { cause: error });
}

function sendError(reply: FastifyReply, error: VprError): FastifyReply {
  const status = ERROR_STATUSES[error.code].http;
  if (error.code === 'UNAUTHENTICATED') reply.header('www-authenticate', 'Bearer realm="vpr"');
  if (status === 503) reply.header('retry-after', '5');
  return reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send({
      code: error.code,
      message: error.message,
      ...(error.details === undefined ? {} : { details: error.details }),
    });
}

export async function buildHttpServer(
  deps: HttpServerDeps,
  options: HttpServerOptions,
): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    // Fastify's own request logs carry the URL (and so, in query strings, patient data): off.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'req_id' }),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    bodyLimit: options.bodyLimit,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
    ...(options.https === undefined ? {} : { https: { cert: options.https.cert, key: options.https.key } }),
  }) as unknown as FastifyInstance;

  app.addHook('onRequest', async (request, reply) => {
    const span = deps.tracing.start(
      `${request.method} ${request.routeOptions.url ?? 'unmatched'}`,
      request.headers,
    );
    request.span = span;
    reply.header('x-request-id', request.id);
    for (const [name, value] of Object.entries(deps.tracing.outgoing(span))) reply.header(name, value);
    const scope = request.routeOptions.config.scope;
    if (scope === undefined) return;
    const principal = deps.keys.authenticate(keyOf(request));
    if (principal === undefined)
      throw new VprError('UNAUTHENTICATED', 'send a valid API key in x-api-key or Authorization: Bearer');
    if (!principal.scopes.has(scope)) {
      throw new VprError('FORBIDDEN', `this key lacks the ${scope} scope`, { details: { scope } });
    }
    const signing = signingModeOf(request.headers[SIGNING_HEADER]);
    request.principal = signing === undefined ? principal : { ...principal, signing };
  });

  // Each handler runs with its own verification-on-read state; what its reads found is reported
  // in the VPR-Verification header (set when the answer is sent, so streamed answers carry it too).
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    route.handler = function (this: FastifyInstance, request, reply) {
      return deps.verifier.scoped((state) => {
        request.readVerification = state;
        return handler.call(this, request, reply);
      });
    };
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const verification = verificationValue(request.readVerification);
    if (verification !== undefined) reply.header('vpr-verification', verification);
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    deps.metrics.observe(request.method, route, reply.statusCode, seconds);
    const span = request.span;
    request.log.info(
      {
        trace_id: span?.spanContext().traceId,
        method: request.method,
        route,
        status: reply.statusCode,
        duration_ms: Math.round(reply.elapsedTime * 100) / 100,
        ...(request.principal === undefined
          ? {}
          : { actor: request.principal.principal, key_id: request.principal.keyId }),
      },
      'request',
    );
    span?.end();
  });

  app.setErrorHandler(async (error, request, reply) => {
    // A write in the prepare signing mode stopped where it would commit: not a failure.
    if (isCommitPrepared(error)) {
      return reply.code(202).type('application/json; charset=utf-8').send({ prepared_commit: error.view });
    }
    const vpr = asVprError(error);
    if (ERROR_STATUSES[vpr.code].http >= 500) {
      request.log.error(
        { code: vpr.code, error: loggableError(vpr.code === 'INTERNAL' ? error : (vpr.cause ?? vpr)) },
        'request failed',
      );
    }
    return sendError(reply, vpr);
  });

  app.setNotFoundHandler(async (_request, reply) =>
    sendError(reply, new VprError('NOT_FOUND', 'no such route')),
  );

  // Attachments stream through the multipart parser into the file store, never whole in memory.
  await app.register(multipart, {
    // The file name as the client sent it: a name with a path in it is refused, not trimmed.
    preservePath: true,
    limits: {
      fields: 1,
      fieldSize: options.bodyLimit,
      files: MAX_ATTACHMENTS,
      parts: MAX_ATTACHMENTS + 1,
      // One byte more than the file store's own limit, so the store refuses first, with its error.
      fileSize: options.uploadLimit + 1,
    },
  });
  // Entries may be sent as YAML, the format they are stored in; parsed with aliases refused.
  app.addContentTypeParser(
    ['application/yaml', 'application/x-yaml', 'text/yaml'],
    { parseAs: 'string', bodyLimit: options.bodyLimit },
    (_request, body, done) => {
      try {
        done(null, parseYamlBody(String(body)));
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'VPR — the Versioned Patient Repository',
        version: options.version,
        description:
          'Every change is a Git commit in the patient’s own repositories. Errors are `{ code, message, details? }` with the codes of docs/errors.md.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
    },
    transform: ({ schema, url, route }) => {
      const body = route.config?.openapiBody;
      const secured = route.config?.scope !== undefined;
      return {
        schema: {
          ...schema,
          ...(body === undefined ? {} : { body }),
          ...(secured ? { security: [{ apiKey: [] }, { bearer: [] }] } : {}),
        } as typeof schema,
        url,
      };
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  registerSystemRoutes(app, deps);
  registerPatientRoutes(app, deps.patients);
  registerSigningRoutes(app, deps.signatures, deps.signing);
  registerClinicalRoutes(app, deps.clinical);
  registerCoordinationRoutes(app, deps.coordination);
  return app;
}
