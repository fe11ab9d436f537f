// google.protobuf.Struct and Value as @grpc/proto-loader hands them over (protobufjs's bundled
// definitions keep their camelCase members; only the member that is set is present), turned
// into the plain JSON values the services take, and back. Free-form bodies (entries,
// contributions, FHIR care events) travel as Struct so gRPC clients send the same documents as
// REST clients. Nesting is bounded as for REST bodies.
import { invalidInput } from '../../core/errors.js';
import { MAX_BODY_DEPTH } from '../../core/input.js';

/** A google.protobuf.Value as decoded with `keepCase` and without defaults: one member set. */
export interface WireValue {
  nullValue?: unknown;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: WireStruct;
  listValue?: { values?: WireValue[] };
}
export interface WireStruct {
  fields?: Record<string, WireValue>;
}

function plainOf(value: WireValue, field: string, depth: number): unknown {
  if (depth > MAX_BODY_DEPTH) throw invalidInput(field, `is nested more than ${MAX_BODY_DEPTH} levels deep`);
  if (value.numberValue !== undefined) return value.numberValue;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.structValue !== undefined) return objectOf(value.structValue, field, depth + 1);
  if (value.listValue !== undefined) {
    return (value.listValue.values ?? []).map((v, i) => plainOf(v, `${field}[${i}]`, depth + 1));
  }
  // nullValue, or a Value with nothing set: JSON null.
  return null;
}

function objectOf(struct: WireStruct, field: string, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(struct.fields ?? {})) {
    out[key] = plainOf(value, field === '' ? key : `${field}.${key}`, depth);
  }
  return out;
}

/** A Struct as the JSON object it carries; an absent Struct is an empty object. */
export function fromStruct(struct: WireStruct | undefined, field: string): Record<string, unknown> {
  return objectOf(struct ?? {}, field, 1);
}

/** Any JSON value as a google.protobuf.Value for proto-loader to encode. */
export function toValue(value: unknown): WireValue {
  if (value === null || value === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(toValue) } };
  if (value instanceof Date) return { stringValue: value.toISOString() };
  return { structValue: toStruct(value as Record<string, unknown>) };
}

/** A JSON object as a google.protobuf.Struct. */
export function toStruct(object: Record<string, unknown>): WireStruct {
  const fields: Record<string, WireValue> = {};
  for (const [key, value] of Object.entries(object)) {
    if (value !== undefined) fields[key] = toValue(value);
  }
  return { fields };
}
