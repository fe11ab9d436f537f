// Idempotency keys, kept durably in the shared database: the first request with a key records
// its fingerprint and the ids it will create, before it writes; its answer is stored when it
// succeeds, and replayed to every later request with the same key and the same fingerprint. A
// different request under the same key is refused; one still running makes a twin wait a
// bounded time and then refuse. An attempt abandoned by a crash is taken over by the next one,
// with the same ids, so the record it may already have made is found rather than made twice.
import { VprError } from '../core/errors.js';
import { guardProjection } from './patient-queries.js';
import { durably, type SqlClient } from './sql-client.js';

export type IdempotencyStart =
  /** No earlier attempt: go ahead with these ids. */
  | { readonly kind: 'new'; readonly ids: string }
  /** An attempt that never finished: go ahead with its ids (its record may exist already). */
  | { readonly kind: 'resumed'; readonly ids: string }
  /** Finished before: answer as it did. */
  | { readonly kind: 'replay'; readonly response: string };

/** After this long a pending attempt counts as abandoned (well beyond any request's duration). */
export const PENDING_SECONDS = 60;
/** How long a twin request waits for the first attempt's answer before refusing. */
const WAIT_MS = 5_000;

export class IdempotencyStore {
  readonly #client: SqlClient;
  readonly #ttlHours: number;
  #lastPurge = 0;

  constructor(client: SqlClient, ttlHours: number) {
    this.#client = client;
    this.#ttlHours = ttlHours;
  }

  /** Starts (or finds) the attempt for `keyHash`; `ids` are the ones a new attempt will use. */
  async start(keyHash: string, fingerprint: string, ids: string): Promise<IdempotencyStart> {
    await this.#purgeExpired();
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const outcome = await guardProjection(() => this.#try(keyHash, fingerprint, ids));
      if (outcome !== 'pending') return outcome;
      if (Date.now() > deadline) {
        throw new VprError('IDEMPOTENCY_IN_PROGRESS', 'a request with this Idempotency-Key is still running');
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async #try(keyHash: string, fingerprint: string, ids: string): Promise<IdempotencyStart | 'pending'> {
    return durably(this.#client, async (tx) => {
      const inserted = await tx.query(
        `INSERT INTO idempotency_keys (key_hash, fingerprint, state, reserved_ids, expires_at)
         VALUES ($1, $2, 'pending', $3, now() + make_interval(hours => $4))
         ON CONFLICT (key_hash) DO NOTHING RETURNING 1`,
        [keyHash, fingerprint, ids, this.#ttlHours],
      );
      if (inserted.length > 0) return { kind: 'new', ids };
      const [row] = await tx.query<{
        fingerprint: string;
        state: string;
        reserved_ids: string;
        response: string | null;
        expired: boolean;
        abandoned: boolean;
      }>(
        `SELECT fingerprint, state, reserved_ids, response, expires_at < now() AS expired,
                created_at < now() - make_interval(secs => $2) AS abandoned
           FROM idempotency_keys WHERE key_hash = $1 FOR UPDATE`,
        [keyHash, PENDING_SECONDS],
      );
      if (row === undefined) return 'pending'; // removed meanwhile: try again
      if (row.expired) {
        await tx.query(
          `UPDATE idempotency_keys SET fingerprint = $2, state = 'pending', reserved_ids = $3, response = NULL,
             created_at = now(), expires_at = now() + make_interval(hours => $4) WHERE key_hash = $1`,
          [keyHash, fingerprint, ids, this.#ttlHours],
        );
        return { kind: 'new', ids };
      }
      if (row.fingerprint !== fingerprint) {
        throw new VprError(
          'IDEMPOTENCY_KEY_REUSED',
          'this Idempotency-Key was used with a different request; use a new key for a new request',
        );
      }
      if (row.state === 'done' && row.response !== null) return { kind: 'replay', response: row.response };
      if (!row.abandoned) return 'pending';
      await tx.query('UPDATE idempotency_keys SET created_at = now() WHERE key_hash = $1', [keyHash]);
      return { kind: 'resumed', ids: row.reserved_ids };
    });
  }

  /** Records the answer to replay. */
  async finish(keyHash: string, response: string): Promise<void> {
    await guardProjection(() =>
      durably(this.#client, (tx) =>
        tx.query(`UPDATE idempotency_keys SET state = 'done', response = $2 WHERE key_hash = $1`, [
          keyHash,
          response,
        ]),
      ),
    );
  }

  /** Forgets an attempt that failed before writing anything, so the client may retry. */
  async abandon(keyHash: string): Promise<void> {
    await guardProjection(() =>
      durably(this.#client, (tx) =>
        tx.query(`DELETE FROM idempotency_keys WHERE key_hash = $1 AND state = 'pending'`, [keyHash]),
      ),
    );
  }

  /** Removes expired keys, at most once a minute. */
  async #purgeExpired(): Promise<void> {
    if (Date.now() - this.#lastPurge < 60_000) return;
    this.#lastPurge = Date.now();
    await guardProjection(() => this.#client.query('DELETE FROM idempotency_keys WHERE expires_at < now()'));
  }
}
