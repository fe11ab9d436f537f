// X.509 certificates for commit signing (ECDSA P-256): a certificate authority for a test
// deployment, and a professional's certificate that names their registration — the name as the
// subject's CN, the registration authority (GMC, NMC, …) as O and its number as serialNumber,
// and the URI `vpr://<authority>/<number>` as a subject alternative name — self-signed or signed
// by a CA. Keys are generated here and handed back as PEM; nothing is stored.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { invalidInput } from '../errors.js';

x509.cryptoProvider.set(webcrypto as never);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 3600_000;
const AUTHORITY = /^[A-Z][A-Z0-9]{1,15}$/;
const NUMBER = /^[A-Za-z0-9-]{1,32}$/;
// eslint-disable-next-line no-control-regex -- control characters are what is refused
const NAME = /^[^\x00-\x1f\x7f,=+<>#;"\\]{1,200}$/;

export interface KeyAndCertificate {
  /** PKCS#8 PEM: the holder's secret, never sent to the service. */
  readonly privateKeyPem: string;
  readonly certificatePem: string;
}

export interface Registration {
  readonly name: string;
  /** The registering body, such as GMC or NMC. */
  readonly authority: string;
  readonly number: string;
}

export interface Validity {
  readonly notBefore?: Date;
  /** Days from notBefore (default 365). */
  readonly days?: number;
}

/** The URI a professional's certificate carries for its registration. */
export const registrationUri = (authority: string, number: string): string => `vpr://${authority}/${number}`;

async function exported(
  keys: webcrypto.CryptoKeyPair,
  certificate: x509.X509Certificate,
): Promise<KeyAndCertificate> {
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const body = pkcs8.toString('base64').replace(/(.{64})/g, '$1\n');
  return {
    privateKeyPem: `-----BEGIN PRIVATE KEY-----\n${body}${body.endsWith('\n') ? '' : '\n'}-----END PRIVATE KEY-----\n`,
    certificatePem: `${certificate.toString('pem')}\n`,
  };
}

const generate = () =>
  webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;

function window(validity: Validity): { notBefore: Date; notAfter: Date } {
  const notBefore = validity.notBefore ?? new Date(Date.now() - 60_000);
  const days = validity.days ?? 365;
  if (!Number.isInteger(days) || days < 1 || days > 36_500) throw invalidInput('days', 'must be 1 to 36500');
  return { notBefore, notAfter: new Date(notBefore.getTime() + days * DAY_MS) };
}

const serial = () =>
  Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
    .toString('hex')
    .replace(/^[89a-f]/, '1');

/** A certificate authority (self-signed, may sign professionals' certificates). */
export async function createCertificateAuthority(
  name: string,
  validity: Validity = {},
): Promise<KeyAndCertificate> {
  if (!NAME.test(name)) throw invalidInput('name', 'must be one line of plain text');
  const keys = await generate();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    ...window({ days: 3650, ...validity }),
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return exported(keys, certificate);
}

async function importPrivateKey(pem: string): Promise<webcrypto.CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return await webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign']);
}

/** A professional's signing key and certificate, self-signed or signed by `issuer`. */
export async function createProfessionalCertificate(
  who: Registration,
  options: Validity & { readonly issuer?: KeyAndCertificate } = {},
): Promise<KeyAndCertificate> {
  if (!NAME.test(who.name)) throw invalidInput('name', 'must be one line of plain text');
  if (!AUTHORITY.test(who.authority))
    throw invalidInput('authority', 'must be capitals and digits, such as GMC');
  if (!NUMBER.test(who.number)) throw invalidInput('number', 'must be 1 to 32 letters, digits or hyphens');
  const keys = await generate();
  const subject = `CN=${who.name}, O=${who.authority}, 2.5.4.5=${who.number}`;
  const extensions = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation,
      true,
    ),
    new x509.SubjectAlternativeNameExtension([
      { type: 'url', value: registrationUri(who.authority, who.number) },
    ]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  const base = { serialNumber: serial(), ...window(options), signingAlgorithm: ALGORITHM, extensions };
  const certificate =
    options.issuer === undefined
      ? await x509.X509CertificateGenerator.createSelfSigned({ ...base, name: subject, keys })
      : await x509.X509CertificateGenerator.create({
          ...base,
          subject,
          issuer: new x509.X509Certificate(options.issuer.certificatePem).subject,
          publicKey: keys.publicKey,
          signingKey: await importPrivateKey(options.issuer.privateKeyPem),
        });
  return exported(keys, certificate);
}
