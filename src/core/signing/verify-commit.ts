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

/** What a certificate chain says whatever the commit: parsed once per chain and anchors. */
interface ChainFacts {
  readonly leaf: X509Certificate;
  readonly leafFingerprint: string;
  readonly windows: readonly { readonly from: number; readonly to: number }[];
  /** Each certificate is issued and signed by the next. */
  readonly linked: boolean;
  /** The last is a trust anchor or is signed by one. */
  readonly anchored: boolean;
}

/**
 * Chains seen before, per set of trust anchors, by the SHA-256 of their DER: a history signed
 * by a few clinicians repeats a few chains, and parsing and checking one costs ten times the
 * commit's own signature check. Bounded; `null` marks a chain that does not parse.
 */
const chainCache = new WeakMap<TrustAnchors, Map<string, ChainFacts | null>>();
const CHAINS_CACHED = 1_000;

function chainFactsOf(ders: readonly Buffer[], anchors: TrustAnchors): ChainFacts | undefined {
  const hash = createHash('sha256');
  for (const der of ders) hash.update(`${der.length}:`).update(der);
  const id = hash.digest('hex');
  let cache = chainCache.get(anchors);
  if (cache === undefined) chainCache.set(anchors, (cache = new Map()));
  const known = cache.get(id);
  if (known !== undefined) return known ?? undefined;
  let facts: ChainFacts | null;
  try {
    const chain = ders.map((der) => new X509Certificate(der));
    const top = chain.at(-1)!;
    facts = {
      leaf: chain[0]!,
      leafFingerprint: fingerprint(chain[0]!.publicKey),
      windows: chain.map((c) => ({ from: Date.parse(c.validFrom), to: Date.parse(c.validTo) })),
      linked: chain.every(
        (c, i) =>
          i + 1 === chain.length || (c.checkIssued(chain[i + 1]!) && c.verify(chain[i + 1]!.publicKey)),
      ),
      anchored: anchors.certificates.some(
        (anchor) =>
          anchor.fingerprint256 === top.fingerprint256 ||
          (top.checkIssued(anchor) && top.verify(anchor.publicKey)),
      ),
    };
  } catch {
    facts = null;
  }
  if (cache.size >= CHAINS_CACHED) cache.delete(cache.keys().next().value as string);
  cache.set(id, facts);
  return facts ?? undefined;
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

  const facts = chainFactsOf(payload.certificates, anchors);
  if (facts === undefined) return invalid('malformed', 'a certificate does not parse');
  const leaf = facts.leaf;
  if (facts.leafFingerprint !== keyFingerprint) {
    return invalid('key-mismatch', 'the certificate is for another key');
  }
  // The time the commit says it was made: the certificate must have been valid then.
  const at = decodeCommit(unsigned).committer.timestamp;
  for (const window of facts.windows) {
    if (at < window.from) {
      return invalid(
        'certificate-not-yet-valid',
        `a certificate was not yet valid at ${new Date(at).toISOString()}`,
      );
    }
    if (at > window.to) {
      return invalid('certificate-expired', `a certificate had expired by ${new Date(at).toISOString()}`);
    }
  }
  if (!facts.linked) {
    return invalid('untrusted-chain', 'a certificate is not signed by the next one in the chain');
  }
  if (!facts.anchored) {
    return invalid('untrusted-chain', 'the chain does not end at a configured trust anchor');
  }
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
