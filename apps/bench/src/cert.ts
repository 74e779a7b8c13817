// Self-signed Ed25519 X.509 certificates for the mutual-TLS baseline. Node can
// sign but not build certificates, and shelling out to openssl would make the
// bench depend on a binary; a certificate is a few DER structures.
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

/** A PEM key and certificate pair, plus the certificate's SHA-256 fingerprint for pinning. */
export interface TlsCredentials {
  key: string;
  cert: string;
  fingerprint256: string;
}

const ED25519_OID = '1.3.101.112';
const COMMON_NAME_OID = '2.5.4.3';
const BASIC_CONSTRAINTS_OID = '2.5.29.19';

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.of(0x80 | bytes.length, ...bytes);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.of(tag), length(body.length), body]);
}

const sequence = (...parts: Buffer[]): Buffer => tlv(0x30, ...parts);
const set = (...parts: Buffer[]): Buffer => tlv(0x31, ...parts);
const explicit = (n: number, ...parts: Buffer[]): Buffer => tlv(0xa0 | n, ...parts);

function integer(bytes: Buffer): Buffer {
  // DER integers are signed: a leading 1 bit needs a zero byte in front.
  return tlv(0x02, (bytes[0] as number) & 0x80 ? Buffer.concat([Buffer.of(0), bytes]) : bytes);
}

function oid(text: string): Buffer {
  const [a, b, ...rest] = text.split('.').map(Number) as [number, number, ...number[]];
  const out = [a * 40 + b];
  for (const part of rest) {
    const groups: number[] = [];
    for (let v = part; ; v = Math.floor(v / 128)) {
      groups.unshift(v & 0x7f);
      if (v < 128) break;
    }
    for (let i = 0; i < groups.length - 1; i++) groups[i] = (groups[i] as number) | 0x80;
    out.push(...groups);
  }
  return tlv(0x06, Buffer.from(out));
}

function utcTime(date: Date): Buffer {
  const p = (n: number): string => String(n).padStart(2, '0');
  const text =
    p(date.getUTCFullYear() % 100) +
    p(date.getUTCMonth() + 1) +
    p(date.getUTCDate()) +
    p(date.getUTCHours()) +
    p(date.getUTCMinutes()) +
    p(date.getUTCSeconds()) +
    'Z';
  return tlv(0x17, Buffer.from(text, 'ascii'));
}

function name(commonName: string): Buffer {
  return sequence(set(sequence(oid(COMMON_NAME_OID), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** A fresh Ed25519 key and a self-signed certificate for it, valid from yesterday for a year. */
export function selfSignedEd25519(commonName: string): TlsCredentials {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const algorithm = sequence(oid(ED25519_OID));
  const now = Date.now();
  const tbs = sequence(
    explicit(0, integer(Buffer.of(2))), // v3
    integer(Buffer.from(createHash('sha256').update(String(now) + commonName).digest().subarray(0, 16))),
    algorithm,
    name(commonName),
    sequence(utcTime(new Date(now - 86_400_000)), utcTime(new Date(now + 365 * 86_400_000))),
    name(commonName),
    publicKey.export({ type: 'spki', format: 'der' }),
    // basicConstraints cA=TRUE: the self-signed certificate is its own trust anchor (pinning).
    explicit(3, sequence(sequence(oid(BASIC_CONSTRAINTS_OID), tlv(0x01, Buffer.of(0xff)), tlv(0x04, sequence(tlv(0x01, Buffer.of(0xff))))))),
  );
  const signature = sign(null, tbs, privateKey as KeyObject);
  const der = sequence(tbs, algorithm, tlv(0x03, Buffer.of(0), signature));
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    cert: pem('CERTIFICATE', der),
    fingerprint256: createHash('sha256').update(der).digest('hex'),
  };
}
