// Commit objects: encoding a commit exactly as git writes one (tree, parents, author,
// committer, extra headers such as a signature, blank line, message) and decoding it back.
import { VprError } from '../errors.js';
import type { ObjectId } from './git-object.js';

/** Who and when, as git records it: `Name <email> <unix-seconds> <+hhmm>`. */
export interface GitSignature {
  readonly name: string;
  readonly email: string;
  /** Milliseconds since the epoch; git stores whole seconds. */
  readonly timestamp: number;
  /** Minutes east of UTC. */
  readonly timezoneOffset: number;
}

/** An extra commit header; multi-line values are continued with a leading space, as git does. */
export interface CommitHeader {
  readonly key: string;
  readonly value: string;
}

export interface CommitData {
  readonly tree: ObjectId;
  readonly parents: readonly ObjectId[];
  readonly author: GitSignature;
  readonly committer: GitSignature;
  readonly extraHeaders: readonly CommitHeader[];
  readonly message: string;
}

const RESERVED_HEADERS = new Set(['tree', 'parent', 'author', 'committer', 'encoding']);
const HEADER_KEY = /^[a-z][a-z0-9-]{0,63}$/;

export function isValidExtraHeaderKey(key: string): boolean {
  return HEADER_KEY.test(key) && !RESERVED_HEADERS.has(key);
}

function formatTimezone(offsetMinutes: number): string {
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
}

function formatSignature(signature: GitSignature): string {
  return `${signature.name} <${signature.email}> ${Math.floor(signature.timestamp / 1000)} ${formatTimezone(signature.timezoneOffset)}`;
}

export function encodeCommit(commit: CommitData): Buffer {
  const lines = [`tree ${commit.tree}`, ...commit.parents.map((parent) => `parent ${parent}`)];
  lines.push(`author ${formatSignature(commit.author)}`, `committer ${formatSignature(commit.committer)}`);
  for (const header of commit.extraHeaders) {
    if (!isValidExtraHeaderKey(header.key)) {
      throw new VprError('INVALID_INPUT', 'a commit header key is reserved or malformed', {
        details: { field: 'extraHeaders' },
      });
    }
    lines.push(`${header.key} ${header.value.split('\n').join('\n ')}`);
  }
  return Buffer.from(`${lines.join('\n')}\n\n${commit.message}`, 'utf8');
}

const SIGNATURE = /^(.*) <([^<>]*)> (\d+) ([+-])(\d{2})(\d{2})$/;

function parseSignature(text: string): GitSignature {
  const match = SIGNATURE.exec(text);
  if (match === null)
    throw new VprError('CORRUPT_REPOSITORY', 'a commit has a malformed author or committer');
  const [, name, email, seconds, sign, hours, minutes] = match as unknown as string[];
  const offset = (Number(hours) * 60 + Number(minutes)) * (sign === '-' ? -1 : 1);
  return { name: name!, email: email!, timestamp: Number(seconds) * 1000, timezoneOffset: offset };
}

export function decodeCommit(body: Buffer): CommitData {
  const text = body.toString('utf8');
  const split = text.indexOf('\n\n');
  const headerText = split < 0 ? text : text.slice(0, split);
  const message = split < 0 ? '' : text.slice(split + 2);
  const headers: { key: string; value: string }[] = [];
  for (const line of headerText.split('\n')) {
    const last = headers.at(-1);
    if (line.startsWith(' ') && last !== undefined) {
      last.value += `\n${line.slice(1)}`;
    } else {
      const space = line.indexOf(' ');
      headers.push({ key: line.slice(0, space), value: line.slice(space + 1) });
    }
  }
  const tree = headers.find((h) => h.key === 'tree')?.value;
  const author = headers.find((h) => h.key === 'author')?.value;
  const committer = headers.find((h) => h.key === 'committer')?.value;
  if (tree === undefined || author === undefined || committer === undefined) {
    throw new VprError('CORRUPT_REPOSITORY', 'a commit lacks its tree, author or committer');
  }
  return {
    tree: tree as ObjectId,
    parents: headers.filter((h) => h.key === 'parent').map((h) => h.value as ObjectId),
    author: parseSignature(author),
    committer: parseSignature(committer),
    extraHeaders: headers.filter((h) => !RESERVED_HEADERS.has(h.key)),
    message,
  };
}
