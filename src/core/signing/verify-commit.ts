// Verifying a commit's signature offline, from the commit alone and the trust anchors (CA
// certificates) the deployment configures: the signature over the unsigned bytes with the
// public key it carries; the certificate's key is that key; each certificate was valid when the
// commit was made (its committer time) and is signed by the next; the chain ends at a trust
// anchor. Each commit is signed-valid (with who signed), unsigned, or invalid with the reason.
import { createHash, createPublicKey, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { decodeCommit } from '../git/commit-object.js';
import { parsePayload, splitSignature } from './commit-signature.js';

export type InvalidReason =
  | 'malformed'
  | 'wrong-algorithm'
  | 'bad-signature'
  | 'key-mismatch'
  | 'certificate-expired'
  | 'certificate-not-yet-valid'
  | 'untrusted-chain';

export interface Signer {
  /** The leaf certificate's subject, or undefined for a bare key. */
  readonly subject?: string;
  /** `vpr://<authority>/<number>` from the certificate, when it carries one. */
  readonly registration?: string;
  /** SHA-256 of the public key (SubjectPublicKeyInfo DER), hex. */
  readonly keyFingerprint: string;
  /** Whether a certificate chain to a trust anchor vouches for the key. */
  readonly certified: boolean;
}

export type Verdict =
  | { readonly status: 'unsigned' }
  | { readonly status: 'valid'; readonly signer: Signer }
  | { readonly status: 'invalid'; readonly reason: InvalidReason; readonly detail: string };

export interface TrustAnchors {
  readonly certificates: readonly X509Certificate[];
}

const invalid = (reason: InvalidReason, detail: string): Verdict => ({ status: 'invalid', reason, detail });

/** SHA-256 of a key's SubjectPublicKeyInfo DER, hex. */
function fingerprint(key: KeyObject): string {
  return createHash('sha256')
    .update(key.export({ format: 'der', type: 'spki' }))
    .digest('hex');
}

function registrationOf(certificate: X509Certificate): string | undefined {
  const san = certificate.subjectAltName ?? '';
  return /URI:(vpr:\/\/[^,\s]+)/.exec(san)?.[1];
}

/** The verdict on one commit object's bytes (as `git cat-file commit` prints them). */
export function verifyCommitBytes(commit: Buffer, anchors: TrustAnchors): Verdict {
  const { unsigned, payloadText } = splitSignature(commit);
  if (payloadText === undefined) return { status: 'unsigned' };
  const payload = parsePayload(payloadText);
  if ('malformed' in payload) return invalid('malformed', payload.malformed);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: payload.publicKey, format: 'der', type: 'spki' });
  } catch {
    return invalid('malformed', 'the public key does not parse');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    return invalid('wrong-algorithm', 'the key is not ECDSA P-256');
  }
  if (!verify('sha256', unsigned, { key, dsaEncoding: 'der' }, payload.signature)) {
    return invalid('bad-signature', 'the signature does not match the commit as it is');
  }
  const keyFingerprint = fingerprint(key);
  if (payload.certificates.length === 0)
    return { status: 'valid', signer: { keyFingerprint, certified: false } };

  let chain: X509Certificate[];
  try {
    chain = payload.certificates.map((der) => new X509Certificate(der));
  } catch {
    return invalid('malformed', 'a certificate does not parse');
  }
  const leaf = chain[0]!;
  if (fingerprint(leaf.publicKey) !== keyFingerprint) {
    return invalid('key-mismatch', 'the certificate is for another key');
  }
  // The time the commit says it was made: the certificate must have been valid then.
  const at = decodeCommit(unsigned).committer.timestamp;
  for (const certificate of chain) {
    if (at < Date.parse(certificate.validFrom)) {
      return invalid(
        'certificate-not-yet-valid',
        `a certificate was not yet valid at ${new Date(at).toISOString()}`,
      );
    }
    if (at > Date.parse(certificate.validTo)) {
      return invalid('certificate-expired', `a certificate had expired by ${new Date(at).toISOString()}`);
    }
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.checkIssued(chain[i + 1]!) || !chain[i]!.verify(chain[i + 1]!.publicKey)) {
      return invalid('untrusted-chain', 'a certificate is not signed by the next one in the chain');
    }
  }
  const top = chain.at(-1)!;
  const anchored = anchors.certificates.some(
    (anchor) =>
      anchor.fingerprint256 === top.fingerprint256 ||
      (top.checkIssued(anchor) && top.verify(anchor.publicKey)),
  );
  if (!anchored) return invalid('untrusted-chain', 'the chain does not end at a configured trust anchor');
  const registration = registrationOf(leaf);
  return {
    status: 'valid',
    signer: {
      subject: leaf.subject.split('\n').join(', '),
      ...(registration === undefined ? {} : { registration }),
      keyFingerprint,
      certified: true,
    },
  };
}
