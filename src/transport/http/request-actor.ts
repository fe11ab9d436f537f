// Who a REST request acts as: the principal its API key names (set by the authentication hook),
// in the signing mode its VPR-Signing header asks for. One place, for every route module.
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../../auth/api-keys.js';
import { VprError, invalidInput } from '../../core/errors.js';
import type { SigningMode } from '../../services/commit-signing.js';

export const SIGNING_HEADER = 'vpr-signing';

/** The signing mode a request asks for: `prepare` (two-step signing) or none. */
export function signingModeOf(value: string | string[] | undefined): SigningMode | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && value.trim().toLowerCase() === 'prepare') return 'prepare';
  throw invalidInput('VPR-Signing', 'must be "prepare" (or left out)');
}

/** The request's actor; UNAUTHENTICATED on a route that did not authenticate. */
export function actorOf(principal: FastifyRequest['principal']): Principal & { signing?: SigningMode } {
  if (principal === undefined) throw new VprError('UNAUTHENTICATED', 'send a valid API key');
  return principal;
}
