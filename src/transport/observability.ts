// What the service tells its operators, through either door, and never more: one structured log
// line per request (request id, trace id, method, route template or RPC name, status, duration,
// acting key — no URL, query, header, metadata or body, so no patient data), Prometheus metrics
// labelled only by method, route template or RPC name and status, and W3C Trace Context taken
// from `traceparent` and handed on in the reply.
import { ROOT_CONTEXT, SpanKind, trace, type Span } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { pino, type DestinationStream, type Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LogLevel } from '../config/config.js';

/** The logger every part of the service writes through. */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'vpr' },
    messageKey: 'msg',
    timestamp: pino.stdTimeFunctions.isoTime,
    // Belt and braces: should anything ever log a request or a body, these never reach the output.
    redact: {
      paths: ['req.headers', 'req.url', 'req.query', 'req.body', 'body', 'headers', 'url', 'query'],
      remove: true,
    },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/** Numbers read from the rest of the service when Prometheus scrapes. */
export interface MetricSources {
  commits(): Readonly<Record<string, number>>;
  missedProjections(): number;
  cache(): { hits: number; misses: number };
  readOnly(): boolean;
}

const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class ServiceMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'method' | 'route' | 'status'>;
  readonly #duration: Histogram<'method' | 'route' | 'status'>;
  readonly #calls: Counter<'method' | 'code'>;
  readonly #callDuration: Histogram<'method' | 'code'>;

  constructor(sources: MetricSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'vpr_process_' });
    this.#requests = new Counter({
      name: 'vpr_http_requests_total',
      help: 'HTTP requests answered, by method, route template and status.',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.#duration = new Histogram({
      name: 'vpr_http_request_duration_seconds',
      help: 'Time to answer HTTP requests, by method, route template and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: DURATION_BUCKETS,
      registers: [this.registry],
    });
    this.#calls = new Counter({
      name: 'vpr_grpc_calls_total',
      help: 'gRPC calls answered, by RPC name and status code.',
      labelNames: ['method', 'code'],
      registers: [this.registry],
    });
    this.#callDuration = new Histogram({
      name: 'vpr_grpc_call_duration_seconds',
      help: 'Time to answer gRPC calls, by RPC name and status code.',
      labelNames: ['method', 'code'],
      buckets: DURATION_BUCKETS,
      registers: [this.registry],
    });
    new Counter({
      name: 'vpr_commits_total',
      help: 'Git commits made by this process, by repository kind.',
      labelNames: ['kind'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [kind, count] of Object.entries(sources.commits())) this.inc({ kind }, count);
      },
    });
    new Gauge({
      name: 'vpr_projection_missed_commits',
      help: 'Commits whose projection failed and await their repair from Git, tried every 10 s (the projection lag).',
      registers: [this.registry],
      collect() {
        this.set(sources.missedProjections());
      },
    });
    new Counter({
      name: 'vpr_cache_lookups_total',
      help: 'Read-cache lookups, by result.',
      labelNames: ['result'],
      registers: [this.registry],
      collect() {
        this.reset();
        const { hits, misses } = sources.cache();
        this.inc({ result: 'hit' }, hits);
        this.inc({ result: 'miss' }, misses);
      },
    });
    new Gauge({
      name: 'vpr_read_only',
      help: '1 while writes are switched off.',
      registers: [this.registry],
      collect() {
        this.set(sources.readOnly() ? 1 : 0);
      },
    });
  }

  observe(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.#requests.inc(labels);
    this.#duration.observe(labels, seconds);
  }

  observeCall(method: string, code: string, seconds: number): void {
    const labels = { method, code };
    this.#calls.inc(labels);
    this.#callDuration.observe(labels, seconds);
  }
}

/** What may be logged of an unexpected error: its kind and where, never its message (it may quote data). */
export function loggableError(error: unknown): Record<string, unknown> {
  const e = error as { name?: unknown; code?: unknown; stack?: unknown; cause?: unknown };
  const frames =
    typeof e.stack === 'string' ? e.stack.split('\n').filter((l) => l.trimStart().startsWith('at ')) : [];
  return {
    type: typeof e.name === 'string' ? e.name : typeof error,
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    stack: frames.slice(0, 12).join('\n'),
    ...(e.cause === undefined ? {} : { cause: loggableError(e.cause) }),
  };
}

type Headers = Record<string, string | string[] | undefined>;

const headerGetter = {
  keys: (carrier: Headers) => Object.keys(carrier),
  get: (carrier: Headers, key: string) => carrier[key],
};

/** Server spans continuing the caller's trace (W3C `traceparent`), or starting one. */
export class Tracing {
  readonly #tracer = new BasicTracerProvider().getTracer('vpr');
  readonly #propagator = new W3CTraceContextPropagator();

  start(name: string, headers: Headers): Span {
    const parent = this.#propagator.extract(ROOT_CONTEXT, headers, headerGetter);
    return this.#tracer.startSpan(name, { kind: SpanKind.SERVER }, parent);
  }

  /** The `traceparent` (and `tracestate`) to send on, naming this span as the parent. */
  outgoing(span: Span): Record<string, string> {
    const carrier: Record<string, string> = {};
    this.#propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, {
      set: (c, key, value) => {
        c[key] = value;
      },
    });
    return carrier;
  }
}
