// The controlled commit vocabulary: `<domain>:<action>: <summary>`, then trailers in a fixed
// order (Author-Name, Author-Role, Author-Registration sorted, Care-Location, then any others
// sorted by key). Building validates everything before a commit is attempted; parsing turns a
// stored message back into the same structure for history listings.
import { invalidInput } from '../errors.js';
import { parseSingleLine, type Author, type Registration } from './author.js';

export const DOMAINS = ['clinical', 'demographics', 'coordination'] as const;
export type Domain = (typeof DOMAINS)[number];

export const ACTIONS = ['create', 'update', 'superseded', 'redact'] as const;
export type Action = (typeof ACTIONS)[number];

export interface Trailer {
  readonly key: string;
  readonly value: string;
}

export interface CommitMessage {
  readonly domain: Domain;
  readonly action: Action;
  readonly summary: string;
  readonly author: Pick<Author, 'name' | 'role' | 'registrations'>;
  readonly careLocation: string;
  /** Further trailers; reserved keys are refused. */
  readonly trailers: readonly Trailer[];
}

const RESERVED = ['Author-Name', 'Author-Role', 'Author-Registration', 'Care-Location'];
const TRAILER_KEY = /^[A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*$/;
const SUMMARY_MAX = 120;

function isReserved(key: string): boolean {
  return RESERVED.some((reserved) => reserved.toLowerCase() === key.toLowerCase());
}

function compareRegistrations(a: Registration, b: Registration): number {
  const left = `${a.authority} ${a.number}`;
  const right = `${b.authority} ${b.number}`;
  return left < right ? -1 : left > right ? 1 : 0;
}

/** Validates the parts of a commit message; throws INVALID_INPUT before anything is written. */
export function validateCommitMessage(message: CommitMessage): CommitMessage {
  if (!DOMAINS.includes(message.domain)) throw invalidInput('domain', `must be one of ${DOMAINS.join(', ')}`);
  if (!ACTIONS.includes(message.action)) throw invalidInput('action', `must be one of ${ACTIONS.join(', ')}`);
  const summary = parseSingleLine(message.summary, 'summary', SUMMARY_MAX);
  const careLocation = parseSingleLine(message.careLocation, 'careLocation');
  const seen = new Set<string>();
  const trailers = message.trailers.map((trailer, i) => {
    if (!TRAILER_KEY.test(trailer.key) || trailer.key.length > 64) {
      throw invalidInput(`trailers[${i}].key`, 'must be a hyphenated word such as Letter-Id');
    }
    if (isReserved(trailer.key)) throw invalidInput(`trailers[${i}].key`, 'is reserved and cannot be set');
    if (seen.has(trailer.key)) throw invalidInput(`trailers[${i}].key`, 'must not repeat');
    seen.add(trailer.key);
    return { key: trailer.key, value: parseSingleLine(trailer.value, `trailers[${i}].value`, 500) };
  });
  return { ...message, summary, careLocation, trailers };
}

/** The message text exactly as committed. */
export function formatCommitMessage(input: CommitMessage): string {
  const message = validateCommitMessage(input);
  const lines = [
    `Author-Name: ${parseSingleLine(message.author.name, 'author.name')}`,
    `Author-Role: ${parseSingleLine(message.author.role, 'author.role')}`,
    ...[...message.author.registrations]
      .sort(compareRegistrations)
      .map((r) => `Author-Registration: ${r.authority} ${r.number}`),
    `Care-Location: ${message.careLocation}`,
    ...[...message.trailers].sort((a, b) => (a.key < b.key ? -1 : 1)).map((t) => `${t.key}: ${t.value}`),
  ];
  return `${message.domain}:${message.action}: ${message.summary}\n\n${lines.join('\n')}\n`;
}

export interface ParsedCommitMessage {
  readonly domain: string;
  readonly action: string;
  readonly summary: string;
  readonly trailers: readonly Trailer[];
}

const SUBJECT = /^([a-z]+):([a-z]+): (.+)$/;

/** Reads a stored message back; returns undefined for a message not in the vocabulary. */
export function parseCommitMessage(text: string): ParsedCommitMessage | undefined {
  const [subject = '', ...rest] = text.split('\n');
  const match = SUBJECT.exec(subject);
  if (match === null) return undefined;
  const trailers = rest
    .filter((line) => /^[A-Za-z][A-Za-z0-9-]*: /.test(line))
    .map((line) => {
      const colon = line.indexOf(': ');
      return { key: line.slice(0, colon), value: line.slice(colon + 2) };
    });
  return { domain: match[1]!, action: match[2]!, summary: match[3]!, trailers };
}
