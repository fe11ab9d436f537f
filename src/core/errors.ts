// The one list of VPR error codes and the one error class every layer throws.
// Each code is stable: clients, logs and docs rely on it. Messages never carry protected
// health information; `details` carries field paths and machine-readable context only.
// Every door maps codes to its statuses through one table: src/transport/error-statuses.ts.

export const ERROR_CODES = {
  INVALID_INPUT: 'The request is malformed or a field fails validation.',
  INVALID_ID: 'An identifier is not in its canonical form.',
  UNSAFE_PATH: 'A path is absolute, escapes its root, or names a symlink or non-regular file.',
  UNAUTHENTICATED: 'No valid API key was presented.',
  FORBIDDEN: 'The API key lacks the scope this operation needs.',
  NOT_FOUND: 'The record, file or version does not exist.',
  RECORD_DELETED: 'The record is deleted (soft); restore it to use it again.',
  ALREADY_EXISTS: 'The record being created, or a value that must be unique, exists already.',
  PRECONDITION_REQUIRED: 'The change must name the version it is based on (If-Match).',
  VERSION_CONFLICT: 'The record changed since the version the caller based its change on.',
  INVALID_STATE: 'The operation does not apply to the item as it is now.',
  SIGNATURE_REQUIRED: 'The signing policy requires this change to be signed.',
  SIGNATURE_INVALID: 'A submitted signature does not verify against its key and certificate.',
  IDEMPOTENCY_KEY_REUSED: 'The Idempotency-Key was used before with a different request.',
  IDEMPOTENCY_IN_PROGRESS: 'A request with this Idempotency-Key is still being processed.',
  PAYLOAD_TOO_LARGE: 'The request is larger than the configured limit.',
  READ_ONLY: 'The service is in read-only mode and accepts no changes.',
  REPOSITORY_BUSY: 'Another writer held the record for longer than the bounded wait.',
  CORRUPT_REPOSITORY: 'Stored data failed an integrity check.',
  SIGNATURE_UNVERIFIED: 'The content is withheld: its history holds a commit that fails verification.',
  STORAGE_FAILURE: 'The storage layer failed; nothing was acknowledged.',
  PROJECTION_UNAVAILABLE: 'The query database cannot answer now; writes to Git are unaffected.',
  INTERNAL: 'An unexpected failure inside VPR.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export type ErrorDetails = Readonly<Record<string, unknown>>;

export class VprError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails | undefined;

  constructor(code: ErrorCode, message: string, options: { details?: ErrorDetails; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VprError';
    this.code = code;
    this.details = options.details;
  }
}

export function isVprError(error: unknown, code?: ErrorCode): error is VprError {
  return error instanceof VprError && (code === undefined || error.code === code);
}

/** Shorthand for the commonest failure: a field that fails validation. */
export function invalidInput(field: string, message: string): VprError {
  return new VprError('INVALID_INPUT', `${field}: ${message}`, { details: { field } });
}
