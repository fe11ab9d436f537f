// Who the `vpr` command acts as and where it goes, so a clinician does not retype it: from flags,
// then the environment, then a profile file (--profile, VPR_PROFILE, or ~/.config/vpr/profile.yaml
// when it exists). The author is checked by the same rule as every commit author (parseAuthor).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseAuthor, type Author } from '../core/commit/author.js';
import { invalidInput } from '../core/errors.js';

export interface ProfileFlags {
  readonly profile?: string;
  readonly server?: string;
  readonly authorName?: string;
  readonly authorEmail?: string;
  readonly authorRole?: string;
  readonly registration?: readonly string[];
  readonly careLocation?: string;
  readonly signer?: string;
}

export interface Profile {
  /** The server to talk to; absent: local mode on VPR_DATA_DIR. */
  readonly server: string | undefined;
  /** The API key for the server (VPR_API_KEY or the profile's api_key). */
  readonly apiKey: string | undefined;
  /** The author of local-mode commits. */
  readonly author: Author;
  readonly careLocation: string | undefined;
  /** The signing key and certificate prefix (<prefix>.key.pem, <prefix>.cert.pem), if any. */
  readonly signer: string | undefined;
  /** Where the profile file was read from, if one was. */
  readonly file: string | undefined;
}

export const DEFAULT_PROFILE = join(homedir(), '.config', 'vpr', 'profile.yaml');

const PROFILE_FIELDS = ['server', 'api_key', 'author', 'care_location', 'signer'];

function readProfileFile(path: string | undefined, required: boolean): Record<string, unknown> {
  if (path === undefined) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    if (required) throw invalidInput('profile', `cannot read ${path}`);
    return {};
  }
  const value: unknown = parse(text);
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidInput('profile', 'must be a mapping');
  for (const key of Object.keys(value)) {
    if (!PROFILE_FIELDS.includes(key)) {
      throw invalidInput(`profile.${key}`, `is not a profile field (${PROFILE_FIELDS.join(', ')})`);
    }
  }
  return value as Record<string, unknown>;
}

/** "GMC 7000001" → { authority, number }. */
function registrationOf(text: string, field: string): { authority: string; number: string } {
  const match = /^\s*([A-Z0-9]+)\s+(\S+)\s*$/.exec(text);
  if (match === null) throw invalidInput(field, 'must be "<AUTHORITY> <number>", such as "GMC 7000001"');
  return { authority: match[1]!, number: match[2]! };
}

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;

export function loadProfile(flags: ProfileFlags, env: NodeJS.ProcessEnv = process.env): Profile {
  const explicit = flags.profile ?? text(env.VPR_PROFILE);
  const file = explicit ?? DEFAULT_PROFILE;
  const stored = readProfileFile(file, explicit !== undefined);
  const storedAuthor = (stored.author ?? {}) as Record<string, unknown>;
  const registrations =
    flags.registration !== undefined && flags.registration.length > 0
      ? flags.registration.map((r, i) => registrationOf(r, `--registration[${i}]`))
      : text(env.VPR_AUTHOR_REGISTRATIONS) !== undefined
        ? env
            .VPR_AUTHOR_REGISTRATIONS!.split(',')
            .map((r, i) => registrationOf(r, `VPR_AUTHOR_REGISTRATIONS[${i}]`))
        : storedAuthor.registrations;
  const author = parseAuthor(
    {
      name: flags.authorName ?? text(env.VPR_AUTHOR_NAME) ?? storedAuthor.name ?? 'VPR command line',
      email: flags.authorEmail ?? text(env.VPR_AUTHOR_EMAIL) ?? storedAuthor.email ?? 'cli@vpr.invalid',
      role: flags.authorRole ?? text(env.VPR_AUTHOR_ROLE) ?? storedAuthor.role ?? 'System',
      ...(registrations === undefined ? {} : { registrations }),
    },
    'author',
  );
  return {
    server: flags.server ?? text(env.VPR_SERVER) ?? text(stored.server),
    apiKey: text(env.VPR_API_KEY) ?? text(stored.api_key),
    author,
    careLocation: flags.careLocation ?? text(stored.care_location),
    signer: flags.signer ?? text(env.VPR_SIGNER) ?? text(stored.signer),
    file: Object.keys(stored).length > 0 ? file : undefined,
  };
}
