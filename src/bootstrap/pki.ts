/**
 * kubeadm's shared PKI: the three CAs, the service-account key pair and the admin client
 * certificate, in the shapes kubeadm accepts as "existing" (cmd/kubeadm/app/phases/certs).
 *
 * Keys come from Node's crypto (native, ~100x faster than pure-JS RSA generation); node-forge's
 * ASN.1 builds the certificates, which crypto then signs. Leaves whose SANs only the node knows
 * (apiserver, etcd server/peer, kubelet) are left to kubeadm on the node.
 */
import * as crypto from "crypto";
import * as forge from "node-forge";
import type { KeyAlgorithm } from "./spec";

export interface PkiOptions {
  readonly keyAlgorithm: KeyAlgorithm;
  readonly caValidityHours: number;
  readonly certificateValidityHours: number;
}

/** A certificate and its private key, PEM. */
export interface CertificateAndKey {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface ServiceAccountKeyPair {
  /** RSA 2048, PKCS#1 ("RSA PRIVATE KEY"), as kubeadm writes sa.key. */
  readonly privateKeyPem: string;
  /** PKIX ("PUBLIC KEY"), as kubeadm writes sa.pub. */
  readonly publicKeyPem: string;
}

export interface ClusterPki {
  /** CN kubernetes. */
  readonly ca: CertificateAndKey;
  /** CN front-proxy-ca. */
  readonly frontProxyCa: CertificateAndKey;
  /** CN etcd-ca. */
  readonly etcdCa: CertificateAndKey;
  readonly serviceAccount: ServiceAccountKeyPair;
  /** CN kubernetes-admin, O kubeadm:cluster-admins, signed by `ca`. */
  readonly admin: CertificateAndKey;
  /** `[a-z0-9]{6}.[a-z0-9]{16}` */
  readonly bootstrapToken: string;
}

export interface DistinguishedName {
  readonly commonName: string;
  readonly organization?: string;
}

export const CA_NAMES = {
  ca: "kubernetes",
  frontProxyCa: "front-proxy-ca",
  etcdCa: "etcd-ca",
} as const;

export const ADMIN_SUBJECT: DistinguishedName = { commonName: "kubernetes-admin", organization: "kubeadm:cluster-admins" };

export const BOOTSTRAP_TOKEN_PATTERN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;

/** Certificates start this long before "now", so nodes with a slightly slow clock accept them. */
const BACKDATE_MS = 5 * 60 * 1000;
const HOUR_MS = 3600 * 1000;

const OID = {
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  sha256WithRsa: "1.2.840.113549.1.1.11",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  clientAuth: "1.3.6.1.5.5.7.3.2",
};

/** RFC 5280 KeyUsage bit positions. */
const KEY_USAGE_BITS = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5 } as const;
type KeyUsage = keyof typeof KEY_USAGE_BITS;

const asn1 = forge.asn1;
type Asn1 = forge.asn1.Asn1;

/** Parse DER without descending into BIT STRINGs (keeps key bits verbatim when re-encoding). */
function parseDer(bytes: Buffer): Asn1 {
  const fromDer = asn1.fromDer as unknown as (b: forge.util.ByteBuffer, o: object) => Asn1;
  return fromDer(forge.util.createBuffer(bytes.toString("binary")), { strict: true, decodeBitStrings: false });
}

// ---------------------------------------------------------------- keys

export interface GeneratedKey {
  readonly privateKey: crypto.KeyObject;
  readonly publicKey: crypto.KeyObject;
  /** kubeadm's encoding: SEC1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY". */
  readonly keyPem: string;
}

export function generateKey(algorithm: KeyAlgorithm): GeneratedKey {
  if (algorithm === "ECDSA-P256") {
    const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    return { privateKey, publicKey, keyPem: privateKey.export({ type: "sec1", format: "pem" }).toString() };
  }
  const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { privateKey, publicKey, keyPem: privateKey.export({ type: "pkcs1", format: "pem" }).toString() };
}

export function generateServiceAccountKey(): ServiceAccountKeyPair {
  // kubeadm's sa.key is always RSA (the API server's token signer does not need the CA algorithm).
  const key = generateKey("RSA-2048");
  return { privateKeyPem: key.keyPem, publicKeyPem: key.publicKey.export({ type: "spki", format: "pem" }).toString() };
}

// ---------------------------------------------------------------- certificates

export interface CertificateRequest {
  readonly subject: DistinguishedName;
  readonly publicKey: crypto.KeyObject;
  readonly validityHours: number;
  readonly isCa: boolean;
  readonly extendedKeyUsage?: "clientAuth";
  /** Omit for a self-signed certificate. */
  readonly issuer?: { readonly certPem: string; readonly privateKey: crypto.KeyObject };
  /** Signing key of a self-signed certificate. */
  readonly selfSignKey?: crypto.KeyObject;
  /** @default now */
  readonly now?: Date;
}

/** Builds, signs and PEM-encodes an X.509 v3 certificate. */
export function createCertificate(req: CertificateRequest): string {
  const now = req.now ?? new Date();
  const notBefore = new Date(Math.floor((now.getTime() - BACKDATE_MS) / 1000) * 1000);
  const notAfter = new Date(Math.floor(now.getTime() / 1000) * 1000 + req.validityHours * HOUR_MS);
  const signingKey = req.issuer?.privateKey ?? req.selfSignKey;
  if (!signingKey) throw new Error("createCertificate: give issuer or selfSignKey");
  const spki = parseDer(der(req.publicKey));
  const subjectName = encodeName(req.subject);
  const issuerName = req.issuer ? rawSubject(req.issuer.certPem) : subjectName;
  const signatureAlgorithm = algorithmIdentifier(signingKey);

  const usages: KeyUsage[] = req.isCa
    ? ["digitalSignature", "keyEncipherment", "keyCertSign"]
    : // kubeadm only adds keyEncipherment to leaves with RSA keys (pkiutil.NewSignedCert).
      req.publicKey.asymmetricKeyType === "rsa"
      ? ["digitalSignature", "keyEncipherment"]
      : ["digitalSignature"];
  const extensions: Asn1[] = [
    extension(OID.keyUsage, true, keyUsageBits(usages)),
    extension(OID.basicConstraints, true, seq(req.isCa ? [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BOOLEAN, false, "\xff")] : [])),
  ];
  if (req.extendedKeyUsage) extensions.push(extension(OID.extKeyUsage, false, seq([oid(OID.clientAuth)])));
  if (req.isCa) extensions.push(extension(OID.subjectKeyIdentifier, false, octets(keyIdentifier(req.publicKey))));
  if (req.issuer) {
    const issuerKeyId = keyIdentifier(new crypto.X509Certificate(req.issuer.certPem).publicKey);
    extensions.push(extension(OID.authorityKeyIdentifier, false, seq([asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, issuerKeyId)])));
  }

  const tbs = seq([
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [integer("\x02")]),
    integer(serialNumber()),
    signatureAlgorithm,
    issuerName,
    seq([time(notBefore), time(notAfter)]),
    subjectName,
    spki,
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 3, true, [seq(extensions)]),
  ]);
  const tbsDer = Buffer.from(asn1.toDer(tbs).getBytes(), "binary");
  // ECDSA signatures come DER-encoded (dsaEncoding default), as X.509 wants them.
  const signature = crypto.sign("sha256", tbsDer, signingKey);
  const certificate = seq([tbs, algorithmIdentifier(signingKey), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, "\x00" + signature.toString("binary"))]);
  return toPem("CERTIFICATE", Buffer.from(asn1.toDer(certificate).getBytes(), "binary"));
}

/** A fresh self-signed CA (kubeadm's certutil.NewSelfSignedCACert shape). */
export function createCertificateAuthority(commonName: string, options: PkiOptions, now?: Date): CertificateAndKey {
  const key = generateKey(options.keyAlgorithm);
  const certPem = createCertificate({ subject: { commonName }, publicKey: key.publicKey, selfSignKey: key.privateKey, isCa: true, validityHours: options.caValidityHours, now });
  return { certPem, keyPem: key.keyPem };
}

/** The admin client certificate kubeadm puts in admin.conf, signed by the cluster CA. */
export function createAdminCertificate(ca: CertificateAndKey, options: PkiOptions, now?: Date): CertificateAndKey {
  const key = generateKey(options.keyAlgorithm);
  const certPem = createCertificate({
    subject: ADMIN_SUBJECT,
    publicKey: key.publicKey,
    issuer: { certPem: ca.certPem, privateKey: crypto.createPrivateKey(ca.keyPem) },
    isCa: false,
    extendedKeyUsage: "clientAuth",
    validityHours: options.certificateValidityHours,
    now,
  });
  return { certPem, keyPem: key.keyPem };
}

export function generateBootstrapToken(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const pick = (n: number) => Array.from({ length: n }, () => alphabet[crypto.randomInt(alphabet.length)]).join("");
  return `${pick(6)}.${pick(16)}`;
}

/** Everything at once (a new store). */
export function generateClusterPki(options: PkiOptions, now?: Date): ClusterPki {
  const ca = createCertificateAuthority(CA_NAMES.ca, options, now);
  return {
    ca,
    frontProxyCa: createCertificateAuthority(CA_NAMES.frontProxyCa, options, now),
    etcdCa: createCertificateAuthority(CA_NAMES.etcdCa, options, now),
    serviceAccount: generateServiceAccountKey(),
    admin: createAdminCertificate(ca, options, now),
    bootstrapToken: generateBootstrapToken(),
  };
}

// ---------------------------------------------------------------- inspection

/** kubeadm's discovery pin: `sha256:` + hex SHA-256 of the CA's DER SubjectPublicKeyInfo. */
export function caCertHash(caCertPem: string): string {
  const spkiDer = new crypto.X509Certificate(caCertPem).publicKey.export({ type: "spki", format: "der" });
  return `sha256:${crypto.createHash("sha256").update(spkiDer).digest("hex")}`;
}

export function certificateExpiry(certPem: string): Date {
  return new Date(new crypto.X509Certificate(certPem).validTo);
}

export function keyMatchesCertificate(certPem: string, keyPem: string): boolean {
  try {
    return new crypto.X509Certificate(certPem).checkPrivateKey(crypto.createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

export function isCertificateAuthority(certPem: string): boolean {
  return new crypto.X509Certificate(certPem).ca;
}

/** The parsed value of a certificate's extension, or undefined when it has none with that OID. */
function extensionValue(certPem: string, extensionOid: string): Asn1 | undefined {
  const cert = parseDer(new crypto.X509Certificate(certPem).raw);
  const tbs = (cert.value as Asn1[])[0].value as Asn1[];
  const extensions = tbs.find((f) => f.tagClass === asn1.Class.CONTEXT_SPECIFIC && f.type === 3);
  if (!extensions) return undefined;
  for (const ext of (extensions.value as Asn1[])[0].value as Asn1[]) {
    const fields = ext.value as Asn1[];
    if (asn1.derToOid(forge.util.createBuffer(fields[0].value as string)) !== extensionOid) continue;
    return parseDer(Buffer.from(fields[fields.length - 1].value as string, "binary"));
  }
  return undefined;
}

/** True when basicConstraints says CA:TRUE (whatever KeyUsage says). */
export function claimsToBeCa(certPem: string): boolean {
  const constraints = extensionValue(certPem, OID.basicConstraints);
  const first = (constraints?.value as Asn1[] | undefined)?.[0];
  return first?.type === asn1.Type.BOOLEAN && first.value !== "\x00";
}

/**
 * True when the certificate may sign certificates: no KeyUsage extension, or one with keyCertSign.
 * Go's x509 (kubeadm, the API server, the kubelet) rejects every leaf of a CA without it, although
 * kubeadm signs them without complaint on its first run.
 */
export function canSignCertificates(certPem: string): boolean {
  const usage = extensionValue(certPem, OID.keyUsage);
  if (!usage) return true;
  const bits = usage.value as string;
  const position = KEY_USAGE_BITS.keyCertSign;
  const byte = 1 + Math.floor(position / 8); // after the unused-bits count
  return bits.length > byte && (bits.charCodeAt(byte) & (0x80 >> position % 8)) !== 0;
}

/** True when `certPem` carries a valid signature by `issuerCertPem`'s key. */
export function isSignedBy(certPem: string, issuerCertPem: string): boolean {
  try {
    const cert = new crypto.X509Certificate(certPem);
    const issuer = new crypto.X509Certificate(issuerCertPem);
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** "ECDSA-P256" | "RSA-2048" | undefined (another key type). */
export function keyAlgorithmOf(keyPem: string): KeyAlgorithm | undefined {
  const key = crypto.createPublicKey(keyPem);
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "ec" && details.namedCurve === "prime256v1") return "ECDSA-P256";
  if (key.asymmetricKeyType === "rsa" && details.modulusLength === 2048) return "RSA-2048";
  return undefined;
}

// ---------------------------------------------------------------- ASN.1 helpers

function der(publicKey: crypto.KeyObject): Buffer {
  return publicKey.export({ type: "spki", format: "der" });
}

function seq(items: Asn1[]): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
}

function oid(value: string): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(value).getBytes());
}

function integer(bytes: string): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, bytes);
}

function octets(bytes: string): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, bytes);
}

function extension(id: string, critical: boolean, value: Asn1): Asn1 {
  const parts = [oid(id)];
  if (critical) parts.push(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BOOLEAN, false, "\xff"));
  parts.push(octets(asn1.toDer(value).getBytes()));
  return seq(parts);
}

/** Positive, 128-bit, minimal DER: top bit clear (Go rejects negative serials), first byte non-zero. */
function serialNumber(): string {
  const bytes = crypto.randomBytes(16);
  bytes[0] = (bytes[0] & 0x7f) | 0x40;
  return bytes.toString("binary");
}

/** RDN sequence in Go's pkix.Name order (O before CN), UTF8String values. */
function encodeName(name: DistinguishedName): Asn1 {
  const rdn = (id: string, value: string) =>
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, [seq([oid(id), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, forge.util.encodeUtf8(value))])]);
  const rdns: Asn1[] = [];
  if (name.organization) rdns.push(rdn(OID.organization, name.organization));
  rdns.push(rdn(OID.commonName, name.commonName));
  return seq(rdns);
}

/** The issuer's subject exactly as encoded in its certificate, so chain matching is byte-exact. */
function rawSubject(certPem: string): Asn1 {
  const cert = parseDer(new crypto.X509Certificate(certPem).raw);
  const tbs = (cert.value as Asn1[])[0].value as Asn1[];
  const offset = tbs[0].tagClass === asn1.Class.CONTEXT_SPECIFIC ? 1 : 0;
  return tbs[offset + 4]; // serial, signature, issuer, validity, subject
}

function algorithmIdentifier(signingKey: crypto.KeyObject): Asn1 {
  return signingKey.asymmetricKeyType === "ec"
    ? seq([oid(OID.ecdsaWithSha256)])
    : seq([oid(OID.sha256WithRsa), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, "")]);
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
function time(date: Date): Asn1 {
  return date.getUTCFullYear() < 2050
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

/** Minimal DER BIT STRING of the given KeyUsage bits (trailing zero bits dropped). */
function keyUsageBits(usages: KeyUsage[]): Asn1 {
  const positions = usages.map((u) => KEY_USAGE_BITS[u]);
  const highest = Math.max(...positions);
  const byteCount = Math.floor(highest / 8) + 1;
  const bytes = new Array<number>(byteCount).fill(0);
  for (const p of positions) bytes[Math.floor(p / 8)] |= 0x80 >> p % 8;
  const unused = byteCount * 8 - (highest + 1);
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, String.fromCharCode(unused, ...bytes));
}

/** SHA-1 of the subjectPublicKey bits: RFC 5280 method (1), as Go computes SubjectKeyId. */
function keyIdentifier(publicKey: crypto.KeyObject): string {
  const spki = parseDer(der(publicKey));
  const bitString = (spki.value as Asn1[])[1].value as string;
  return crypto.createHash("sha1").update(Buffer.from(bitString.slice(1), "binary")).digest("binary");
}

function toPem(label: string, body: Buffer): string {
  const lines = body.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
