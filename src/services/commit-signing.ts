// Every commit the services make passes through here, so the signing policy is enforced in one
// place and a commit can be signed in either of the two ways the private key allows (it never
// reaches the service):
// - locally: the caller's process holds the key and signs as the commit is made (CLI, library);
// - in two steps over the API: a write sent with the signing mode `prepare` stops where it would
//   commit; the commit is built on its parent (pinned) and kept here, and the write answers with
//   the exact bytes to sign and a prepared-commit id (CommitPrepared). The client signs and
//   submits the signature; it is checked against the signer's certificate and the trust anchors,
//   and the commit lands only if its parent is still the head (else VERSION_CONFLICT).
// Prepared commits live in this process's memory, bounded in number and time (PREPARED_TTL_MS);
// one that expires, or can no longer land, releases what its write held (`onSettled`).
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { VprError, invalidInput, isVprError } from '../core/errors.js';
import type { CommitResult } from '../core/git/repository.js';
import type { CommitChangeInput, PreparedChange, RecordStore } from '../core/record/record-store.js';
import {
  SIGNATURE_HEADER,
  renderPayload,
  withSignature,
  type SignaturePayload,
} from '../core/signing/commit-signature.js';
import { NO_SIGNING_POLICY, requiresSignature, type SigningPolicy } from '../core/signing/signing-policy.js';
import { verifyCommitBytes, type TrustAnchors } from '../core/signing/verify-commit.js';
import { NO_TRUST_ANCHORS } from '../core/signing/trust-anchors.js';
import type { CommitHeader } from '../core/git/commit-object.js';
import type { Actor } from './patient-service.js';
import type { WriteSwitch } from './write-switch.js';

/** How long a prepared commit waits for its signature. */
export const PREPARED_TTL_MS = 10 * 60 * 1000;
/** The most prepared commits waiting at once in one process. */
export const MAX_PREPARED_COMMITS = 1_000;
const MAX_CERTIFICATES = 8;
const MAX_CERTIFICATE_CHARS = 16 * 1024;
const PREPARED_ID = /^[0-9a-f]{32}$/;

/** Signs a commit where it is made, from the commit's unsigned bytes (the key stays with the caller). */
export interface LocalSigner {
  sign(unsigned: Buffer): CommitHeader;
}

/** How the actor's commits are signed: not at all, in two steps over the API, or locally. */
export type SigningMode = 'prepare' | LocalSigner;

/** What a client needs to sign a prepared commit. */
export interface PreparedCommitView {
  readonly prepared_commit_id: string;
  readonly repository: string;
  /** The commit the prepared one is built on; it lands only while this is still the head. */
  readonly parent: string;
  /** The exact unsigned commit bytes, base64: sign these with ECDSA P-256 / SHA-256. */
  readonly bytes: string;
  readonly bytes_sha256: string;
  /** The first line of the commit message (`<domain>:<action>: <summary>`). */
  readonly subject: string;
  readonly expires_at: string;
}

/** A prepared commit that landed with its signature. */
export interface SubmittedCommit {
  readonly commit: string;
  readonly repository: string;
  readonly parent: string;
  readonly signer: {
    readonly subject: string;
    readonly registration: string | null;
    readonly key_fingerprint: string;
  };
}

/**
 * The outcome of a write in the `prepare` signing mode: nothing was committed; the commit waits
 * for its signature. Thrown through the service that made the write (which stops there) to the
 * door, which answers with `view` (REST 202, gRPC PrepareSignedCall). Not an error.
 */
export class CommitPrepared extends Error {
  readonly view: PreparedCommitView;

  constructor(view: PreparedCommitView) {
    super('the commit is prepared and waits for its signature');
    this.name = 'CommitPrepared';
    this.view = view;
  }
}

export function isCommitPrepared(value: unknown): value is CommitPrepared {
  return value instanceof CommitPrepared;
}

export interface CommitOptions {
  /**
   * For a write that holds something until its commit lands (stored attachment bytes, claimed
   * contact values): called once, when a prepared commit lands (true) or never will (false).
   */
  readonly onSettled?: (landed: boolean) => Promise<void>;
}

interface Waiting {
  readonly change: PreparedChange;
  readonly principal: string;
  readonly expiresAt: number;
  readonly onSettled: ((landed: boolean) => Promise<void>) | undefined;
}

export interface CommitSigningDeps {
  readonly store: RecordStore;
  readonly writes: WriteSwitch;
  readonly policy?: SigningPolicy;
  readonly anchors?: TrustAnchors;
  readonly now?: () => number;
}

function base64Field(value: unknown, field: string, maxChars: number): Buffer {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxChars) {
    throw invalidInput(field, `must be base64 text of at most ${maxChars} characters`);
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) throw invalidInput(field, 'must be base64');
  return Buffer.from(value, 'base64');
}

/** A certificate sent as PEM or as base64 DER: its DER bytes. */
function certificateDer(value: unknown, field: string): Buffer {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_CERTIFICATE_CHARS) {
    throw invalidInput(
      field,
      `must be a PEM or base64 DER certificate of at most ${MAX_CERTIFICATE_CHARS} characters`,
    );
  }
  try {
    return new X509Certificate(value.includes('-----BEGIN') ? value : Buffer.from(value, 'base64')).raw;
  } catch {
    throw invalidInput(field, 'is not an X.509 certificate');
  }
}

/** The signature a client submits: the DER signature and the signer's certificate chain. */
function parseSubmission(body: unknown): SignaturePayload {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidInput('body', 'must be an object with signature and certificates');
  }
  const { signature, certificates, public_key: publicKey, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw invalidInput(unknown, 'is not a field of a signature submission');
  const der = base64Field(signature, 'signature', 200);
  if (!Array.isArray(certificates) || certificates.length === 0 || certificates.length > MAX_CERTIFICATES) {
    throw invalidInput(
      'certificates',
      `must list the signer's certificate and its chain (1 to ${MAX_CERTIFICATES}, leaf first)`,
    );
  }
  const chain = certificates.map((c, i) => certificateDer(c, `certificates[${i}]`));
  const leafKey = new X509Certificate(chain[0]!).publicKey.export({ format: 'der', type: 'spki' });
  if (publicKey !== undefined && !base64Field(publicKey, 'public_key', 400).equals(leafKey)) {
    throw new VprError('SIGNATURE_INVALID', 'the public key is not the key of the certificate', {
      details: { reason: 'key-mismatch' },
    });
  }
  return { signature: der, publicKey: leafKey, certificates: chain };
}

export class CommitSigning {
  readonly policy: SigningPolicy;
  readonly #store: RecordStore;
  readonly #writes: WriteSwitch;
  readonly #anchors: TrustAnchors;
  readonly #now: () => number;
  readonly #waiting = new Map<string, Waiting>();
  #sweeper: NodeJS.Timeout | undefined;

  constructor(deps: CommitSigningDeps) {
    this.#store = deps.store;
    this.#writes = deps.writes;
    this.policy = deps.policy ?? NO_SIGNING_POLICY;
    this.#anchors = deps.anchors ?? NO_TRUST_ANCHORS;
    this.#now = deps.now ?? Date.now;
  }

  /**
   * Makes the commit as the actor's signing mode says: unsigned (refused with SIGNATURE_REQUIRED
   * when the policy requires a signature), signed locally, or prepared (throws CommitPrepared).
   */
  async commit(
    actor: Actor,
    input: CommitChangeInput & { readonly parent: string },
    options: CommitOptions = {},
  ): Promise<CommitResult> {
    const mode = actor.signing;
    if (mode === 'prepare') return this.#prepare(actor, input, options);
    if (mode !== undefined)
      return this.#store.commitChange({ ...input, sign: (unsigned) => mode.sign(unsigned) });
    if (
      requiresSignature(this.policy, {
        repository: input.kind,
        action: input.action,
        trailers: input.trailers ?? [],
      })
    ) {
      throw new VprError(
        'SIGNATURE_REQUIRED',
        `the signing policy requires ${input.kind} ${input.action} commits to be signed: send the change with VPR-Signing: prepare and submit its signature`,
        { details: { repository: input.kind, action: input.action } },
      );
    }
    return this.#store.commitChange(input);
  }

  async #prepare(
    actor: Actor,
    input: CommitChangeInput & { readonly parent: string },
    options: CommitOptions,
  ): Promise<never> {
    this.#sweep();
    if (this.#waiting.size >= MAX_PREPARED_COMMITS) {
      throw new VprError(
        'REPOSITORY_BUSY',
        'too many prepared commits are waiting for signatures; try again shortly',
      );
    }
    const change = await this.#store.prepareChange(input);
    const id = randomBytes(16).toString('hex');
    const expiresAt = this.#now() + PREPARED_TTL_MS;
    this.#waiting.set(id, { change, principal: actor.principal, expiresAt, onSettled: options.onSettled });
    this.#startSweeper();
    const bytes = change.commit.unsigned;
    throw new CommitPrepared({
      prepared_commit_id: id,
      repository: change.kind,
      parent: change.parent,
      bytes: bytes.toString('base64'),
      bytes_sha256: createHash('sha256').update(bytes).digest('hex'),
      subject: change.commit.data.message.split('\n', 1)[0]!,
      expires_at: new Date(expiresAt).toISOString(),
    });
  }

  /**
   * Lands a prepared commit with the submitted signature, once the signature verifies over the
   * prepared bytes with the certificate's key and the chain ends at a trust anchor. Only the
   * principal that prepared it may submit; to anyone else it does not exist.
   */
  async submit(actor: Actor, preparedId: unknown, body: unknown): Promise<SubmittedCommit> {
    if (typeof preparedId !== 'string' || !PREPARED_ID.test(preparedId)) {
      throw invalidInput('prepared_commit_id', 'must be 32 lowercase hex characters');
    }
    const payload = parseSubmission(body);
    this.#sweep();
    const waiting = this.#waiting.get(preparedId);
    if (waiting === undefined || waiting.principal !== actor.principal) {
      throw new VprError(
        'NOT_FOUND',
        'no prepared commit with this id (it may have expired); prepare the change again',
        {
          details: { prepared_commit_id: preparedId },
        },
      );
    }
    const signed = withSignature(waiting.change.commit.unsigned, payload);
    const verdict = verifyCommitBytes(signed, this.#anchors);
    if (verdict.status !== 'valid') {
      // The prepared commit stays: the signer may submit again with the right key or chain.
      throw new VprError(
        'SIGNATURE_INVALID',
        `the signature does not verify: ${verdict.status === 'invalid' ? verdict.detail : 'it is missing'}`,
        {
          details: { reason: verdict.status === 'invalid' ? verdict.reason : 'malformed' },
        },
      );
    }
    this.#writes.assertWritable();
    this.#waiting.delete(preparedId);
    const header = { key: SIGNATURE_HEADER, value: renderPayload(payload) };
    let landed = false;
    try {
      const result = await this.#store.commitPrepared(waiting.change, header);
      landed = true;
      return {
        commit: result.id,
        repository: waiting.change.kind,
        parent: waiting.change.parent,
        signer: {
          subject: verdict.signer.subject ?? '',
          registration: verdict.signer.registration ?? null,
          key_fingerprint: verdict.signer.keyFingerprint,
        },
      };
    } catch (error) {
      if (isVprError(error, 'VERSION_CONFLICT')) {
        throw new VprError(
          'VERSION_CONFLICT',
          'the record changed since this commit was prepared; prepare the change again',
          {
            details: { prepared_commit_id: preparedId, ...error.details },
          },
        );
      }
      throw error;
    } finally {
      await waiting.onSettled?.(landed).catch(() => undefined);
    }
  }

  /** Forgets prepared commits whose time is up, releasing what their writes held. */
  #sweep(): void {
    const now = this.#now();
    for (const [id, waiting] of this.#waiting) {
      if (waiting.expiresAt > now) continue;
      this.#waiting.delete(id);
      void waiting.onSettled?.(false).catch(() => undefined);
    }
  }

  #startSweeper(): void {
    if (this.#sweeper !== undefined) return;
    this.#sweeper = setInterval(() => {
      this.#sweep();
      if (this.#waiting.size === 0) this.close();
    }, 30_000);
    this.#sweeper.unref();
  }

  /** Stops the sweeper (prepared commits still waiting are left to expire with the process). */
  close(): void {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}
