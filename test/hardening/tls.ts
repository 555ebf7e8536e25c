/**
 * A test CA and a server certificate for 127.0.0.1, made with node:crypto alone (CI has no
 * `openssl` guarantee): the X.509 structures are DER-encoded by hand and signed with ES256.
 */
import { X509Certificate, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

function der(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const len = body.length;
  const header =
    len < 0x80 ? Buffer.from([tag, len]) : len < 0x100 ? Buffer.from([tag, 0x81, len]) : Buffer.from([tag, 0x82, len >> 8, len & 0xff]);
  return Buffer.concat([header, body]);
}
const seq = (...parts: Buffer[]) => der(0x30, ...parts);
const set = (...parts: Buffer[]) => der(0x31, ...parts);
/**
 * A non-negative DER INTEGER, minimally encoded: leading zero bytes dropped (a random serial may
 * begin with 0x00, which OpenSSL 3 on Node 24 refuses as "illegal padding"), one 0x00 put back
 * when the high bit is set.
 */
function int(value: Buffer): Buffer {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  const bytes = value.subarray(start);
  return der(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}
const bool = (value: boolean) => der(0x01, Buffer.from([value ? 0xff : 0]));
const octets = (value: Buffer) => der(0x04, value);
const bits = (value: Buffer, unused = 0) => der(0x03, Buffer.from([unused]), value);
const utf8 = (text: string) => der(0x0c, Buffer.from(text, 'utf8'));
const explicit = (n: number, inner: Buffer) => der(0xa0 + n, inner);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const bytes = [a! * 40 + b!];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}

function utcTime(date: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const text = `${p(date.getUTCFullYear() % 100)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}Z`;
  return der(0x17, Buffer.from(text));
}

const name = (cn: string) => seq(set(seq(oid('2.5.4.3'), utf8(cn))));
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const extension = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

interface CertInput {
  subject: string;
  issuer: string;
  publicKey: KeyObject;
  signingKey: KeyObject;
  ca: boolean;
}

function certificate(input: CertInput): string {
  const now = Date.now();
  const extensions = input.ca
    ? [extension('2.5.29.19', true, seq(bool(true))), extension('2.5.29.15', true, bits(Buffer.from([0x06]), 1))]
    : [
        extension('2.5.29.19', true, seq()),
        extension('2.5.29.15', true, bits(Buffer.from([0x80]), 7)),
        extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))),
        // subjectAltName: IP 127.0.0.1, DNS localhost and idp.test (reached through the test proxy).
        extension('2.5.29.17', false, seq(der(0x87, Buffer.from([127, 0, 0, 1])), der(0x82, Buffer.from('localhost')), der(0x82, Buffer.from('idp.test')))),
      ];
  const tbs = seq(
    explicit(0, int(Buffer.from([2]))),
    int(randomBytes(8)),
    ECDSA_SHA256,
    name(input.issuer),
    seq(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 24 * 3600_000))),
    name(input.subject),
    input.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, input.signingKey);
  const cert = seq(tbs, ECDSA_SHA256, bits(signature));
  return `-----BEGIN CERTIFICATE-----\n${cert.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
}

export interface TestPki {
  /** The CA certificate, PEM: what `--ca-file` / `NODE_EXTRA_CA_CERTS` get. */
  caPem: string;
  /** Server certificate for 127.0.0.1 signed by the CA, and its key (PEM). */
  certPem: string;
  keyPem: string;
  /** A self-signed certificate for 127.0.0.1 that no one trusts, and its key. */
  selfSignedPem: string;
  selfSignedKeyPem: string;
}

export function makePki(): TestPki {
  const ec = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ca = ec();
  const server = ec();
  const rogue = ec();
  const caPem = certificate({ subject: 'authbridge test CA', issuer: 'authbridge test CA', publicKey: ca.publicKey, signingKey: ca.privateKey, ca: true });
  const certPem = certificate({ subject: '127.0.0.1', issuer: 'authbridge test CA', publicKey: server.publicKey, signingKey: ca.privateKey, ca: false });
  const selfSignedPem = certificate({ subject: '127.0.0.1', issuer: '127.0.0.1', publicKey: rogue.publicKey, signingKey: rogue.privateKey, ca: false });
  // Sanity: the chain is what the tests think it is.
  if (!new X509Certificate(certPem).checkIssued(new X509Certificate(caPem))) throw new Error('test PKI: the server certificate is not issued by the CA');
  const pem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }) as string;
  return { caPem, certPem, keyPem: pem(server.privateKey), selfSignedPem, selfSignedKeyPem: pem(rogue.privateKey) };
}
