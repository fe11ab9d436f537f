// How the `vpr` command reaches the service: over HTTP to a running server (`--server`), or in
// this process on a local data directory — the same REST routes, services, validation and
// errors either way, because the local mode starts the service's own runtime and sends it the
// same requests without a socket (Fastify's inject). The command line has no logic of its own.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { ApiKeys, localKey, type KnownKey } from '../auth/api-keys.js';
import type { Author } from '../core/commit/author.js';
import { loadConfig, type VprConfig } from '../config/config.js';
import { startRuntime, type Runtime } from '../runtime.js';
import { VprRequestError } from '../client/signing-client.js';

export interface ApiRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** JSON (an object), or bytes already encoded with `contentType`. */
  readonly body?: unknown;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface ApiAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Parsed JSON, or the raw bytes for other content. */
  readonly body: unknown;
  readonly raw: Buffer;
}

export interface ApiClient {
  readonly mode: 'local' | 'remote';
  /** The base URL for the signing helper (remote), or undefined in local mode. */
  readonly server: string | undefined;
  readonly apiKey: string;
  /** Sends a request; a non-2xx answer rejects with VprRequestError (its stable code). */
  send(request: ApiRequest): Promise<ApiAnswer>;
  close(): Promise<void>;
}

function urlOf(path: string, query: ApiRequest['query']): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined) params.set(name, String(value));
  }
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}

function encode(request: ApiRequest): { body?: Buffer; contentType?: string } {
  if (request.body === undefined) return {};
  if (Buffer.isBuffer(request.body)) {
    return { body: request.body, contentType: request.contentType ?? 'application/octet-stream' };
  }
  return { body: Buffer.from(JSON.stringify(request.body)), contentType: 'application/json' };
}

function answerOf(status: number, headers: Record<string, string>, raw: Buffer): ApiAnswer {
  const type = headers['content-type'] ?? '';
  let body: unknown = raw;
  if (type.includes('json') && raw.length > 0) {
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      body = raw;
    }
  }
  if (status >= 300) {
    const error = (typeof body === 'object' && body !== null && !Buffer.isBuffer(body) ? body : {}) as never;
    throw new VprRequestError(status, error);
  }
  return { status, headers, body, raw };
}

/** A letter as the multipart form the API takes: the letter as JSON first, then each file. */
export async function letterForm(
  letter: unknown,
  files: readonly { readonly name: string; readonly bytes: Buffer }[],
): Promise<{ body: Buffer; contentType: string }> {
  const form = new FormData();
  form.append('letter', JSON.stringify(letter));
  for (const file of files) form.append('file', new Blob([file.bytes]), file.name);
  const encoded = new Response(form);
  return {
    body: Buffer.from(await encoded.arrayBuffer()),
    contentType: encoded.headers.get('content-type') ?? 'multipart/form-data',
  };
}

/** A running server over HTTP(S). */
export class RemoteApi implements ApiClient {
  readonly mode = 'remote' as const;
  readonly server: string;
  readonly apiKey: string;

  constructor(server: string, apiKey: string) {
    this.server = server.replace(/\/+$/, '');
    this.apiKey = apiKey;
  }

  async send(request: ApiRequest): Promise<ApiAnswer> {
    const { body, contentType } = encode(request);
    let response: Response;
    try {
      response = await fetch(`${this.server}${urlOf(request.path, request.query)}`, {
        method: request.method,
        headers: {
          'x-api-key': this.apiKey,
          ...(contentType === undefined ? {} : { 'content-type': contentType }),
          ...request.headers,
        },
        ...(body === undefined ? {} : { body }),
      });
    } catch (error) {
      throw new VprRequestError(503, {
        code: 'UNAVAILABLE',
        message: `cannot reach ${this.server}: ${(error as Error).message}`,
      });
    }
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    return answerOf(response.status, headers, Buffer.from(await response.arrayBuffer()));
  }

  async close(): Promise<void> {}
}

/** Who acts in local mode: the author and care location written into every commit. */
export interface LocalIdentity {
  readonly author: Author;
  readonly careLocation: string;
}

/** How a local service is opened beyond the configuration (`vpr generate`'s workers). */
export interface LocalOptions {
  /** More keys this process holds, such as the generated population's staff. */
  readonly alsoAccept?: readonly KnownKey[];
  /** Keep an embedded projection in memory: another process projects these commits later. */
  readonly scratchProjection?: boolean;
}

/**
 * The service itself, started in this process on the local data directory (VPR_DATA_DIR and the
 * rest of the configuration), with one key that exists only in this process and acts as
 * `identity`. Nothing listens on a port.
 */
export class LocalApi implements ApiClient {
  readonly mode = 'local' as const;
  readonly server = undefined;
  readonly apiKey: string;
  readonly runtime: Runtime;

  private constructor(runtime: Runtime, apiKey: string) {
    this.runtime = runtime;
    this.apiKey = apiKey;
  }

  static async open(
    identity: LocalIdentity,
    config: VprConfig = loadConfig(),
    local: LocalOptions = {},
  ): Promise<LocalApi> {
    const apiKey = `local-${randomBytes(24).toString('hex')}`;
    const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
    // REST only: requests are injected, nothing listens, and the gRPC door is not built.
    const runtime = await startRuntime(
      { ...config, logLevel: 'silent', serve: 'rest' },
      {
        logDestination: quiet,
        keys: new ApiKeys([
          localKey(apiKey, 'cli', identity.author, identity.careLocation),
          ...(local.alsoAccept ?? []),
        ]),
        ...(local.scratchProjection === true ? { scratchProjection: true } : {}),
      },
    );
    return new LocalApi(runtime, apiKey);
  }

  async send(request: ApiRequest): Promise<ApiAnswer> {
    const { body, contentType } = encode(request);
    const response = await this.runtime.http.inject({
      method: request.method,
      url: urlOf(request.path, request.query),
      headers: {
        'x-api-key': this.apiKey,
        ...(contentType === undefined ? {} : { 'content-type': contentType }),
        ...request.headers,
      },
      ...(body === undefined ? {} : { payload: body }),
    });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    return answerOf(response.statusCode, headers, response.rawPayload);
  }

  async close(): Promise<void> {
    await this.runtime.close();
  }
}
