// Keeping email and phone unique among patients that are not deleted, across processes and
// nodes. Git cannot enforce it and the projection must hold whatever Git holds, so the write
// path claims each value in the shared database *before* its Git commit: a claim is refused if
// another live patient holds the value in the projection, or claimed it recently (its write may
// be landing now). A claim whose write failed is released; one abandoned by a crash expires.
import { VprError } from '../core/errors.js';
import { guardProjection } from './patient-queries.js';
import { durably, type SqlClient } from './sql-client.js';

/** A value one patient may hold: an email address (lower case) or an E.164 phone number. */
export interface ContactValue {
  readonly field: 'email' | 'phone_e164';
  readonly value: string;
}

/** How long a claim protects a write that has not reached the projection yet. */
export const CLAIM_SECONDS = 300;

const claimKey = (c: ContactValue) => `${c.field === 'email' ? 'email' : 'phone'}:${c.value}`;

export class ContactClaims {
  readonly #client: SqlClient;

  constructor(client: SqlClient) {
    this.#client = client;
  }

  /**
   * Claims the values for `patientId`, all or none; ALREADY_EXISTS (naming the field) when
   * another patient holds one. PROJECTION_UNAVAILABLE when the database cannot answer.
   */
  async claim(patientId: string, values: readonly ContactValue[]): Promise<void> {
    if (values.length === 0) return;
    await guardProjection(() =>
      durably(this.#client, async (tx) => {
        for (const contact of values) {
          const column = contact.field === 'email' ? 'email' : 'phone';
          const [holder] = await tx.query(
            `SELECT 1 FROM patients WHERE ${column} = $1 AND NOT deleted AND patient_id <> $2 LIMIT 1`,
            [contact.value, patientId],
          );
          const claimed =
            holder === undefined
              ? await tx.query(
                  `INSERT INTO contact_claims (value, patient_id) VALUES ($1, $2)
                   ON CONFLICT (value) DO UPDATE SET patient_id = excluded.patient_id, claimed_at = now()
                   WHERE contact_claims.patient_id = excluded.patient_id
                      OR contact_claims.claimed_at < now() - make_interval(secs => $3)
                   RETURNING 1`,
                  [claimKey(contact), patientId, CLAIM_SECONDS],
                )
              : [];
          if (claimed.length === 0) {
            throw new VprError('ALREADY_EXISTS', `${contact.field}: another patient has this value`, {
              details: { field: contact.field },
            });
          }
        }
      }),
    );
  }

  /** Gives up `patientId`'s claims on these values (after a failed write, or when it no longer holds them). */
  async release(patientId: string, values: readonly ContactValue[]): Promise<void> {
    if (values.length === 0) return;
    await guardProjection(() =>
      durably(this.#client, (tx) =>
        tx.query('DELETE FROM contact_claims WHERE value = ANY($1::text[]) AND patient_id = $2', [
          values.map(claimKey),
          patientId,
        ]),
      ),
    );
  }
}
