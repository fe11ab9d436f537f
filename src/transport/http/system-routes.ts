// The service's own routes: liveness and readiness (open), Prometheus metrics, and the write
// kill-switch (administrators only).
import type { FastifyInstance } from 'fastify';
import type { WriteSwitch } from '../../services/write-switch.js';
import type { ServiceMetrics } from '../observability.js';
import { ErrorBody, ReadOnlyChange, ReadOnlyState, Readiness } from './schemas.js';

export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, { ok: boolean; detail?: string }>>;
}

export interface SystemDeps {
  readonly writes: WriteSwitch;
  readonly readiness: () => Promise<ReadinessReport>;
  readonly metrics: ServiceMetrics;
}

const errors = { '4xx': ErrorBody, '5xx': ErrorBody };

export function registerSystemRoutes(app: FastifyInstance, deps: SystemDeps): void {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['service'],
        summary: 'Liveness: the process answers',
        response: { 200: { type: 'object', properties: { status: { type: 'string' } } } },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['service'],
        summary:
          'Readiness: the store is writable, the projection reachable and caught up with Git, Redis too when configured',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const report = await deps.readiness();
      return reply
        .code(report.ready ? 200 : 503)
        .send({ status: report.ready ? 'ready' : 'not ready', checks: report.checks });
    },
  );

  app.get(
    '/metrics',
    {
      config: { scope: 'admin' },
      schema: { tags: ['service'], summary: 'Prometheus metrics (admin scope)' },
    },
    async (_request, reply) => {
      const text = await deps.metrics.registry.metrics();
      return reply.type(deps.metrics.registry.contentType).send(text);
    },
  );

  const state = () => ({ read_only: deps.writes.readOnly, changed_at: deps.writes.changedAt.toISOString() });

  app.get(
    '/api/v1/admin/read-only',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Whether writes are switched off',
        response: { 200: ReadOnlyState, ...errors },
      },
    },
    async () => state(),
  );

  app.put<{ Body: { read_only: boolean } }>(
    '/api/v1/admin/read-only',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Switch writes off (read_only: true) or on again, on this node',
        body: ReadOnlyChange,
        response: { 200: ReadOnlyState, ...errors },
      },
    },
    async (request) => {
      deps.writes.set(request.body.read_only);
      request.log.warn(
        { read_only: request.body.read_only, actor: request.principal?.principal },
        'write switch changed',
      );
      return state();
    },
  );
}
