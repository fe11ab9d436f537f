// The certificate authorities a deployment trusts for commit signatures: every certificate of a
// PEM file (VPR_TRUST_ANCHORS), parsed once.
import { X509Certificate } from 'node:crypto';
import { invalidInput } from '../errors.js';
import type { TrustAnchors } from './verify-commit.js';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate in `pem`; INVALID_INPUT when there is none or one does not parse. */
export function parseTrustAnchors(pem: string, field = 'trust anchors'): TrustAnchors {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw invalidInput(field, 'holds no PEM certificate');
  return {
    certificates: blocks.map((block) => {
      try {
        return new X509Certificate(block);
      } catch {
        throw invalidInput(field, 'holds a certificate that does not parse');
      }
    }),
  };
}

export const NO_TRUST_ANCHORS: TrustAnchors = { certificates: [] };
