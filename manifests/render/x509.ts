// Minimal X.509 v3 certificate writer for the chart's genCA and genSignedCert functions.
// Certificates have the shape Sprig gives them: RSA 2048 keys (PKCS#1 PEM), subject CN only,
// SHA-256 with RSA, key usage digitalSignature + keyEncipherment (+ keyCertSign for a CA),
// extended key usage serverAuth + clientAuth, basic constraints, DNS and IP subject alternative names.

import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { ipBytes } from '../../sdk/ip.ts';

export interface KeyPair {
  cert: string;
  key: string;
  keyObject: KeyObject;
  publicDer: Buffer;
}

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
}

const seq = (...c: Buffer[]): Buffer => tlv(0x30, ...c);

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [40 * (parts[0] as number) + (parts[1] as number)];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** A positive INTEGER; callers pass the minimal encoding (first byte 0x01-0x7f). */
function uint(bytes: Buffer): Buffer {
  return tlv(0x02, bytes);
}

/** A random positive 128-bit serial number in minimal encoding. */
function serial(): Buffer {
  const b = randomBytes(16);
  b[0] = ((b[0] as number) & 0x7f) | 0x01;
  return b;
}

function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDhhmmss
  const year = d.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, 'ascii'));
  return tlv(0x18, Buffer.from(`${iso}Z`, 'ascii'));
}

function name(cn: string): Buffer {
  return seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn, 'utf8')))));
}

function bitString(bits: Buffer, unused = 0): Buffer {
  return tlv(0x03, Buffer.from([unused]), bits);
}

function ext(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), tlv(0x04, value));
}

function addressBytes(ip: string): Buffer {
  const bytes = ipBytes(ip);
  if (bytes === undefined) throw new Error(`invalid IP address "${ip}"`);
  return Buffer.from(bytes);
}

const SHA256_RSA = seq(oid('1.2.840.113549.1.1.11'), tlv(0x05));

function pem(type: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${type}-----\n${b64}\n-----END ${type}-----\n`;
}

export interface CertOptions {
  cn: string;
  days: number;
  ips?: string[];
  dnsNames?: string[];
  isCA: boolean;
  issuer?: { cn: string; keyObject: KeyObject; publicDer: Buffer };
  now?: Date;
}

function keyId(spki: Buffer): Buffer {
  // SHA-1 of the subjectPublicKey BIT STRING contents (RFC 5280 4.2.1.2, method 1); the RSA
  // SubjectPublicKeyInfo starts with a fixed 24-byte header before those contents for 2048-bit keys.
  return createHash('sha1').update(spki.subarray(24)).digest();
}

export function createCertificate(o: CertOptions): KeyPair {
  if (!Number.isInteger(o.days) || o.days <= 0) throw new Error(`daysValid must be a positive integer, got ${o.days}`);
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const now = o.now ?? new Date();
  const notAfter = new Date(now.getTime() + o.days * 24 * 3600 * 1000);
  const keyUsage = o.isCA ? bitString(Buffer.from([0xa4]), 2) : bitString(Buffer.from([0xa0]), 5);
  const sans = [
    ...(o.dnsNames ?? []).map((d) => tlv(0x82, Buffer.from(d, 'ascii'))),
    ...(o.ips ?? []).map((ip) => tlv(0x87, addressBytes(ip))),
  ];
  const extensions = [
    ext('2.5.29.15', true, keyUsage),
    ext('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2'))),
    ext('2.5.29.19', true, o.isCA ? seq(tlv(0x01, Buffer.from([0xff]))) : seq()),
    ...(o.isCA ? [ext('2.5.29.14', false, tlv(0x04, keyId(spki)))] : []),
    ...(o.issuer ? [ext('2.5.29.35', false, seq(tlv(0x80, keyId(o.issuer.publicDer))))] : []),
    ...(sans.length > 0 ? [ext('2.5.29.17', false, seq(...sans))] : []),
  ];
  const tbs = seq(
    tlv(0xa0, uint(Buffer.from([2]))),
    uint(serial()),
    SHA256_RSA,
    name(o.issuer?.cn ?? o.cn),
    seq(time(now), time(notAfter)),
    name(o.cn),
    spki,
    tlv(0xa3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, o.issuer?.keyObject ?? privateKey);
  const der = seq(tbs, SHA256_RSA, bitString(signature));
  return {
    cert: pem('CERTIFICATE', der),
    key: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    keyObject: privateKey,
    publicDer: spki,
  };
}
