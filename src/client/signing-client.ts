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

async function answerOf(response: Response): Promise<unknown> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // Not JSON: kept as text.
  }
  if (!response.ok) throw new VprRequestError(response.status, (body ?? {}) as never);
  return body;
}

/**
 * Makes a write whose commit is signed by `signer`: prepared by the server, signed here,
 * submitted. When the write changes nothing there is nothing to sign: `landed` is false and the
 * server's answer is given back.
 */
export async function signedWrite(request: SignedRequest): Promise<SignedOutcome> {
  const base = request.server.replace(/\/+$/, '');
  const auth = { 'x-api-key': request.apiKey };
  const first = await fetch(`${base}${request.path}`, {
    method: request.method,
    headers: {
      ...auth,
      ...request.headers,
      'vpr-signing': 'prepare',
      ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
  });
  const answer = await answerOf(first);
  if (first.status !== 202) return { landed: false, status: first.status, response: answer };
  const prepared = (answer as { prepared_commit: PreparedForSigning }).prepared_commit;
  const parts = signPrepared(prepared, request.signer);
  const submitted = await fetch(`${base}/api/v1/prepared-commits/${prepared.prepared_commit_id}/signature`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({
      signature: parts.signature.toString('base64'),
      certificates: parts.certificates.map((der) => der.toString('base64')),
    }),
  });
  const landed = (await answerOf(submitted)) as { commit: string; repository: string; signer: unknown };
  return { landed: true, commit: landed.commit, repository: landed.repository, signer: landed.signer };
}
