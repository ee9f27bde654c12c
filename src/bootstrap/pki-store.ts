/**
 * The PKI store: the generated CAs, service-account key, admin certificate and join token kept on
 * the synth machine between synths, so the same inputs give byte-identical output and a running
 * cluster keeps trusting its CAs. Layout mirrors /etc/kubernetes/pki.
 */
import * as fs from "fs";
import * as path from "path";
import {
  BOOTSTRAP_TOKEN_PATTERN,
  CA_NAMES,
  CertificateAndKey,
  ClusterPki,
  createAdminCertificate,
  createCertificateAuthority,
  certificateExpiry,
  generateBootstrapToken,
  generateServiceAccountKey,
  canSignCertificates,
  claimsToBeCa,
  isCertificateAuthority,
  isSignedBy,
  keyAlgorithmOf,
  keyMatchesCertificate,
  PkiOptions,
} from "./pki";

/** Paths (on the synth machine) of CA files you already have; each pair is optional except `ca`. */
export interface ExistingCaFiles {
  /** The cluster CA certificate (PEM). */
  readonly caCert: string;
  /** Its private key (PEM); kubeadm signs the node certificates with it. */
  readonly caKey: string;
  /** @default generated into the store */
  readonly frontProxyCaCert?: string;
  readonly frontProxyCaKey?: string;
  /** @default generated into the store */
  readonly etcdCaCert?: string;
  readonly etcdCaKey?: string;
}

export interface PkiStoreOptions {
  /** Directory of the store; created with mode 0700 when missing. */
  readonly directory: string;
  readonly options: PkiOptions;
  /** Use these CAs instead of the store's own; they are read on every synth, never copied. */
  readonly existingCa?: ExistingCaFiles;
  /** @default new Date() */
  readonly now?: Date;
  /**
   * Label of the join token's generation (`bootstrapTokenRotation`): when it differs from the label
   * stored with the token, a new token replaces it. @default "" (the first token stays)
   */
  readonly tokenRotation?: string;
}

export interface PkiStoreResult {
  readonly pki: ClusterPki;
  /** True when this call generated a new store. */
  readonly created: boolean;
  /** Things the user should know but that do not stop the synth (e.g. admin certificate renewed). */
  readonly warnings: string[];
}

/** A store read (or generated) in memory; `commit` writes what is new (a new store, a rotated token, a renewed admin certificate). */
export interface PkiStorePlan extends PkiStoreResult {
  readonly commit: () => void;
}

/** Refuse CAs closer to expiry than this: nodes joining after it would fail with x509 errors. */
export const CA_MINIMUM_REMAINING_DAYS = 30;
/** Renew the admin client certificate when it has less than this left. */
export const ADMIN_RENEW_DAYS = 30;

const DAY_MS = 24 * 3600 * 1000;

/** File names inside the store. */
export const STORE_FILES = {
  ca: { cert: "ca.crt", key: "ca.key" },
  frontProxyCa: { cert: "front-proxy-ca.crt", key: "front-proxy-ca.key" },
  etcdCa: { cert: "etcd/ca.crt", key: "etcd/ca.key" },
  admin: { cert: "admin.crt", key: "admin.key" },
  serviceAccount: { privateKey: "sa.key", publicKey: "sa.pub" },
  bootstrapToken: "bootstrap-token",
  /** The `bootstrapTokenRotation` label the token was generated for (absent: none). */
  bootstrapTokenRotation: "bootstrap-token.rotation",
} as const;

type CaName = keyof typeof CA_NAMES;
const CA_KEYS: CaName[] = ["ca", "frontProxyCa", "etcdCa"];

export class PkiStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PkiStoreError";
  }
}

/** New stores planned in this process and not yet written, by directory and options. */
const PENDING_STORES = new Map<string, ClusterPki>();

/** Loads the store, or creates it on the first synth. Throws PkiStoreError on anything unsafe. */
export function loadOrCreatePkiStore(input: PkiStoreOptions): PkiStoreResult {
  const plan = planPkiStore(input);
  plan.commit();
  return { pki: plan.pki, created: plan.created, warnings: plan.warnings };
}

/**
 * Reads the store, or generates a new one, without writing anything: every check runs here, and
 * `commit` writes the result once the whole app has validated. Throws PkiStoreError on anything unsafe.
 */
export function planPkiStore(input: PkiStoreOptions): PkiStorePlan {
  const now = input.now ?? new Date();
  const dir = path.resolve(input.directory);
  const external = readExistingCa(input.existingCa);
  const present = storeFilesPresent(dir, external);
  const warnings: string[] = [];

  const rotation = input.tokenRotation ?? "";
  if (present.length === 0) {
    // Constructed twice in one process before a synth wrote it (tests, multi-app scripts): the same new store.
    const key = JSON.stringify([dir, input.options, input.existingCa ?? {}, rotation]);
    const pki = PENDING_STORES.get(key) ?? finalCheck(generate(input.options, external, now), now);
    PENDING_STORES.set(key, pki);
    const commit = () => {
      PENDING_STORES.delete(key);
      if (storeFilesPresent(dir, external).length === 0) {
        writeStore(dir, pki, external);
        writeRotation(dir, rotation);
      } else if (!external.ca && fs.readFileSync(path.join(dir, STORE_FILES.ca.cert), "utf8") !== pki.ca.certPem) {
        throw new PkiStoreError(`PKI store ${dir} was created by another synth while this one ran, with other CAs. Fix: synthesize again (it reads the store now).`);
      }
    };
    return { pki, created: true, warnings, commit };
  }
  const missing = storeFiles(external).filter((f) => !present.includes(f));
  if (missing.length > 0) {
    throw new PkiStoreError(
      `PKI store ${dir} is incomplete: missing ${missing.join(", ")}. Fix: restore the missing files from your backup of the store. ` +
        `Only if no node of this cluster exists yet, delete ${dir} so the next synth generates a new PKI.`,
    );
  }

  const read = (name: string) => fs.readFileSync(path.join(dir, name), "utf8");
  const pair = (name: CaName): CertificateAndKey => external[name] ?? { certPem: read(STORE_FILES[name].cert), keyPem: read(STORE_FILES[name].key) };
  warnings.push(...permissionWarnings(dir, external));
  let pki: ClusterPki = {
    ca: pair("ca"),
    frontProxyCa: pair("frontProxyCa"),
    etcdCa: pair("etcdCa"),
    serviceAccount: { privateKeyPem: read(STORE_FILES.serviceAccount.privateKey), publicKeyPem: read(STORE_FILES.serviceAccount.publicKey) },
    admin: { certPem: read(STORE_FILES.admin.cert), keyPem: read(STORE_FILES.admin.key) },
    bootstrapToken: read(STORE_FILES.bootstrapToken).trim(),
  };
  if (!BOOTSTRAP_TOKEN_PATTERN.test(pki.bootstrapToken)) {
    throw new PkiStoreError(`PKI store ${dir}: ${STORE_FILES.bootstrapToken} is not a kubeadm bootstrap token ([a-z0-9]{6}.[a-z0-9]{16}). Fix: restore it from backup, or replace it with a new token (e.g. from \`kubeadm token generate\`).`);
  }
  const storedAlgorithm = keyAlgorithmOf(pki.ca.keyPem);
  if (storedAlgorithm && storedAlgorithm !== input.options.keyAlgorithm) {
    warnings.push(`PKI store ${dir} holds ${storedAlgorithm} keys; pki.keyAlgorithm "${input.options.keyAlgorithm}" only applies to a new store. The existing keys are kept so the cluster keeps its CAs.`);
  }

  const labelFile = path.join(dir, STORE_FILES.bootstrapTokenRotation);
  const storedRotation = fs.existsSync(labelFile) ? fs.readFileSync(labelFile, "utf8").trim() : "";
  const writes: (() => void)[] = [];
  if (storedRotation !== rotation) {
    const token = generateBootstrapToken();
    pki = { ...pki, bootstrapToken: token };
    writes.push(() => {
      writeFile(path.join(dir, STORE_FILES.bootstrapToken), `${token}\n`, 0o600);
      writeRotation(dir, rotation);
    });
    warnings.push(
      `Rotated the join token in ${dir} (bootstrapTokenRotation ${JSON.stringify(storedRotation)} -> ${JSON.stringify(rotation)}): after deploy, control-plane nodes register it and delete the old one; ` +
        "without a secret store the new token reaches only nodes that boot from the new user data.",
    );
  }

  finalCheck(pki, now, dir); // before renewing anything: a bad CA must not sign a new admin certificate
  const admin = pki.admin;
  const adminReason = !keyMatchesCertificate(admin.certPem, admin.keyPem)
    ? "its key does not match the certificate"
    : !isSignedBy(admin.certPem, pki.ca.certPem)
      ? "it is not signed by the current cluster CA"
      : certificateExpiry(admin.certPem).getTime() - now.getTime() < ADMIN_RENEW_DAYS * DAY_MS
        ? `it expires on ${certificateExpiry(admin.certPem).toISOString()}, within ${ADMIN_RENEW_DAYS} days`
        : undefined;
  if (adminReason) {
    const renewed = createAdminCertificate(pki.ca, input.options, now);
    pki = { ...pki, admin: renewed };
    writes.push(() => {
      writeFile(path.join(dir, STORE_FILES.admin.cert), renewed.certPem, 0o644);
      writeFile(path.join(dir, STORE_FILES.admin.key), renewed.keyPem, 0o600);
    });
    warnings.push(`Renewed the admin client certificate in ${dir} (${adminReason}); run \`terraform output -raw <cluster>_admin_kubeconfig\` again after deploy.`);
  }
  return { pki, created: false, warnings, commit: () => writes.forEach((write) => write()) };
}

/** Every CA must be a CA, match its key and not be (nearly) expired: fail before anything is created. */
function finalCheck(pki: ClusterPki, now: Date, dir?: string): ClusterPki {
  const where = dir ? ` in PKI store ${dir}` : "";
  for (const name of CA_KEYS) {
    const { certPem, keyPem } = pki[name];
    const label = `${name} (${STORE_FILES[name].cert})`;
    // Before isCertificateAuthority: OpenSSL also calls a CA:TRUE without keyCertSign "not a CA", which misleads.
    if (claimsToBeCa(certPem) && !canSignCertificates(certPem)) {
      throw new PkiStoreError(`${label}${where} has a KeyUsage extension without keyCertSign: kubeadm would sign the node certificates with it, but nothing accepts them (x509: parent certificate cannot sign). Fix: reissue the CA with keyUsage keyCertSign (and digitalSignature, keyEncipherment).`);
    }
    if (!isCertificateAuthority(certPem)) {
      throw new PkiStoreError(`${label}${where} is not a CA certificate (basicConstraints CA:true). Fix: use the CA certificate, not a leaf.`);
    }
    if (!keyMatchesCertificate(certPem, keyPem)) {
      throw new PkiStoreError(`${label}${where}: the private key does not match the certificate. Fix: restore the matching ${STORE_FILES[name].key} from your backup; never mix files of two stores.`);
    }
    const expiry = certificateExpiry(certPem);
    const remaining = expiry.getTime() - now.getTime();
    if (remaining < CA_MINIMUM_REMAINING_DAYS * DAY_MS) {
      const state = remaining <= 0 ? "expired" : "expires";
      throw new PkiStoreError(
        `${label}${where} ${state} on ${expiry.toISOString()} (less than ${CA_MINIMUM_REMAINING_DAYS} days from now); nodes would fail to join with x509 errors. ` +
          "Fix: rotate the CA (https://kubernetes.io/docs/tasks/tls/manual-rotation-of-ca-certificates/) and put the new CA in the store or in existingCa.",
      );
    }
  }
  return pki;
}

function generate(options: PkiOptions, external: Partial<Record<CaName, CertificateAndKey>>, now: Date): ClusterPki {
  const ca = external.ca ?? createCertificateAuthority(CA_NAMES.ca, options, now);
  // Validate an imported CA before signing anything with it.
  finalCheck({ ca, frontProxyCa: ca, etcdCa: ca } as ClusterPki, now);
  return {
    ca,
    frontProxyCa: external.frontProxyCa ?? createCertificateAuthority(CA_NAMES.frontProxyCa, options, now),
    etcdCa: external.etcdCa ?? createCertificateAuthority(CA_NAMES.etcdCa, options, now),
    serviceAccount: generateServiceAccountKey(),
    admin: createAdminCertificate(ca, options, now),
    bootstrapToken: generateBootstrapToken(),
  };
}

function readExistingCa(files: ExistingCaFiles | undefined): Partial<Record<CaName, CertificateAndKey>> {
  if (!files) return {};
  const result: Partial<Record<CaName, CertificateAndKey>> = {};
  const pairs: [CaName, keyof ExistingCaFiles, keyof ExistingCaFiles][] = [
    ["ca", "caCert", "caKey"],
    ["frontProxyCa", "frontProxyCaCert", "frontProxyCaKey"],
    ["etcdCa", "etcdCaCert", "etcdCaKey"],
  ];
  for (const [name, certField, keyField] of pairs) {
    const certPath = files[certField];
    const keyPath = files[keyField];
    if (!certPath && !keyPath) continue;
    if (!certPath || !keyPath) {
      throw new PkiStoreError(`existingCa.${certPath ? keyField : certField} is missing: give both ${certField} and ${keyField}, or neither (then the store generates that CA).`);
    }
    const readPem = (field: string, p: string, marker: RegExp) => {
      if (!fs.existsSync(p)) throw new PkiStoreError(`existingCa.${field} = ${p}: file not found. Fix: give the path of the PEM file on the machine that runs cdktf synth.`);
      const text = fs.readFileSync(p, "utf8");
      if (!marker.test(text)) throw new PkiStoreError(`existingCa.${field} = ${p}: not a PEM ${marker === CERT_MARKER ? "certificate" : "private key"}. Fix: convert it with openssl to PEM.`);
      return text;
    };
    result[name] = { certPem: readPem(certField, certPath, CERT_MARKER), keyPem: readPem(keyField, keyPath, KEY_MARKER) };
    if (!keyMatchesCertificate(result[name]!.certPem, result[name]!.keyPem)) {
      throw new PkiStoreError(`existingCa.${keyField} = ${keyPath} does not match existingCa.${certField} = ${certPath}. Fix: give the private key of that certificate.`);
    }
  }
  return result;
}

const CERT_MARKER = /-----BEGIN CERTIFICATE-----/;
const KEY_MARKER = /-----BEGIN (RSA |EC )?PRIVATE KEY-----/;

function storeFiles(external: Partial<Record<CaName, CertificateAndKey>>): string[] {
  const files: string[] = [];
  for (const name of CA_KEYS) if (!external[name]) files.push(STORE_FILES[name].cert, STORE_FILES[name].key);
  files.push(STORE_FILES.serviceAccount.privateKey, STORE_FILES.serviceAccount.publicKey, STORE_FILES.admin.cert, STORE_FILES.admin.key, STORE_FILES.bootstrapToken);
  return files;
}

/** Whether `directory` holds (any part of) a PKI store. */
export function hasPkiStore(directory: string): boolean {
  return storeFilesPresent(path.resolve(directory), {}).length > 0;
}

function storeFilesPresent(dir: string, external: Partial<Record<CaName, CertificateAndKey>>): string[] {
  return storeFiles(external).filter((f) => fs.existsSync(path.join(dir, f)));
}

const SECRET = /\.key$|bootstrap-token$/;

function writeStore(dir: string, pki: ClusterPki, external: Partial<Record<CaName, CertificateAndKey>>): void {
  const contents: Record<string, string> = {
    [STORE_FILES.serviceAccount.privateKey]: pki.serviceAccount.privateKeyPem,
    [STORE_FILES.serviceAccount.publicKey]: pki.serviceAccount.publicKeyPem,
    [STORE_FILES.admin.cert]: pki.admin.certPem,
    [STORE_FILES.admin.key]: pki.admin.keyPem,
    [STORE_FILES.bootstrapToken]: `${pki.bootstrapToken}\n`,
  };
  for (const name of CA_KEYS) {
    if (external[name]) continue;
    contents[STORE_FILES[name].cert] = pki[name].certPem;
    contents[STORE_FILES[name].key] = pki[name].keyPem;
  }
  // Write into a sibling temp directory and rename, so an interrupted synth never leaves half a store.
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = fs.mkdtempSync(`${dir}.tmp-`);
  fs.chmodSync(tmp, 0o700);
  writeFile(path.join(tmp, ".gitignore"), "# Private keys: never commit. Back this directory up somewhere safe instead.\n*\n", 0o644);
  for (const [name, text] of Object.entries(contents)) writeFile(path.join(tmp, name), text, SECRET.test(name) ? 0o600 : 0o644);
  if (fs.existsSync(dir)) {
    // An empty (or foreign-files-only) directory the user created: move our files in.
    for (const entry of fs.readdirSync(tmp)) fs.renameSync(path.join(tmp, entry), path.join(dir, entry));
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.chmodSync(dir, 0o700);
  } else {
    fs.renameSync(tmp, dir);
  }
}

/** The rotation label next to the token; no file for the default "" (stores from before rotation). */
function writeRotation(dir: string, rotation: string): void {
  const file = path.join(dir, STORE_FILES.bootstrapTokenRotation);
  if (rotation === "") fs.rmSync(file, { force: true });
  else writeFile(file, `${rotation}\n`, 0o644);
}

function writeFile(file: string, text: string, mode: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, text, { mode });
  fs.chmodSync(file, mode); // writeFileSync's mode is filtered by the umask and ignored for existing files
}

function permissionWarnings(dir: string, external: Partial<Record<CaName, CertificateAndKey>>): string[] {
  if (process.platform === "win32") return [];
  return storeFiles(external)
    .filter((f) => SECRET.test(f) && (fs.statSync(path.join(dir, f)).mode & 0o077) !== 0)
    .map((f) => `PKI store file ${path.join(dir, f)} is readable by group or others. Fix: chmod 600 ${path.join(dir, f)}`);
}
