// The client half of two-step signing (docs/signing.md), for tools and integrators in
// TypeScript: signing a prepared commit's bytes with a key that never leaves this process, and
// a REST helper that sends a write with `VPR-Signing: prepare`, signs what the server prepared
// and submits the signature, answering the commit that landed.
import { X509Certificate } from 'node:crypto';
import { signBytes, signingKeyOf } from '../core/signing/commit-signature.js';

/** The signer: a P-256 private key (PEM) and its certificate chain (PEM, leaf first). */
export interface SignerFiles {
  readonly keyPem: string;
  readonly certificatePems: readonly string[];
}

/** What the server asks to have signed (REST: the 202 body's `prepared_commit`). */
export interface PreparedForSigning {
  readonly prepared_commit_id: string;
  /** The exact unsigned commit bytes: base64 over REST, bytes over gRPC. */
  readonly bytes: string | Uint8Array;
}

/** The signature and chain, as the submission wants them (base64 DER). */
export interface SignatureParts {
  readonly signature: Buffer;
  readonly certificates: readonly Buffer[];
}

/** Signs a prepared commit's bytes here: ECDSA P-256 over SHA-256, DER. */
export function signPrepared(prepared: PreparedForSigning, signer: SignerFiles): SignatureParts {
  const bytes =
    typeof prepared.bytes === 'string' ? Buffer.from(prepared.bytes, 'base64') : Buffer.from(prepared.bytes);
  const key = signingKeyOf(signer.keyPem);
  if (signer.certificatePems.length === 0) throw new Error('a signer needs its certificate');
  return {
    signature: signBytes(bytes, key),
    certificates: signer.certificatePems.map((pem) => new X509Certificate(pem).raw),
  };
}

/** A failure the server answered, with its stable code. */
export class VprRequestError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;

  constructor(status: number, body: { code?: string; message?: string; details?: unknown }) {
    super(body.message ?? `the server answered ${status}`);
    this.name = 'VprRequestError';
    this.status = status;
    this.code = body.code ?? 'INTERNAL';
    this.details = body.details;
  }
}

export interface SignedRequest {
  /** The server's base URL, such as http://127.0.0.1:3000. */
  readonly server: string;
  readonly apiKey: string;
  readonly method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** The write's path, such as /api/v1/patients/<id>/letters. */
  readonly path: string;
  readonly body?: unknown;
  /** Further headers (If-Match, for instance). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly signer: SignerFiles;
}

export type SignedOutcome =
  | { readonly landed: true; readonly commit: string; readonly repository: string; readonly signer: unknown }
  | { readonly landed: false; readonly status: number; readonly response: unknown };

/** One request of the two steps, and its answer (`body` parsed from JSON). */
export type SigningTransport = (request: {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: unknown;
}) => Promise<{ readonly status: number; readonly body: unknown }>;

/** The two steps over `send`: the write with `VPR-Signing: prepare`, then the signature. */
export async function signedWriteVia(
  send: SigningTransport,
  write: { method: string; path: string; body?: unknown; headers?: Readonly<Record<string, string>> },
  signer: SignerFiles,
): Promise<SignedOutcome> {
  const first = await send({
    method: write.method,
    path: write.path,
    headers: { ...write.headers, 'vpr-signing': 'prepare' },
    ...(write.body === undefined ? {} : { body: write.body }),
  });
  if (first.status !== 202) return { landed: false, status: first.status, response: first.body };
  const prepared = (first.body as { prepared_commit: PreparedForSigning }).prepared_commit;
  const parts = signPrepared(prepared, signer);
  const landed = await send({
    method: 'POST',
    path: `/api/v1/prepared-commits/${prepared.prepared_commit_id}/signature`,
    headers: {},
    body: {
      signature: parts.signature.toString('base64'),
      certificates: parts.certificates.map((der) => der.toString('base64')),
    },
  });
  const submitted = landed.body as { commit: string; repository: string; signer: unknown };
  return {
    landed: true,
    commit: submitted.commit,
    repository: submitted.repository,
    signer: submitted.signer,
  };
}

/** A transport over fetch to `server` with `apiKey`; a non-2xx answer throws VprRequestError. */
export function fetchTransport(server: string, apiKey: string): SigningTransport {
  const base = server.replace(/\/+$/, '');
  return async (request) => {
    const response = await fetch(`${base}${request.path}`, {
      method: request.method,
      headers: {
        'x-api-key': apiKey,
        ...request.headers,
        ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON: kept as text.
    }
    if (!response.ok) throw new VprRequestError(response.status, (body ?? {}) as never);
    return { status: response.status, body };
  };
}

/**
 * Makes a write whose commit is signed by `signer`: prepared by the server, signed here,
 * submitted. When the write changes nothing there is nothing to sign: `landed` is false and the
 * server's answer is given back.
 */
export async function signedWrite(request: SignedRequest): Promise<SignedOutcome> {
  return signedWriteVia(
    fetchTransport(request.server, request.apiKey),
    {
      method: request.method,
      path: request.path,
      ...(request.body === undefined ? {} : { body: request.body }),
      ...(request.headers === undefined ? {} : { headers: request.headers }),
    },
    request.signer,
  );
}
