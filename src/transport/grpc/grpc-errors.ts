// How a failure leaves the gRPC door: the status code of the one error table
// (error-statuses.ts), the message for people, a `vpr-error-code` trailer with the stable code,
// and the standard rich error model in `grpc-status-details-bin`: a google.rpc.Status holding a
// google.rpc.ErrorInfo (reason = the code) and, for invalid input, a google.rpc.BadRequest
// naming the field. The decoder is here too, for clients and tests of this repository.
import { fileURLToPath } from 'node:url';
import { Metadata, status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import type { VprError } from '../../core/errors.js';
import { ERROR_STATUSES } from '../error-statuses.js';

/** The directory of the .proto files this door serves. */
export const PROTO_DIR = fileURLToPath(new URL('../../../../proto/', import.meta.url));

export const ERROR_DOMAIN = 'vpr.v1';
const TYPE_PREFIX = 'type.googleapis.com/';

const root = new protobuf.Root();
root.resolvePath = (origin, target) =>
  target.startsWith('google/rpc/') ? `${PROTO_DIR}${target}` : protobuf.util.path.resolve(origin, target);
root.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: true });
const Status = root.lookupType('google.rpc.Status');
const ErrorInfo = root.lookupType('google.rpc.ErrorInfo');
const BadRequest = root.lookupType('google.rpc.BadRequest');

function packed(type: protobuf.Type, value: Record<string, unknown>) {
  return {
    type_url: `${TYPE_PREFIX}${type.fullName.slice(1)}`,
    value: type.encode(type.create(value)).finish(),
  };
}

function metadataOf(details: VprError['details']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(details ?? {})) {
    out[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

/** A VprError as the error a grpc-js handler answers with. */
export function toServiceError(error: VprError): Partial<ServiceError> {
  const code = grpcStatus[ERROR_STATUSES[error.code].grpc];
  const field = error.details?.field;
  const details = [
    packed(ErrorInfo, { reason: error.code, domain: ERROR_DOMAIN, metadata: metadataOf(error.details) }),
    ...(typeof field === 'string'
      ? [packed(BadRequest, { field_violations: [{ field, description: error.message }] })]
      : []),
  ];
  const metadata = new Metadata();
  metadata.set('vpr-error-code', error.code);
  metadata.set(
    'grpc-status-details-bin',
    Buffer.from(Status.encode(Status.create({ code, message: error.message, details })).finish()),
  );
  return { code, details: error.message, metadata };
}

export interface DecodedStatus {
  readonly code: number;
  readonly message: string;
  readonly reason?: string;
  readonly domain?: string;
  readonly metadata: Record<string, string>;
  readonly fieldViolations: { field: string; description: string }[];
}

/** The rich error details of a failed call, read from its trailers. */
export function decodeStatusDetails(metadata: Metadata): DecodedStatus | undefined {
  const raw = metadata.get('grpc-status-details-bin')[0];
  if (!(raw instanceof Buffer)) return undefined;
  const decoded = Status.toObject(Status.decode(raw)) as {
    code: number;
    message: string;
    details?: { type_url: string; value: Uint8Array }[];
  };
  let reason: string | undefined;
  let domain: string | undefined;
  let info: Record<string, string> = {};
  const fieldViolations: { field: string; description: string }[] = [];
  for (const any of decoded.details ?? []) {
    if (any.type_url === `${TYPE_PREFIX}google.rpc.ErrorInfo`) {
      const e = ErrorInfo.toObject(ErrorInfo.decode(any.value)) as {
        reason: string;
        domain: string;
        metadata?: Record<string, string>;
      };
      reason = e.reason;
      domain = e.domain;
      info = e.metadata ?? {};
    } else if (any.type_url === `${TYPE_PREFIX}google.rpc.BadRequest`) {
      const b = BadRequest.toObject(BadRequest.decode(any.value)) as {
        field_violations?: { field: string; description: string }[];
      };
      fieldViolations.push(...(b.field_violations ?? []));
    }
  }
  return {
    code: decoded.code,
    message: decoded.message,
    ...(reason === undefined ? {} : { reason }),
    ...(domain === undefined ? {} : { domain }),
    metadata: info,
    fieldViolations,
  };
}
