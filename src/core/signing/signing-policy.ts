// The signing policy: which commits must be signed, enforced on write and checked on read.
// Written as a comma-separated list of selectors (VPR_SIGNING_POLICY): `clinical` selects every
// commit of a clinical repository, `clinical:update` only its updates, `patient-contributions`
// the commits a patient contributes; a selector after `!` exempts what it selects, and an
// exemption wins over any requirement. The first commits of a new record (made by the service
// from the request, all three at once) are outside the policy. An empty policy requires nothing.
import { ACTIONS, DOMAINS, type Action, type Domain, type Trailer } from '../commit/commit-message.js';
import { invalidInput } from '../errors.js';

export const CONTRIBUTION_SOURCE_TRAILER = 'Contribution-Source';
const PATIENT_CONTRIBUTIONS = 'patient-contributions';

type Selector =
  { readonly repository: Domain; readonly action?: Action } | { readonly patientContributions: true };

export interface SigningPolicy {
  /** The policy as written, for `config check` and logs. */
  readonly text: string;
  readonly required: readonly Selector[];
  readonly exempt: readonly Selector[];
}

/** What the policy looks at in a commit. */
export interface CommitKind {
  readonly repository: Domain;
  readonly action: Action;
  readonly trailers: readonly Trailer[];
}

export const NO_SIGNING_POLICY: SigningPolicy = { text: '', required: [], exempt: [] };

function parseSelector(text: string, field: string): Selector {
  if (text === PATIENT_CONTRIBUTIONS) return { patientContributions: true };
  const [repository, action, extra] = text.split(':');
  if (!DOMAINS.includes(repository as Domain) || extra !== undefined) {
    throw invalidInput(
      field,
      `"${text}" is not a selector: use a repository (${DOMAINS.join(', ')}), <repository>:<action> or ${PATIENT_CONTRIBUTIONS}`,
    );
  }
  if (action === undefined) return { repository: repository as Domain };
  if (!ACTIONS.includes(action as Action)) {
    throw invalidInput(field, `"${text}" names an action that is not one of ${ACTIONS.join(', ')}`);
  }
  return { repository: repository as Domain, action: action as Action };
}

/** The policy written as selectors; INVALID_INPUT naming the selector that is wrong. */
export function parseSigningPolicy(text: string, field = 'signing policy'): SigningPolicy {
  const required: Selector[] = [];
  const exempt: Selector[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    if (item.startsWith('!')) exempt.push(parseSelector(item.slice(1).trim(), field));
    else required.push(parseSelector(item, field));
  }
  return { text: text.trim(), required, exempt };
}

function selects(selector: Selector, commit: CommitKind): boolean {
  if ('patientContributions' in selector) {
    return commit.trailers.some((t) => t.key === CONTRIBUTION_SOURCE_TRAILER && t.value === 'patient');
  }
  return (
    selector.repository === commit.repository &&
    (selector.action === undefined || selector.action === commit.action)
  );
}

/** Whether the policy requires this commit to be signed. */
export function requiresSignature(policy: SigningPolicy, commit: CommitKind): boolean {
  return (
    policy.required.some((selector) => selects(selector, commit)) &&
    !policy.exempt.some((selector) => selects(selector, commit))
  );
}

/**
 * Whether the policy requires a stored commit to be signed, from its message (parsed with the
 * commit vocabulary) and parents. A record's first commit is outside the policy; a message
 * outside the vocabulary is judged by its repository alone, so it is required whenever any
 * selector of that repository requires anything.
 */
export function requiresSignatureOfStored(
  policy: SigningPolicy,
  repository: Domain,
  message: { readonly action: string; readonly trailers: readonly Trailer[] } | undefined,
  parents: readonly string[],
): boolean {
  if (parents.length === 0) return false;
  if (message !== undefined && ACTIONS.includes(message.action as Action)) {
    return requiresSignature(policy, {
      repository,
      action: message.action as Action,
      trailers: message.trailers,
    });
  }
  return policy.required.some((s) => 'repository' in s && s.repository === repository);
}
