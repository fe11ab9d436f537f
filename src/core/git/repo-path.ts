// The one rule for paths inside a patient repository: relative, forward slashes, no empty,
// `.`, `..` or `.git` segments, no NUL or backslash, bounded length. Every path that comes in
// from a caller is parsed here before it touches a tree or the disk.
import { VprError } from '../errors.js';

/** A validated path relative to a repository's root, e.g. `correspondence/letter/x/body.md`. */
export type RepoPath = string & { readonly __brand: 'RepoPath' };

const MAX_PATH_BYTES = 1024;
const MAX_SEGMENT_BYTES = 255;

export function parseRepoPath(value: unknown, field = 'path'): RepoPath {
  const fail = (why: string): never => {
    throw new VprError('UNSAFE_PATH', `${field} ${why}`, { details: { field } });
  };
  if (typeof value !== 'string' || value.length === 0) return fail('must be a non-empty string');
  if (Buffer.byteLength(value) > MAX_PATH_BYTES) fail(`must be at most ${MAX_PATH_BYTES} bytes`);
  if (value.startsWith('/')) fail('must be relative, not absolute');
  if (value.includes('\\') || value.includes('\0')) fail('must not contain backslashes or NUL');
  for (const segment of value.split('/')) {
    if (segment === '' || segment === '.' || segment === '..')
      fail('must not contain empty, "." or ".." segments');
    if (segment.toLowerCase() === '.git') fail('must not name the .git directory');
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES)
      fail(`segments must be at most ${MAX_SEGMENT_BYTES} bytes`);
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
    if (/[\x00-\x1f\x7f]/.test(segment)) fail('must not contain control characters');
  }
  return value as RepoPath;
}

export function pathSegments(path: RepoPath): string[] {
  return path.split('/');
}
