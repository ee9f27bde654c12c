import * as crypto from "crypto";
import * as fs from "fs";
import {
  BOOTSTRAP_TOKEN_PATTERN,
  caCertHash,
  certificateExpiry,
  ClusterPki,
  createAdminCertificate,
  createCertificateAuthority,
  generateBootstrapToken,
  generateClusterPki,
  isSignedBy,
  keyAlgorithmOf,
  keyMatchesCertificate,
  PkiOptions,
} from "../src/bootstrap/pki";
import { openssl, opensslCaPin, opensslResult, tempDir, writeTemp, x509Text } from "./support/openssl";

const HOUR = 3600 * 1000;
const defaults = (keyAlgorithm: PkiOptions["keyAlgorithm"]): PkiOptions => ({ keyAlgorithm, caValidityHours: 87600, certificateValidityHours: 8760 });
const tmp = tempDir("pki-test-");
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe.each(["ECDSA-P256", "RSA-2048"] as const)("generated PKI (%s), checked by openssl", (algorithm) => {
  let pki: ClusterPki;
  const now = new Date();
  beforeAll(() => {
    pki = generateClusterPki(defaults(algorithm), now);
  });

  test.each([
    ["ca", "kubernetes"],
    ["frontProxyCa", "front-proxy-ca"],
    ["etcdCa", "etcd-ca"],
  ] as const)("%s is a self-signed CA with kubeadm's subject, flags and usages", (name, cn) => {
    const { certPem } = pki[name];
    const text = x509Text(certPem);
    expect(text).toMatch(new RegExp(`Subject: CN ?= ?${cn}\\n`));
    expect(text).toMatch(new RegExp(`Issuer: CN ?= ?${cn}\\n`));
    expect(text).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:TRUE\n/);
    expect(text).toMatch(/X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment, Certificate Sign\n/);
    expect(text).toMatch(/X509v3 Subject Key Identifier/);
    expect(text).toMatch(/Version: 3 \(0x2\)/);
    const caFile = writeTemp(tmp, `${algorithm}-${name}.crt`, certPem);
    expect(openssl(["verify", "-CAfile", caFile, caFile])).toContain(": OK");
    expect(keyMatchesCertificate(certPem, pki[name].keyPem)).toBe(true);
    expect(keyAlgorithmOf(pki[name].keyPem)).toBe(algorithm);
  });

  test("CA keys are in kubeadm's PEM encodings and openssl accepts them", () => {
    const label = algorithm === "ECDSA-P256" ? "EC PRIVATE KEY" : "RSA PRIVATE KEY";
    expect(pki.ca.keyPem.startsWith(`-----BEGIN ${label}-----`)).toBe(true);
    const keyFile = writeTemp(tmp, `${algorithm}-ca.key`, pki.ca.keyPem);
    expect(opensslResult(["pkey", "-in", keyFile, "-check", "-noout"]).output).toMatch(/valid/i);
  });

  test("CA validity is 10 years from a backdated notBefore", () => {
    const cert = new crypto.X509Certificate(pki.ca.certPem);
    const from = new Date(cert.validFrom).getTime();
    const to = new Date(cert.validTo).getTime();
    expect(from).toBeLessThan(now.getTime());
    expect(now.getTime() - from).toBeLessThanOrEqual(10 * 60 * 1000);
    expect(Math.abs(to - now.getTime() - 87600 * HOUR)).toBeLessThan(2000);
    expect(certificateExpiry(pki.ca.certPem).getTime()).toBe(to);
  });

  test("admin client certificate: CN/O, clientAuth, signed by the cluster CA, 1 year", () => {
    const text = x509Text(pki.admin.certPem);
    expect(text).toMatch(/Subject: O ?= ?kubeadm:cluster-admins, CN ?= ?kubernetes-admin\n/);
    expect(text).toMatch(/Issuer: CN ?= ?kubernetes\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage: \n?\s*TLS Web Client Authentication\n/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/);
    expect(text).toMatch(algorithm === "RSA-2048" ? /Key Usage: critical\n\s+Digital Signature, Key Encipherment\n/ : /Key Usage: critical\n\s+Digital Signature\n/);
    const ca = writeTemp(tmp, `${algorithm}-chain-ca.crt`, pki.ca.certPem);
    const admin = writeTemp(tmp, `${algorithm}-admin.crt`, pki.admin.certPem);
    expect(openssl(["verify", "-CAfile", ca, "-purpose", "sslclient", admin])).toContain(": OK");
    // ...and not by another CA with the same name.
    const other = writeTemp(tmp, `${algorithm}-other-ca.crt`, pki.frontProxyCa.certPem);
    expect(opensslResult(["verify", "-CAfile", other, admin]).status).not.toBe(0);
    const akid = /Authority Key Identifier: \n?\s*(?:keyid:)?([0-9A-F:]+)/.exec(text)![1];
    const skid = /Subject Key Identifier: \n?\s*([0-9A-F:]+)/.exec(x509Text(pki.ca.certPem))![1];
    expect(akid).toBe(skid);
    const days = (certificateExpiry(pki.admin.certPem).getTime() - now.getTime()) / (24 * HOUR);
    expect(Math.round(days)).toBe(365);
  });

  test("service-account key pair: RSA 2048 PKCS#1 private, PKIX public, a matching pair", () => {
    expect(pki.serviceAccount.privateKeyPem.startsWith("-----BEGIN RSA PRIVATE KEY-----")).toBe(true);
    expect(pki.serviceAccount.publicKeyPem.startsWith("-----BEGIN PUBLIC KEY-----")).toBe(true);
    const key = writeTemp(tmp, `${algorithm}-sa.key`, pki.serviceAccount.privateKeyPem);
    expect(openssl(["rsa", "-in", key, "-noout", "-check"])).toMatch(/RSA key ok/);
    expect(openssl(["rsa", "-in", key, "-noout", "-text"])).toMatch(/Private-Key: \(2048 bit/);
    expect(openssl(["rsa", "-in", key, "-pubout"]).trim()).toBe(pki.serviceAccount.publicKeyPem.trim());
  });

  test("discovery pin equals openssl's computation over the SubjectPublicKeyInfo", () => {
    expect(caCertHash(pki.ca.certPem)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(caCertHash(pki.ca.certPem)).toBe(opensslCaPin(pki.ca.certPem));
    expect(caCertHash(pki.etcdCa.certPem)).not.toBe(caCertHash(pki.ca.certPem));
  });
});

describe("serial numbers", () => {
  test("are positive DER integers (Go rejects negative serials) and unique, over many certificates", () => {
    const options = defaults("ECDSA-P256");
    const ca = createCertificateAuthority("kubernetes", options);
    const serials = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const cert = createAdminCertificate(ca, options).certPem;
      const parsed = openssl(["asn1parse", "-i"], cert);
      // The first INTEGER after the version is the serial; openssl prints negatives with a leading '-'.
      const serial = /INTEGER\s+:(-?[0-9A-F]+)\n(?:.*\n)*?.*INTEGER\s+:(-?[0-9A-F]+)/.exec(parsed)!;
      expect(serial[1]).toBe("02");
      expect(serial[2].startsWith("-")).toBe(false);
      expect(parseInt(serial[2][0], 16)).toBeLessThan(8);
      serials.add(new crypto.X509Certificate(cert).serialNumber);
    }
    expect(serials.size).toBe(40);
  });
});

describe("validity periods", () => {
  test("are configurable, and dates from 2050 use GeneralizedTime that openssl reads", () => {
    const ca = createCertificateAuthority("kubernetes", { keyAlgorithm: "ECDSA-P256", caValidityHours: 30 * 8766, certificateValidityHours: 48 });
    const admin = createAdminCertificate(ca, { keyAlgorithm: "ECDSA-P256", caValidityHours: 30 * 8766, certificateValidityHours: 48 });
    const end = openssl(["x509", "-noout", "-enddate"], ca.certPem);
    expect(Number(/(\d{4}) GMT/.exec(end)![1])).toBeGreaterThanOrEqual(2050);
    expect(openssl(["asn1parse"], ca.certPem)).toMatch(/GENERALIZEDTIME/);
    const hours = (certificateExpiry(admin.certPem).getTime() - Date.now()) / HOUR;
    expect(hours).toBeGreaterThan(47.9);
    expect(hours).toBeLessThan(48.1);
  });
});

describe("helpers", () => {
  const options = defaults("ECDSA-P256");
  const a = createCertificateAuthority("kubernetes", options);
  const b = createCertificateAuthority("kubernetes", options);

  test("keyMatchesCertificate rejects another key and garbage", () => {
    expect(keyMatchesCertificate(a.certPem, a.keyPem)).toBe(true);
    expect(keyMatchesCertificate(a.certPem, b.keyPem)).toBe(false);
    expect(keyMatchesCertificate(a.certPem, "not a key")).toBe(false);
  });

  test("isSignedBy tells a same-named CA apart", () => {
    const admin = createAdminCertificate(a, options);
    expect(isSignedBy(admin.certPem, a.certPem)).toBe(true);
    expect(isSignedBy(admin.certPem, b.certPem)).toBe(false);
  });

  test("bootstrap tokens match kubeadm's format and are random", () => {
    const tokens = Array.from({ length: 50 }, generateBootstrapToken);
    for (const t of tokens) expect(t).toMatch(BOOTSTRAP_TOKEN_PATTERN);
    expect(new Set(tokens).size).toBe(50);
    expect(BOOTSTRAP_TOKEN_PATTERN.test("ABCDEF.0123456789abcdef")).toBe(false);
  });

  test("certificates signed by an openssl-made CA chain correctly", () => {
    const key = writeTemp(tmp, "ext-ca.key", "");
    const crt = `${key}.crt`;
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt, "-days", "365", "-subj", "/O=Example Corp/CN=corp-kubernetes-ca", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,digitalSignature"]);
    const external = { certPem: fs.readFileSync(crt, "utf8"), keyPem: fs.readFileSync(key, "utf8") };
    const admin = createAdminCertificate(external, options);
    expect(x509Text(admin.certPem)).toMatch(/Issuer: O ?= ?Example Corp, CN ?= ?corp-kubernetes-ca\n/);
    expect(openssl(["verify", "-CAfile", crt, writeTemp(tmp, "ext-admin.crt", admin.certPem)])).toContain(": OK");
  });
});
