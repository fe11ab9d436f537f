// The one table from error codes to what each door answers: the HTTP status, the gRPC status
// code, and the `vpr` exit code. docs/errors.md shows the same table; a test keeps them equal.
import type { ErrorCode } from '../core/errors.js';

export type GrpcStatusName =
  | 'INVALID_ARGUMENT'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'DATA_LOSS'
  | 'INTERNAL';

export interface ErrorStatus {
  readonly http: number;
  readonly grpc: GrpcStatusName;
  /** The `vpr` command's exit code (docs/cli.md). */
  readonly exit: number;
}

export const ERROR_STATUSES: Readonly<Record<ErrorCode, ErrorStatus>> = {
  INVALID_INPUT: { http: 400, grpc: 'INVALID_ARGUMENT', exit: 3 },
  INVALID_ID: { http: 400, grpc: 'INVALID_ARGUMENT', exit: 3 },
  UNSAFE_PATH: { http: 400, grpc: 'INVALID_ARGUMENT', exit: 3 },
  UNAUTHENTICATED: { http: 401, grpc: 'UNAUTHENTICATED', exit: 7 },
  FORBIDDEN: { http: 403, grpc: 'PERMISSION_DENIED', exit: 7 },
  NOT_FOUND: { http: 404, grpc: 'NOT_FOUND', exit: 4 },
  RECORD_DELETED: { http: 410, grpc: 'NOT_FOUND', exit: 4 },
  ALREADY_EXISTS: { http: 409, grpc: 'ALREADY_EXISTS', exit: 5 },
  PRECONDITION_REQUIRED: { http: 428, grpc: 'FAILED_PRECONDITION', exit: 5 },
  VERSION_CONFLICT: { http: 412, grpc: 'FAILED_PRECONDITION', exit: 5 },
  INVALID_STATE: { http: 409, grpc: 'FAILED_PRECONDITION', exit: 5 },
  SIGNATURE_REQUIRED: { http: 403, grpc: 'FAILED_PRECONDITION', exit: 5 },
  SIGNATURE_INVALID: { http: 422, grpc: 'INVALID_ARGUMENT', exit: 3 },
  IDEMPOTENCY_KEY_REUSED: { http: 422, grpc: 'FAILED_PRECONDITION', exit: 5 },
  IDEMPOTENCY_IN_PROGRESS: { http: 409, grpc: 'ABORTED', exit: 6 },
  PAYLOAD_TOO_LARGE: { http: 413, grpc: 'RESOURCE_EXHAUSTED', exit: 3 },
  READ_ONLY: { http: 503, grpc: 'UNAVAILABLE', exit: 8 },
  REPOSITORY_BUSY: { http: 503, grpc: 'ABORTED', exit: 6 },
  CORRUPT_REPOSITORY: { http: 500, grpc: 'DATA_LOSS', exit: 1 },
  SIGNATURE_UNVERIFIED: { http: 500, grpc: 'DATA_LOSS', exit: 1 },
  STORAGE_FAILURE: { http: 500, grpc: 'INTERNAL', exit: 1 },
  PROJECTION_UNAVAILABLE: { http: 503, grpc: 'UNAVAILABLE', exit: 8 },
  INTERNAL: { http: 500, grpc: 'INTERNAL', exit: 1 },
};

/** The exit code for a usage error of the command line (unknown command, missing argument). */
export const USAGE_EXIT = 2;
