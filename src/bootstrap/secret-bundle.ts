/**
 * Secret material kept out of user data. With `NodePayloadInput.secrets` set, a node's user data
 * carries only a reference (SECRETS_SOURCE / SECRETS_ID / SECRETS_REGION in bootstrap.env) and a
 * placeholder where kubeadm's configs would carry the join token; the bootstrap script's `secrets`
 * step reads the bundle from the cloud secret store at boot, writes its files and puts the token in.
 *
 * One bundle per audience: every control-plane slot gets the same one (the shared CA keys, sa.key
 * and the token), every worker pool the same one (the token only), so one secret per audience
 * suffices and the platform can grant workers access to theirs alone.
 */
import { fullScript, scriptForBundle } from "./bootstrap-script";
import type { NodePayloadInput } from "./cloud-init";
import { NODE_LAYOUT } from "./node-layout";
import type { ClusterPki } from "./pki";
import type { NodeRole } from "./spec";

/** Where a node fetches its secret bundle at boot. Values may be cdktf tokens. */
export type SecretSource =
  | {
      readonly kind: "aws-secretsmanager";
      /** Secret ARN (or name); its SecretString is the bundle JSON. */
      readonly secretId: string;
      /** Region of the secret, e.g. "eu-west-1". */
      readonly region: string;
    }
  | {
      readonly kind: "gce-secretmanager";
      /** "projects/P/secrets/S/versions/latest"; the version's payload is the bundle JSON. */
      readonly secretVersion: string;
    };

export type SecretSourceKind = SecretSource["kind"];
export type SecretAudience = "control-plane" | "worker";

/**
 * Stands in for the bootstrap token in kubeadm configs when the token comes from the secret store.
 * It cannot be a real token (upper case, wrong shape) and kubeadm refuses it loudly if it is ever
 * left in ("the bootstrap token ... was not of the form ..."). bootstrap.sh knows the same string.
 */
export const BOOTSTRAP_TOKEN_PLACEHOLDER = "CDKTF-KUBEADM-TOKEN-FROM-SECRET-STORE";

export const SECRET_BUNDLE_VERSION = 1;
/** Largest secret value of AWS Secrets Manager and GCE Secret Manager (64 KiB). */
export const SECRET_BUNDLE_LIMIT = 65536;

/** One file of a bundle, written by the node's `secrets` step (kubeadm's PKI files; a worker's CA certificate under /etc/cdktf-kubeadm/pki). */
export interface SecretBundleFile {
  readonly path: string;
  /** Octal mode, e.g. "0600". */
  readonly permissions: string;
  readonly content: string;
}

/** Who may read a bundle: all control-plane slots share one, all worker pools another. */
export function secretAudience(role: NodeRole): SecretAudience {
  return role.kind === "control-plane" ? "control-plane" : "worker";
}

/**
 * The shared PKI files a node of the audience needs, in write order: workers the CA certificate
 * (outside kubeadm's directory: NODE_LAYOUT.workerCaCert), control-plane nodes the three CAs with their keys and the service-account key pair (keys 0600).
 */
export function pkiFiles(pki: ClusterPki, audience: SecretAudience): SecretBundleFile[] {
  const dir = NODE_LAYOUT.pkiDir;
  const cert = (name: string, content: string): SecretBundleFile => ({ path: `${dir}/${name}`, permissions: "0644", content });
  const key = (name: string, content: string): SecretBundleFile => ({ path: `${dir}/${name}`, permissions: "0600", content });
  if (audience === "worker") return [{ path: NODE_LAYOUT.workerCaCert, permissions: "0644", content: pki.ca.certPem }];
  return [
    cert("ca.crt", pki.ca.certPem),
    key("ca.key", pki.ca.keyPem),
    cert("front-proxy-ca.crt", pki.frontProxyCa.certPem),
    key("front-proxy-ca.key", pki.frontProxyCa.keyPem),
    cert("etcd/ca.crt", pki.etcdCa.certPem),
    key("etcd/ca.key", pki.etcdCa.keyPem),
    key("sa.key", pki.serviceAccount.privateKeyPem),
    cert("sa.pub", pki.serviceAccount.publicKeyPem),
  ];
}

/**
 * The bundle of one audience as deterministic JSON (fixed key order, no whitespace):
 * `{"version":1,"bootstrapToken":"...","files":[{"path":...,"permissions":"0600","content":...}],"script":"..."}`.
 * `script` (base64 of gzip) is the audience's full bootstrap script, which the loader in user data
 * installs after checking its sha256; without it the bundle holds secrets only.
 */
export function secretBundleFor(pki: ClusterPki, audience: SecretAudience, script?: string): string {
  const files = pkiFiles(pki, audience);
  const text = JSON.stringify({
    version: SECRET_BUNDLE_VERSION,
    bootstrapToken: pki.bootstrapToken,
    files: files.map((f) => ({ path: f.path, permissions: f.permissions, content: f.content })),
    ...(script === undefined ? {} : { script: scriptForBundle(script) }),
  });
  if (Buffer.byteLength(text) > SECRET_BUNDLE_LIMIT) {
    throw new Error(
      `cdktf-kubeadm: the ${audience} secret bundle is ${Buffer.byteLength(text)} bytes, over the ${SECRET_BUNDLE_LIMIT}-byte limit of a secret value (AWS Secrets Manager, GCE Secret Manager). ` +
        "Fix: use ECDSA-P256 keys (pki.keyAlgorithm).",
    );
  }
  return text;
}

/**
 * The bundle for this role's audience (identical for every role of the audience): with
 * `input.secrets` set it carries the full script the loader in user data runs.
 */
export function secretBundle(input: NodePayloadInput): string {
  return secretBundleFor(input.pki, secretAudience(input.role), input.secrets && fullScript(input));
}

const TOKEN = /\$\{TfToken\[[^\]]+\]\}/;
const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const GCE_VERSION = /^projects\/[^/]+\/secrets\/[^/]+\/versions\/[^/]+$/;

/** The settings a node reads; throws on a literal (non-token) value the script could not use. */
export function secretSettings(source: SecretSource): Record<"SECRETS_SOURCE" | "SECRETS_ID" | "SECRETS_REGION", string | undefined> {
  const check = (name: string, value: string, shape: RegExp | undefined, hint: string): string => {
    // The script puts SECRETS_ID into a JSON string and a URL: no quotes, backslashes or blanks.
    if (value === "" || /["'\\\s]/.test(value) || (shape && !TOKEN.test(value) && !shape.test(value))) {
      throw new Error(`cdktf-kubeadm: secrets.${name} ${JSON.stringify(value)} is not ${hint}`);
    }
    return value;
  };
  if (source.kind === "aws-secretsmanager") {
    return {
      SECRETS_SOURCE: source.kind,
      SECRETS_ID: check("secretId", source.secretId, undefined, "a Secrets Manager secret ARN or name"),
      SECRETS_REGION: check("region", source.region, AWS_REGION, 'an AWS region such as "eu-west-1"'),
    };
  }
  if (source.kind === "gce-secretmanager") {
    return {
      SECRETS_SOURCE: source.kind,
      SECRETS_ID: check("secretVersion", source.secretVersion, GCE_VERSION, 'a secret version name "projects/P/secrets/S/versions/V"'),
      SECRETS_REGION: undefined,
    };
  }
  throw new Error(`cdktf-kubeadm: secrets.kind ${JSON.stringify((source as { kind: unknown }).kind)} is not aws-secretsmanager or gce-secretmanager`);
}
