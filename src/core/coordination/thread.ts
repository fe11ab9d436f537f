// A messaging thread's conversation (seed: "CCR Messaging – Design and Rationale"):
// `communications/<communication_id>/thread.md` in the care coordination repository, the
// canonical, append-only, human-readable record of what was said; its metadata is `ledger.yaml`
// (./ledger.ts). A message is never changed: a correction is a new message that names the one it
// corrects.
//
// The format, line by line ("\n" ends every line, the file's last included):
//
//   # Thread
//
//   **Communication ID:** <communication_id>   (this line and the blank one before may be absent)
//
//   ## Message                                 (each message starts with a blank line and this)
//
//   **Message ID:** <uuid v4>
//   **Timestamp:** <ISO 8601 UTC with milliseconds, e.g. 2026-01-12T10:14:00.000Z>
//   **Author ID:** <participant id>
//   **Author:** <display name>
//   **Role:** <one of MESSAGE_ROLES>
//   **Corrects:** <message id>                 (only in a correction)
//   **Body lines:** <N>
//
//   <the body: exactly N lines, as typed>
//
//   ---                                        (ends the message)
//
// The body is framed by its line count, not by a marker: the body's N lines are the body split
// at "\n" (a "\r" stays with its line), written verbatim and followed by "\n", so the parser reads
// exactly N lines and takes them as they are. Nothing a person types — `---`, `## Message`,
// header-looking lines, fences, blank or whitespace-only lines, CRLF, a last line without a line
// break — can end a body early or be mistaken for the format, and a reader sees the plain text.
// Each message ends with its own `---` line, so appending is writing `renderMessage(m)` at the
// end of the file, and a file cut short in a message is refused, never half-read.
//
// `parseThread` reads only what `renderMessage` writes (header values are checked as they are on
// writing; the body is taken as it is) and throws CORRUPT_REPOSITORY naming the line, never its
// content. It is linear in the file's length, and refuses a file over MAX_THREAD_BYTES.
import { invalidInput, VprError } from '../errors.js';
import { parseTimestampId, type TimestampId } from '../ids/timestamp-id.js';
import {
  isParticipantId,
  MAX_DISPLAY_NAME_LENGTH,
  MESSAGE_ROLES,
  parseMessageRole,
  parseParticipantId,
  communicationDir,
  type MessageRole,
} from './ledger.js';

export { MESSAGE_ROLES, type MessageRole } from './ledger.js';

export const THREAD_FILE = 'thread.md';
/** A message body's largest size: 64 KiB of UTF-8. */
export const MAX_MESSAGE_BODY_BYTES = 64 * 1024;
/** The largest thread.md, in bytes of UTF-8: a caller may refuse a larger file before reading it. */
export const MAX_THREAD_BYTES = 64 * 1024 * 1024;

export interface ThreadMessage {
  /** A UUID v4, lower case. */
  readonly messageId: string;
  /** ISO 8601 UTC with milliseconds. */
  readonly timestamp: string;
  readonly authorId: string;
  readonly authorName: string;
  readonly role: MessageRole;
  /** The message this one corrects. */
  readonly corrects?: string;
  readonly body: string;
}

export interface Thread {
  readonly communicationId?: TimestampId;
  readonly messages: readonly ThreadMessage[];
}

const THREAD_HEADING = '# Thread';
const MESSAGE_HEADING = '## Message';
const SEPARATOR = '---';
const COMMUNICATION_ID = '**Communication ID:** ';
const MESSAGE_ID = '**Message ID:** ';
const TIMESTAMP = '**Timestamp:** ';
const AUTHOR_ID = '**Author ID:** ';
const AUTHOR = '**Author:** ';
const ROLE = '**Role:** ';
const CORRECTS = '**Corrects:** ';
const BODY_LINES = '**Body lines:** ';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const LINE_COUNT = /^[1-9][0-9]{0,8}$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const SINGLE_LINE_REFUSED = /[\x00-\x1f\x7f\u2028\u2029]/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const BODY_REFUSED = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
const LONE_SURROGATE = /\p{Cs}/u;

export function threadPath(communicationId: TimestampId): string {
  return `${communicationDir(communicationId)}/${THREAD_FILE}`;
}

const isMessageId = (value: string): boolean => UUID_V4.test(value);
const isInstant = (value: string): boolean => {
  if (!INSTANT.test(value)) return false;
  const date = new Date(value);
  return !Number.isNaN(date.getTime()) && date.toISOString() === value;
};
const isDisplayName = (value: string): boolean =>
  value.length > 0 &&
  value.length <= MAX_DISPLAY_NAME_LENGTH &&
  value.trim() === value &&
  !SINGLE_LINE_REFUSED.test(value);

/** A message id (`corrects` in a request): a UUID v4 in lower case. */
export function parseMessageId(value: unknown, field: string): string {
  if (typeof value !== 'string' || !isMessageId(value)) {
    throw new VprError('INVALID_ID', `${field} must be a UUID v4 in lower case`, { details: { field } });
  }
  return value;
}

/**
 * A message body as a person typed it, kept exactly: not blank, at most 64 KiB of UTF-8, valid
 * Unicode, and no control characters but tab, line feed and carriage return.
 */
export function parseMessageBody(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalidInput(field, 'must be a string');
  if (value.trim().length === 0) throw invalidInput(field, 'must not be empty');
  if (utf8Length(value) > MAX_MESSAGE_BODY_BYTES) {
    throw invalidInput(field, `must be at most ${MAX_MESSAGE_BODY_BYTES} bytes of UTF-8`);
  }
  if (BODY_REFUSED.test(value)) {
    throw invalidInput(field, 'must not contain control characters other than line breaks and tabs');
  }
  if (LONE_SURROGATE.test(value)) throw invalidInput(field, 'must be valid Unicode text');
  return value;
}

/** The start of a new thread.md. */
export function renderThreadHeader(communicationId: TimestampId): string {
  return `${THREAD_HEADING}\n\n${COMMUNICATION_ID}${parseTimestampId(communicationId, 'communication_id')}\n`;
}

/** INVALID_INPUT (or INVALID_ID) naming the first field of `m` that the format cannot hold as it is. */
function checkMessage(m: ThreadMessage): void {
  parseMessageId(m.messageId, 'message_id');
  if (typeof m.timestamp !== 'string' || !isInstant(m.timestamp)) {
    throw invalidInput('timestamp', 'must be an ISO 8601 UTC date and time with milliseconds');
  }
  if (parseParticipantId(m.authorId, 'author_id') !== m.authorId) {
    throw invalidInput('author_id', 'must not have leading or trailing spaces');
  }
  if (typeof m.authorName !== 'string' || !isDisplayName(m.authorName)) {
    throw invalidInput(
      'author_name',
      `must be a single line of printable text, trimmed, of 1 to ${MAX_DISPLAY_NAME_LENGTH} characters`,
    );
  }
  parseMessageRole(m.role, 'role');
  if (m.corrects !== undefined) {
    parseMessageId(m.corrects, 'corrects');
    if (m.corrects === m.messageId) throw invalidInput('corrects', 'must name another message');
  }
  parseMessageBody(m.body, 'body');
}

/** The text to append to thread.md for one message; throws for a message the format cannot hold. */
export function renderMessage(m: ThreadMessage): string {
  checkMessage(m);
  const lines = 1 + countLineFeeds(m.body);
  return (
    `\n${MESSAGE_HEADING}\n\n` +
    `${MESSAGE_ID}${m.messageId}\n` +
    `${TIMESTAMP}${m.timestamp}\n` +
    `${AUTHOR_ID}${m.authorId}\n` +
    `${AUTHOR}${m.authorName}\n` +
    `${ROLE}${m.role}\n` +
    (m.corrects === undefined ? '' : `${CORRECTS}${m.corrects}\n`) +
    `${BODY_LINES}${lines}\n\n` +
    `${m.body}\n\n${SEPARATOR}\n`
  );
}

/** Bytes of UTF-8, or any number over `MAX_THREAD_BYTES` for a longer text. */
function utf8Length(text: string): number {
  // UTF-8 never takes fewer bytes than UTF-16 takes code units: a long text needs no count.
  return text.length > MAX_THREAD_BYTES ? text.length : Buffer.byteLength(text, 'utf8');
}

function countLineFeeds(text: string): number {
  let count = 0;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) count += 1;
  return count;
}

/**
 * `existing` (a thread.md: its header and any messages) with `m` appended. CORRUPT_REPOSITORY
 * when `existing` does not end as a thread does; INVALID_STATE when the thread would grow past
 * MAX_THREAD_BYTES (it could then not be read back).
 */
export function appendMessage(existing: string, m: ThreadMessage): string {
  if (!existing.startsWith(`${THREAD_HEADING}\n`) || !existing.endsWith('\n')) {
    throw corrupt(existing.startsWith(`${THREAD_HEADING}\n`) ? countLineFeeds(existing) + 1 : 1);
  }
  const message = renderMessage(m);
  if (utf8Length(existing) + utf8Length(message) > MAX_THREAD_BYTES) {
    throw new VprError('INVALID_STATE', 'the thread is too long to take another message');
  }
  return existing + message;
}

function corrupt(line: number): VprError {
  return new VprError('CORRUPT_REPOSITORY', 'thread.md is not in the thread format', { details: { line } });
}

/**
 * thread.md read back: its communication id (when the header names it) and its messages in file
 * order. CORRUPT_REPOSITORY, with the 1-based number of the first line that is wrong (0 for a
 * file over MAX_THREAD_BYTES), when the text is not exactly what renderThreadHeader and
 * renderMessage write.
 */
export function parseThread(text: string): Thread {
  if (utf8Length(text) > MAX_THREAD_BYTES) throw corrupt(0);
  let pos = 0;
  let line = 0;
  /** The next line, without its "\n"; a last line without "\n" means the file was cut short. */
  const next = (): string => {
    const end = text.indexOf('\n', pos);
    line += 1;
    if (end < 0) throw corrupt(line);
    const value = text.slice(pos, end);
    pos = end + 1;
    return value;
  };
  const expect = (value: string): void => {
    if (next() !== value) throw corrupt(line);
  };
  const field = (prefix: string, valid: (value: string) => boolean): string => {
    const value = next();
    if (!value.startsWith(prefix) || !valid(value.slice(prefix.length))) throw corrupt(line);
    return value.slice(prefix.length);
  };
  const peek = (prefix: string): boolean => text.startsWith(prefix, pos);

  expect(THREAD_HEADING);
  let communicationId: TimestampId | undefined;
  if (peek(`\n${COMMUNICATION_ID}`)) {
    expect('');
    const id = field(COMMUNICATION_ID, (value) => {
      try {
        parseTimestampId(value);
        return true;
      } catch {
        return false;
      }
    });
    communicationId = id as TimestampId;
  }
  const messages: ThreadMessage[] = [];
  while (pos < text.length) {
    expect('');
    expect(MESSAGE_HEADING);
    expect('');
    const messageId = field(MESSAGE_ID, isMessageId);
    const timestamp = field(TIMESTAMP, isInstant);
    const authorId = field(AUTHOR_ID, isParticipantId);
    const authorName = field(AUTHOR, isDisplayName);
    const role = field(ROLE, (value) => MESSAGE_ROLES.includes(value as MessageRole)) as MessageRole;
    const corrects = peek(CORRECTS) ? field(CORRECTS, isMessageId) : undefined;
    const count = Number(field(BODY_LINES, (value) => LINE_COUNT.test(value)));
    const countLine = line;
    expect('');
    const start = pos;
    for (let i = 0; i < count; i += 1) {
      const end = text.indexOf('\n', pos);
      if (end < 0) throw corrupt(countLine);
      pos = end + 1;
    }
    line += count;
    const body = text.slice(start, pos - 1);
    expect('');
    expect(SEPARATOR);
    messages.push({
      messageId,
      timestamp,
      authorId,
      authorName,
      role,
      ...(corrects === undefined ? {} : { corrects }),
      body,
    });
  }
  return { ...(communicationId === undefined ? {} : { communicationId }), messages };
}
