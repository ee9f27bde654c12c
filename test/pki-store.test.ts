import * as fs from "fs";
import * as path from "path";
import { caCertHash, certificateExpiry, createAdminCertificate, createCertificateAuthority, isSignedBy, PkiOptions } from "../src/bootstrap/pki";
import { loadOrCreatePkiStore, PkiStoreError, STORE_FILES } from "../src/bootstrap/pki-store";
import { openssl, tempDir, writeTemp } from "./support/openssl";

const options: PkiOptions = { keyAlgorithm: "ECDSA-P256", caValidityHours: 87600, certificateValidityHours: 8760 };
const HOUR = 3600 * 1000;
const root = tempDir("pki-store-test-");
let n = 0;
const freshDir = () => path.join(root, `store-${n++}`);
const mode = (p: string) => fs.statSync(p).mode & 0o777;
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe("a new store", () => {
  const dir = freshDir();
  const first = loadOrCreatePkiStore({ directory: dir, options });

  test("is created with private modes and a .gitignore that ignores everything", () => {
    expect(first.created).toBe(true);
    expect(first.warnings).toEqual([]);
    expect(mode(dir)).toBe(0o700);
    for (const f of ["ca.key", "front-proxy-ca.key", "etcd/ca.key", "sa.key", "admin.key", "bootstrap-token"]) expect(mode(path.join(dir, f))).toBe(0o600);
    for (const f of ["ca.crt", "front-proxy-ca.crt", "etcd/ca.crt", "sa.pub", "admin.crt"]) expect(mode(path.join(dir, f))).toBe(0o644);
    expect(fs.readFileSync(path.join(dir, ".gitignore"), "utf8").split("\n")).toContain("*");
    expect(fs.readdirSync(root).filter((e) => e.includes(".tmp-"))).toEqual([]);
  });

  test("is reused byte for byte by later synths", () => {
    const again = loadOrCreatePkiStore({ directory: dir, options });
    expect(again.created).toBe(false);
    expect(again.warnings).toEqual([]);
    expect(again.pki).toEqual(first.pki);
    expect(caCertHash(again.pki.ca.certPem)).toBe(caCertHash(first.pki.ca.certPem));
  });

  test("keeps its key algorithm when pki.keyAlgorithm changes, with a warning", () => {
    const again = loadOrCreatePkiStore({ directory: dir, options: { ...options, keyAlgorithm: "RSA-2048" } });
    expect(again.pki.ca).toEqual(first.pki.ca);
    expect(again.warnings.join("\n")).toMatch(/holds ECDSA-P256 keys; pki.keyAlgorithm "RSA-2048" only applies to a new store/);
  });

  test("can live in a directory the user created beforehand", () => {
    const own = freshDir();
    fs.mkdirSync(own, { mode: 0o755 });
    const r = loadOrCreatePkiStore({ directory: own, options });
    expect(r.created).toBe(true);
    expect(mode(own)).toBe(0o700);
    expect(fs.existsSync(path.join(own, "etcd/ca.key"))).toBe(true);
  });
});

function copyStore(): string {
  const src = freshDir();
  loadOrCreatePkiStore({ directory: src, options });
  return src;
}

describe("a damaged store is a synth error that names the problem and the fix", () => {
  test("missing files", () => {
    const dir = copyStore();
    fs.rmSync(path.join(dir, "etcd/ca.key"));
    fs.rmSync(path.join(dir, "sa.pub"));
    expect(() => loadOrCreatePkiStore({ directory: dir, options })).toThrow(PkiStoreError);
    expect(() => loadOrCreatePkiStore({ directory: dir, options })).toThrow(/is incomplete: missing etcd\/ca.key, sa.pub\. Fix: restore the missing files/);
  });

  test("a CA key that does not match its certificate", () => {
    const dir = copyStore();
    const other = copyStore();
    fs.copyFileSync(path.join(other, "front-proxy-ca.key"), path.join(dir, "front-proxy-ca.key"));
    expect(() => loadOrCreatePkiStore({ directory: dir, options })).toThrow(/frontProxyCa \(front-proxy-ca.crt\) in PKI store .*: the private key does not match the certificate\. Fix: restore the matching front-proxy-ca.key/);
  });

  test("a leaf certificate where a CA belongs", () => {
    const dir = copyStore();
    fs.copyFileSync(path.join(dir, "admin.crt"), path.join(dir, "etcd/ca.crt"));
    fs.copyFileSync(path.join(dir, "admin.key"), path.join(dir, "etcd/ca.key"));
    expect(() => loadOrCreatePkiStore({ directory: dir, options })).toThrow(/etcdCa \(etcd\/ca.crt\) in PKI store .* is not a CA certificate/);
  });

  test("a corrupted bootstrap token", () => {
    const dir = copyStore();
    fs.writeFileSync(path.join(dir, STORE_FILES.bootstrapToken), "NOT-A-TOKEN\n");
    expect(() => loadOrCreatePkiStore({ directory: dir, options })).toThrow(/bootstrap-token is not a kubeadm bootstrap token/);
  });

  test("CAs that expire within 30 days, or already expired", () => {
    const dir = freshDir();
    // A store made "almost ten years ago": its CAs expire in 10 days.
    const past = new Date(Date.now() - (87600 - 240) * HOUR);
    loadOrCreatePkiStore({ directory: dir, options, now: past });
    expect(() => loadOrCreatePkiStore({ directory: dir, options })).toThrow(/ca \(ca.crt\) in PKI store .* expires on .* \(less than 30 days from now\).*Fix: rotate the CA/);
    expect(() => loadOrCreatePkiStore({ directory: dir, options, now: new Date(Date.now() + 30 * 24 * HOUR) })).toThrow(/ expired on /);
  });

  test("group-readable keys are reported", () => {
    const dir = copyStore();
    fs.chmodSync(path.join(dir, "sa.key"), 0o644);
    const r = loadOrCreatePkiStore({ directory: dir, options });
    expect(r.warnings).toEqual([`PKI store file ${path.join(dir, "sa.key")} is readable by group or others. Fix: chmod 600 ${path.join(dir, "sa.key")}`]);
  });
});

describe("the admin client certificate is renewed, with a warning, when", () => {
  test("it expires within 30 days", () => {
    const dir = freshDir();
    const old = loadOrCreatePkiStore({ directory: dir, options: { ...options, certificateValidityHours: 24 * 20 } });
    const r = loadOrCreatePkiStore({ directory: dir, options });
    expect(r.warnings.join("\n")).toMatch(/Renewed the admin client certificate .*within 30 days/);
    expect(r.pki.admin.certPem).not.toBe(old.pki.admin.certPem);
    expect(r.pki.ca).toEqual(old.pki.ca);
    expect(certificateExpiry(r.pki.admin.certPem).getTime() - Date.now()).toBeGreaterThan(8759 * HOUR);
    expect(fs.readFileSync(path.join(dir, "admin.crt"), "utf8")).toBe(r.pki.admin.certPem);
    expect(mode(path.join(dir, "admin.key"))).toBe(0o600);
    // Renewed once: the next synth is stable again.
    expect(loadOrCreatePkiStore({ directory: dir, options }).warnings).toEqual([]);
  });

  test("it was not issued by the store's CA", () => {
    const dir = copyStore();
    const stranger = createAdminCertificate(createCertificateAuthority("kubernetes", options), options);
    fs.writeFileSync(path.join(dir, "admin.crt"), stranger.certPem);
    fs.writeFileSync(path.join(dir, "admin.key"), stranger.keyPem);
    const r = loadOrCreatePkiStore({ directory: dir, options });
    expect(r.warnings.join("\n")).toMatch(/not signed by the current cluster CA/);
    expect(isSignedBy(r.pki.admin.certPem, r.pki.ca.certPem)).toBe(true);
  });
});

describe("bring your own CA", () => {
  const dir = tempDir("pki-byo-");
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  /** A self-signed P-256 certificate made by openssl with these extensions: [cert path, key path]. */
  function selfSigned(name: string, ...extensions: string[]): [string, string] {
    const key = path.join(dir, `${name}.key`);
    const cert = path.join(dir, `${name}.crt`);
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "3650", "-subj", `/CN=${name}`,
      ...extensions.flatMap((e) => ["-addext", e])]);
    return [cert, key];
  }
  const caKey = path.join(dir, "corp-ca.key");
  const caCert = path.join(dir, "corp-ca.crt");
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", caCert, "-days", "3650", "-subj", "/O=Corp/CN=corp-kubernetes", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,digitalSignature,keyEncipherment"]);

  test("the store uses the files in place, never copies the CA key, and signs the admin certificate with it", () => {
    const store = freshDir();
    const r = loadOrCreatePkiStore({ directory: store, options, existingCa: { caCert, caKey } });
    expect(r.pki.ca.certPem).toBe(fs.readFileSync(caCert, "utf8"));
    expect(fs.existsSync(path.join(store, "ca.key"))).toBe(false);
    expect(fs.existsSync(path.join(store, "etcd/ca.key"))).toBe(true);
    const admin = writeTemp(dir, "admin.crt", r.pki.admin.certPem);
    expect(openssl(["verify", "-CAfile", caCert, "-purpose", "sslclient", admin])).toContain(": OK");
    const again = loadOrCreatePkiStore({ directory: store, options, existingCa: { caCert, caKey } });
    expect(again.pki).toEqual(r.pki);
  });

  test.each([
    [{ caCert, caKey: path.join(dir, "missing.key") }, /existingCa.caKey = .*missing.key: file not found/],
    [{ caCert: caKey, caKey }, /existingCa.caCert = .*: not a PEM certificate/],
    [{ caCert, caKey, etcdCaCert: caCert }, /existingCa.etcdCaKey is missing: give both etcdCaCert and etcdCaKey, or neither/],
  ])("bad existingCa %#", (existingCa, message) => {
    expect(() => loadOrCreatePkiStore({ directory: freshDir(), options, existingCa })).toThrow(message);
  });

  test("a key of another certificate", () => {
    const otherKey = path.join(dir, "other.key");
    openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", otherKey]);
    const store = freshDir();
    expect(() => loadOrCreatePkiStore({ directory: store, options, existingCa: { caCert, caKey: otherKey } })).toThrow(/existingCa.caKey = .*other.key does not match existingCa.caCert/);
    expect(fs.existsSync(store)).toBe(false);
  });

  test("a certificate that is not a CA is refused before anything is written", () => {
    const [leafCert, leafKey] = selfSigned("leaf", "basicConstraints=critical,CA:FALSE");
    const store = freshDir();
    expect(() => loadOrCreatePkiStore({ directory: store, options, existingCa: { caCert: leafCert, caKey: leafKey } })).toThrow(/ca \(ca.crt\) is not a CA certificate/);
    expect(fs.existsSync(store)).toBe(false);
  });

  test("a CA whose KeyUsage lacks keyCertSign is refused before anything is written", () => {
    // Real kubeadm signs leaves with such a CA, then refuses them on its next run (test/real-control-plane.test.ts).
    const [badCert, badKey] = selfSigned("no-certsign", "basicConstraints=critical,CA:TRUE", "keyUsage=critical,digitalSignature,keyEncipherment");
    const store = freshDir();
    expect(() => loadOrCreatePkiStore({ directory: store, options, existingCa: { caCert: badCert, caKey: badKey } }))
      .toThrow(/ca \(ca.crt\) has a KeyUsage extension without keyCertSign.*Fix: reissue the CA with keyUsage keyCertSign/);
    expect(fs.existsSync(store)).toBe(false);
  });

  test("a CA with keyCertSign (or without KeyUsage) is accepted", () => {
    const [goodCert, goodKey] = selfSigned("certsign", "basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign");
    expect(loadOrCreatePkiStore({ directory: freshDir(), options, existingCa: { caCert: goodCert, caKey: goodKey } }).pki.ca.certPem).toBe(fs.readFileSync(goodCert, "utf8"));
  });

  test("switching to a new CA re-issues the admin certificate", () => {
    const store = copyStore();
    fs.rmSync(path.join(store, "ca.crt"));
    fs.rmSync(path.join(store, "ca.key"));
    const r = loadOrCreatePkiStore({ directory: store, options, existingCa: { caCert, caKey } });
    expect(r.warnings.join("\n")).toMatch(/not signed by the current cluster CA/);
    expect(isSignedBy(r.pki.admin.certPem, r.pki.ca.certPem)).toBe(true);
  });
});
