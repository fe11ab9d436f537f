// The signature a signed VPR commit carries, and the exact bytes it signs (docs/signing.md).
// A signed commit has one extra header, `vpr-signature`, after `committer` (continuation lines
// start with a space, as for git's own `gpgsig`). Its value is an armoured block of
// `Name: value` lines: the version, the algorithm, the ECDSA P-256 signature (DER, base64), the
// signer's public key (SubjectPublicKeyInfo DER, base64) and, when there is one, each
// certificate of the signer's chain (DER, base64, leaf first). The signed bytes are the commit
// object's bytes with that header — its line and its continuation lines — taken out: the
// commit exactly as it would be unsigned. Everything needed to verify is in the commit.
import { createPrivateKey, createPublicKey, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { VprError, invalidInput } from '../errors.js';

export const SIGNATURE_HEADER = 'vpr-signature';
export const SIGNATURE_VERSION = '1';
export const SIGNATURE_ALGORITHM = 'ecdsa-p256-sha256';
const BEGIN = '-----BEGIN VPR SIGNATURE-----';
const END = '-----END VPR SIGNATURE-----';

export interface SignaturePayload {
  /** The ECDSA signature over the unsigned commit bytes, DER (ASN.1 SEQUENCE of r and s). */
  readonly signature: Buffer;
  /** The signer's public key, SubjectPublicKeyInfo DER. */
  readonly publicKey: Buffer;
  /** The signer's certificate and the rest of its chain, DER, leaf first; may be empty. */
  readonly certificates: readonly Buffer[];
}

/** The header's value: the armoured block. */
export function renderPayload(payload: SignaturePayload): string {
  return [
    BEGIN,
    `Version: ${SIGNATURE_VERSION}`,
    `Algorithm: ${SIGNATURE_ALGORITHM}`,
    `Signature: ${payload.signature.toString('base64')}`,
    `Public-Key: ${payload.publicKey.toString('base64')}`,
    ...payload.certificates.map((c) => `Certificate: ${c.toString('base64')}`),
    END,
  ].join('\n');
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The payload of a header value; a malformed one is a reason, not an exception. */
export function parsePayload(text: string): SignaturePayload | { readonly malformed: string } {
  const lines = text.split('\n');
  if (lines[0] !== BEGIN || lines.at(-1) !== END) return { malformed: 'the signature block is not armoured' };
  const fields: [string, string][] = [];
  for (const line of lines.slice(1, -1)) {
    const colon = line.indexOf(': ');
    if (colon < 1) return { malformed: 'a signature line is not "Name: value"' };
    fields.push([line.slice(0, colon), line.slice(colon + 2)]);
  }
  const one = (name: string) => {
    const found = fields.filter(([n]) => n === name);
    return found.length === 1 ? found[0]![1] : undefined;
  };
  if (one('Version') !== SIGNATURE_VERSION) return { malformed: 'the signature version is not 1' };
  if (one('Algorithm') !== SIGNATURE_ALGORITHM)
    return { malformed: `the algorithm is not ${SIGNATURE_ALGORITHM}` };
  const known = new Set(['Version', 'Algorithm', 'Signature', 'Public-Key', 'Certificate']);
  if (fields.some(([n]) => !known.has(n))) return { malformed: 'the signature block has an unknown line' };
  const signature = one('Signature');
  const publicKey = one('Public-Key');
  const certificates = fields.filter(([n]) => n === 'Certificate').map(([, v]) => v);
  if (signature === undefined || publicKey === undefined)
    return { malformed: 'the signature or public key is missing' };
  if (![signature, publicKey, ...certificates].every((v) => BASE64.test(v))) {
    return { malformed: 'a signature value is not base64' };
  }
  return {
    signature: Buffer.from(signature, 'base64'),
    publicKey: Buffer.from(publicKey, 'base64'),
    certificates: certificates.map((c) => Buffer.from(c, 'base64')),
  };
}

/** The end of a commit's header block (the index of the blank line's newline), or the length. */
function headerEnd(commit: Buffer): number {
  const at = commit.indexOf('\n\n');
  return at < 0 ? commit.length : at;
}

/** A commit's bytes split into what was signed and the signature header's value (if any). */
export function splitSignature(commit: Buffer): { unsigned: Buffer; payloadText?: string } {
  const end = headerEnd(commit);
  // latin1 maps each byte to one character and back, so the bytes kept are exactly the bytes read.
  const kept: string[] = [];
  const taken: string[] = [];
  let inSignature = false;
  for (const line of commit.subarray(0, end).toString('latin1').split('\n')) {
    const continuation = line.startsWith(' ');
    if (!continuation) inSignature = line.startsWith(`${SIGNATURE_HEADER} `);
    if (inSignature) taken.push(line.slice(continuation ? 1 : SIGNATURE_HEADER.length + 1));
    else kept.push(line);
  }
  if (taken.length === 0) return { unsigned: commit };
  return {
    unsigned: Buffer.concat([Buffer.from(kept.join('\n'), 'latin1'), commit.subarray(end)]),
    payloadText: Buffer.from(taken.join('\n'), 'latin1').toString('utf8'),
  };
}

/** The unsigned commit with the signature header added after its last header line. */
export function withSignature(unsigned: Buffer, payload: SignaturePayload): Buffer {
  if (splitSignature(unsigned).payloadText !== undefined) {
    throw new VprError('INVALID_STATE', 'this commit is signed already');
  }
  const end = headerEnd(unsigned);
  const header = Buffer.from(
    `\n${SIGNATURE_HEADER} ${renderPayload(payload).split('\n').join('\n ')}`,
    'utf8',
  );
  return Buffer.concat([unsigned.subarray(0, end), header, unsigned.subarray(end)]);
}

/** A P-256 private key from PEM (PKCS#8 or SEC1); anything else is INVALID_INPUT. */
export function signingKeyOf(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw invalidInput('signing_key', 'is not a PEM private key');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw invalidInput('signing_key', 'must be an ECDSA P-256 key');
  }
  return key;
}

/** The DER signature of `bytes` with `key` (SHA-256, ECDSA). */
export function signBytes(bytes: Buffer, key: KeyObject): Buffer {
  return sign('sha256', bytes, { key, dsaEncoding: 'der' });
}

/**
 * A signer for many commits: the key and certificates are parsed once (parsing costs about
 * twenty times the signature itself), then each call signs one commit's unsigned bytes.
 */
export function payloadSigner(
  keyPem: string,
  certificatePems: readonly string[] = [],
): (unsigned: Buffer) => SignaturePayload {
  const key = signingKeyOf(keyPem);
  const publicKey = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const certificates = certificatePems.map((pem) => {
    try {
      return new X509Certificate(pem).raw;
    } catch {
      throw invalidInput('certificate', 'is not a PEM X.509 certificate');
    }
  });
  return (unsigned) => ({ signature: signBytes(unsigned, key), publicKey, certificates });
}

/** The `vpr-signature` header maker for commits being made (CommitRequest.sign), parsed once. */
export function commitSigner(
  keyPem: string,
  certificatePems: readonly string[] = [],
): (unsigned: Buffer) => { key: string; value: string } {
  const payload = payloadSigner(keyPem, certificatePems);
  return (unsigned) => ({ key: SIGNATURE_HEADER, value: renderPayload(payload(unsigned)) });
}

/** The `vpr-signature` header for `unsigned`, for one commit being made (CommitRequest.sign). */
export function signatureHeader(
  unsigned: Buffer,
  keyPem: string,
  certificatePems: readonly string[] = [],
): { key: string; value: string } {
  return commitSigner(keyPem, certificatePems)(unsigned);
}

/** Signs an unsigned commit's bytes locally: the key never leaves the caller. */
export function signCommit(
  unsigned: Buffer,
  keyPem: string,
  certificatePems: readonly string[] = [],
): Buffer {
  return withSignature(unsigned, payloadSigner(keyPem, certificatePems)(unsigned));
}
