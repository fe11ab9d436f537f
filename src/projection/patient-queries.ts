// Patient lists and reads, served from the projection only (never from Git): prefix filters on
// family and given names, exact date of birth, email and phone, deleted or not, with keyset
// pagination on (family name key, patient id) — never OFFSET.
import { VprError } from '../core/errors.js';
import { nameKey } from './record-facts.js';
import type { PatientRow } from './repository-rows.js';
import type { SqlClient } from './sql-client.js';
import { decodeCursor, encodeCursor, pageLimit } from './page-cursor.js';

export interface PatientFilter {
  readonly familyName?: string;
  readonly givenName?: string;
  readonly birthDate?: string;
  readonly email?: string;
  readonly phone?: string;
  readonly deleted?: boolean;
  readonly limit?: number;
  readonly cursor?: string;
}

/** A patient as lists and reads return it: the projected row with its linked repositories. */
export interface PatientSummary extends Omit<PatientRow, 'familyNameKey' | 'givenNameKey' | 'patientId'> {
  readonly patientId: string;
  readonly clinicalId: string | null;
  readonly coordinationId: string | null;
}

export interface PatientPage {
  readonly patients: PatientSummary[];
  readonly nextCursor: string | null;
}

const SELECT = `SELECT p.patient_id, l.clinical_id, c.coordination_id, p.family_name, p.given_names, p.birth_date,
    p.email, p.phone, p.deleted, p.version, p.created_at, p.updated_at, p.family_name_key
  FROM patients p
  LEFT JOIN clinical_links l ON l.patient_id = p.patient_id
  LEFT JOIN coordination_links c ON c.clinical_id = l.clinical_id`;

function toSummary(row: Record<string, unknown>): PatientSummary {
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : String(v));
  return {
    patientId: String(row.patient_id),
    clinicalId: (row.clinical_id as string | null) ?? null,
    coordinationId: (row.coordination_id as string | null) ?? null,
    familyName: String(row.family_name),
    givenNames: String(row.given_names),
    birthDate: (row.birth_date as string | null) ?? null,
    email: (row.email as string | null) ?? null,
    phone: (row.phone as string | null) ?? null,
    deleted: row.deleted === true,
    version: String(row.version),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

/** Escapes LIKE wildcards so a name prefix matches literally. */
function likePrefix(value: string): string {
  return `${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Turns a database failure into PROJECTION_UNAVAILABLE; validation errors pass through. */
export async function guardProjection<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof VprError) throw error;
    throw new VprError('PROJECTION_UNAVAILABLE', 'the query database is unavailable; try again shortly', {
      cause: error,
    });
  }
}

export async function listPatients(client: SqlClient, filter: PatientFilter = {}): Promise<PatientPage> {
  const limit = pageLimit(filter.limit);
  const where: string[] = ['p.deleted = $1'];
  const params: unknown[] = [filter.deleted ?? false];
  const add = (sql: (n: number) => string, value: unknown) => {
    params.push(value);
    where.push(sql(params.length));
  };
  if (filter.familyName !== undefined)
    add((n) => `p.family_name_key LIKE $${n}`, likePrefix(nameKey(filter.familyName)));
  if (filter.givenName !== undefined)
    add((n) => `p.given_name_key LIKE $${n}`, likePrefix(nameKey(filter.givenName)));
  if (filter.birthDate !== undefined) add((n) => `p.birth_date = $${n}::date`, filter.birthDate);
  if (filter.email !== undefined) add((n) => `p.email = $${n}`, filter.email.trim().toLowerCase());
  if (filter.phone !== undefined) add((n) => `p.phone = $${n}`, filter.phone.trim());
  if (filter.cursor !== undefined) {
    const [key, id] = decodeCursor(filter.cursor);
    params.push(key, id);
    where.push(`(p.family_name_key, p.patient_id) > ($${params.length - 1}, $${params.length})`);
  }
  params.push(limit + 1);
  const sql = `${SELECT} WHERE ${where.join(' AND ')} ORDER BY p.family_name_key, p.patient_id LIMIT $${params.length}`;
  const rows = await guardProjection(() => client.query(sql, params));
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    patients: page.map(toSummary),
    nextCursor:
      rows.length > limit && last !== undefined
        ? encodeCursor(String(last.family_name_key), String(last.patient_id))
        : null,
  };
}

export async function getPatient(client: SqlClient, patientId: string): Promise<PatientSummary | undefined> {
  const rows = await guardProjection(() => client.query(`${SELECT} WHERE p.patient_id = $1`, [patientId]));
  return rows[0] === undefined ? undefined : toSummary(rows[0]);
}
