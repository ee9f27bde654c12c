/**
 * Test harness for the bundled bootstrap script (src/bootstrap/bootstrap.sh).
 *
 * `createNodeRoot()` builds a fake node in a temporary directory: `root/` is what the script sees
 * through BOOTSTRAP_ROOT (os-release, fstab, the files cloud-init writes, pre-placed PKI), `bin/`
 * holds stub commands (links to stub.sh) that record every call and whose behaviour is driven by
 * files in `ctl/`. `runBootstrap()` runs the real script with PATH=bin:/usr/bin:/bin, so coreutils,
 * sed, awk, sha256sum, tar and flock are real. Reusable by other suites (e.g. a bare-metal SSH test
 * can take `bootstrapInvocation()` and run the same command another way).
 */
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CONTAINERD_VERSION_PREFIX } from "../../src/bootstrap/catalog";
import { NODE_LAYOUT } from "../../src/bootstrap/node-layout";
import { DrainKind, drainFeatures, scriptForBundle } from "../../src/bootstrap/bootstrap-script";
import { packScript } from "../../src/bootstrap/pack-script";
import { backupFeatures, backupSettings, EtcdBackup } from "../../src/bootstrap/etcd-backup";
import { restoreFeatures, tokenFeatures } from "../../src/bootstrap/bootstrap-script";
import { BOOTSTRAP_TOKEN_PLACEHOLDER } from "../../src/bootstrap/secret-bundle";
import { upgradeFeatures } from "../../src/bootstrap/upgrade-channel";

/**
 * The one place that knows where the script lives in the source tree. BOOTSTRAP_SCRIPT_UNDER_TEST
 * runs the suites against another copy (e.g. a deliberately broken one, to check the tests bite).
 */
export const BOOTSTRAP_SCRIPT = process.env.BOOTSTRAP_SCRIPT_UNDER_TEST ??
  path.resolve(__dirname, "../../src/bootstrap/bootstrap.sh");
export const STUB_SCRIPT = path.resolve(__dirname, "stub.sh");

/** Commands the stubs stand in for. */
export const STUB_COMMANDS = [
  "id", "uname", "hostname", "swapoff", "modprobe", "sysctl", "ss", "timedatectl", "date", "apt-get",
  "apt-cache", "apt-mark", "gpg", "curl", "systemctl", "containerd", "ctr", "kubeadm", "kubectl", "cilium",
  "iptables", "ip", "shutdown", "fake-sleep",
] as const;

export const DEFAULT_TOKEN = "abcdef.0123456789abcdef";
export const DEFAULT_FINGERPRINT = "DE15B14486CD377B9E876E1A234654DA9A296436";
/** Docker's apt signing key (containerd.io). */
export const DOCKER_FINGERPRINT = "9DC858229FC7DD38854AE2D88D81803C0EBFCD88";
export const DOCKER_REPO_BASE = "https://download.docker.com/linux";
/** Node labels `kubectl get node -o jsonpath={.metadata.labels}` prints for a registered node. */
export const CONTROL_PLANE_LABELS = '{"kubernetes.io/hostname":"prod-cp-0","node-role.kubernetes.io/control-plane":""}';
export const WORKER_LABELS = '{"kubernetes.io/hostname":"stub-worker-1"}';
export const DEFAULT_API_ENDPOINT = "10.0.0.100:6443";
export const CALICO_MANIFEST = "# calico manifest (stub)\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: calico-system\n";
export const FLANNEL_MANIFEST = [
  "kind: ConfigMap",
  "apiVersion: v1",
  "metadata:",
  "  name: kube-flannel-cfg",
  "data:",
  "  net-conf.json: |",
  "    {",
  '      "Network": "10.244.0.0/16",',
  '      "Backend": { "Type": "vxlan" }',
  "    }",
  "",
].join("\n");

const CA_FILES = ["ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "etcd/ca.crt", "etcd/ca.key", "sa.key", "sa.pub"];

const CONTAINERD_CONFIG: Record<1 | 2, string> = {
  1: [
    "version = 2",
    "[plugins]",
    '  [plugins."io.containerd.grpc.v1.cri"]',
    '    sandbox_image = "registry.k8s.io/pause:3.8"',
    '    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
    "      BinaryName = \"\"",
    "      SystemdCgroup = false",
    '    [plugins."io.containerd.grpc.v1.cri".registry]',
    '      config_path = ""',
    "",
  ].join("\n"),
  2: [
    "version = 3",
    "[plugins]",
    "  [plugins.'io.containerd.cri.v1.images'.pinned_images]",
    "    sandbox = 'registry.k8s.io/pause:3.10'",
    "  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]",
    "    sandboxer = 'podsandbox'",
    "  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]",
    "    BinaryName = ''",
    "  [plugins.'io.containerd.cri.v1.images'.registry]",
    "    config_path = ''",
    "  [plugins.'io.containerd.transfer.v1.local']",
    "    config_path = ''",
    "",
  ].join("\n"),
};

export const CONTAINERD_VERSIONS = ["2.4.0-1~ubuntu.24.04~noble", "2.3.1-1~ubuntu.24.04~noble", "2.3.0-1~ubuntu.24.04~noble", "2.2.9-1~ubuntu.24.04~noble", "1.7.28-1~ubuntu.24.04~noble"];

const CODENAMES: Record<string, string> = { "ubuntu 22.04": "jammy", "ubuntu 24.04": "noble", "debian 12": "bookworm" };

export type Role = "control-plane" | "worker";

export interface NodeOptions {
  /** @default "control-plane" */
  readonly role?: Role;
  /** Control-plane slot. @default 0 */
  readonly slot?: number;
  /** Setting overrides; `null` leaves the key out of bootstrap.env. */
  readonly settings?: Record<string, string | null>;
  /** CNI plugin and the bytes `curl` serves for CNI_URL. CNI_SHA256 is their digest unless overridden. */
  readonly cni?: "calico" | "flannel" | "cilium" | "none";
  readonly cniContent?: Buffer | string;
  /** /etc/os-release ID and VERSION_ID. @default ["ubuntu", "24.04"] */
  readonly os?: readonly [string, string];
  /** `uname -m`. @default "x86_64" */
  readonly arch?: string;
  /** `id -u`. @default 0 */
  readonly uid?: number;
  /** `date +%s`. @default the real clock */
  readonly epoch?: number;
  /** TCP ports `ss -Htln` reports as listening. @default [22] */
  readonly listening?: readonly number[];
  /** Layout `containerd config default` prints. @default 2 */
  readonly containerdMajor?: 1 | 2;
  /** Versions `apt-cache madison kubeadm` lists. @default ["1.36.4-1.1", "1.36.3-1.1"] */
  readonly kubeadmVersions?: readonly string[];
  /** Versions `apt-cache madison containerd.io` lists, newest first. @default CONTAINERD_VERSIONS */
  readonly containerdVersions?: readonly string[];
  /** Primary key fingerprints `gpg --show-keys` reports for Release.key. @default [DEFAULT_FINGERPRINT] */
  readonly keyFingerprints?: readonly string[];
  /** The same for Docker's key (CONTAINERD_REPO_URL/<os>/gpg). @default [DOCKER_FINGERPRINT] */
  readonly containerdKeyFingerprints?: readonly string[];
  /** Endpoints whose /livez answers ("*" = all). @default none */
  readonly apiUp?: readonly string[];
  /** `hostname` output. @default "stub-worker-1" */
  readonly hostname?: string;
  /**
   * Secrets from a secret store (SECRETS_* settings, the script packed with that source's code):
   * the configs carry the placeholder and no private key is pre-placed. Script the store's answers
   * with `serveSecrets`. @default secrets in user data
   */
  readonly secrets?: SecretStoreKind;
  /**
   * Control-plane nodes: the upgrade agent's channel (UPGRADE_* settings, the script packed with the
   * channel's reader). Script its answers with `serveDesiredVersion`. @default none
   */
  readonly upgrade?: UpgradeChannelKind;
  /**
   * The drain before termination (the script packed with that platform's drain code): workers get
   * DRAIN_TIMEOUT (and on AWS TERMINATION_HOOK, LIFECYCLE_GROUP, LIFECYCLE_REGION); control-plane
   * nodes grant nodes their own Node's deletion. Script the node's pods with `setNodePods`. @default none
   */
  readonly drain?: DrainKind;
  /** Control-plane nodes: the etcd backup agent (BACKUP_* settings, the script packed with its target's code). @default none */
  readonly backup?: EtcdBackup;
  /** Control-plane slot 0: RESTORE_SNAPSHOT (and the script's restore step for its scheme). @default none */
  readonly restore?: string;
}

/** The AWS drain's settings (a worker of pool "general" in cluster "prod"). */
export const AWS_DRAIN_SETTINGS = { DRAIN_TIMEOUT: "300", TERMINATION_HOOK: "cdktf-kubeadm-drain", LIFECYCLE_GROUP: "prod-pool-general", LIFECYCLE_REGION: "eu-west-1" };

export type UpgradeChannelKind = "aws-ssm" | "gce-metadata" | "file";
export const SSM_PARAMETER = "/cdktf-kubeadm/prod/kubernetes-version";
export const GCE_UPGRADE_KEY = "cdktf-kubeadm-prod-kubernetes-version";
export const SSM_ENDPOINT = "https://ssm.stub";

export type SecretStoreKind = "aws-secretsmanager" | "gce-secretmanager";
export const AWS_SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod-control-plane-AbCdEf";
export const GCE_SECRET_VERSION = "projects/prod-project/secrets/prod-control-plane/versions/latest";

export interface NodeRoot {
  /** Temporary directory holding everything below. */
  readonly dir: string;
  /** BOOTSTRAP_ROOT. */
  readonly root: string;
  readonly bin: string;
  readonly ctl: string;
  readonly callsFile: string;
  /** The script as cloud-init installs it (copied to root + NODE_LAYOUT.script). */
  readonly script: string;
  readonly role: Role;
  readonly settings: Record<string, string>;
  /** Bootstrap token in the join config (must never reach the log). */
  readonly token: string;
  /** Unique text inside every pre-placed private key (must never reach the log). */
  readonly keySecret: string;
  /** Set with NodeOptions.secrets: the bundle the store holds (token, the full script and, on control-plane nodes, the keys). */
  readonly secrets?: SecretStoreKind;
  readonly bundle?: string;
}

export interface BootstrapRun {
  readonly code: number | null;
  /** stdout + stderr as the console saw it. */
  readonly output: string;
  readonly lines: string[];
  readonly lastLine: string;
}

/** Path on the fake node: `inRoot(node, "/etc/fstab")`. */
export function inRoot(node: NodeRoot, absolute: string): string {
  return path.join(node.root, absolute);
}

function write(file: string, content: string | Buffer, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
}

export function sha256(content: string | Buffer): string {
  return createHash("sha256").update(content).digest("hex");
}

function quote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** (Re)writes bootstrap.env from the node's settings plus overrides (`null` removes a key). */
export function writeSettings(node: NodeRoot, overrides: Record<string, string | null> = {}): void {
  const settings = node.settings as Record<string, string>;
  for (const [k, v] of Object.entries(overrides)) {
    if (v === null) delete settings[k];
    else settings[k] = v;
  }
  const text = Object.entries(settings).map(([k, v]) => `${k}=${quote(v)}`).join("\n") + "\n";
  write(inRoot(node, NODE_LAYOUT.settings), text, 0o600);
}

/** Writes a control file for the stubs (see stub.sh). */
export function setControl(node: NodeRoot, name: string, content: string | Buffer | null): void {
  const file = path.join(node.ctl, name);
  if (content === null) fs.rmSync(file, { force: true });
  else write(file, content);
}

/** Endpoints whose /livez answers from now on. */
export function setApiUp(node: NodeRoot, endpoints: readonly string[]): void {
  setControl(node, "api-up", endpoints.length ? endpoints.join("\n") + "\n" : null);
}

let ruleCounter = 0;
/**
 * Makes calls whose "<command> <args>" contains `match` fail, `times` times or "always".
 * Returns the rule's name for `clearFailure`.
 */
export function failCommand(
  node: NodeRoot, match: string, times: number | "always", message = "", exitCode = 1,
): string {
  const rule = `rule-${++ruleCounter}`;
  setControl(node, `fail/${rule}`, `${match}\n${times === "always" ? -1 : times}\n${exitCode}\n${message}\n`);
  return rule;
}

export function clearFailures(node: NodeRoot): void {
  fs.rmSync(path.join(node.ctl, "fail"), { recursive: true, force: true });
}

/** What `kubectl get pods -l component=etcd` (name node phase) and `etcdctl member list` return. */
export function setEtcd(node: NodeRoot, pods: string[], members: string[]): void {
  setControl(node, "etcd-pods", pods.join("\n") + "\n");
  setControl(node, "etcd-members", members.join("\n") + "\n");
}

/**
 * Whether the API knows this node (`null`: it does not), with the labels it prints: pass
 * CONTROL_PLANE_LABELS or WORKER_LABELS, or others.
 */
export function setNodeRegistered(node: NodeRoot, labels: string | null): void {
  setControl(node, "node-registered", labels);
}

/** Whether the DaemonSet kube-system/<name> exists. */
/** A pod as `kubectl get pods -o json` lists it, bound to the node. */
export interface StubPod {
  readonly namespace: string;
  readonly name: string;
  /** The kind of its controller (ownerReferences[0]). @default "ReplicaSet" */
  readonly owner?: string;
  readonly phase?: string;
  /** A static pod's mirror (annotation kubernetes.io/config.mirror). */
  readonly mirror?: boolean;
}

/**
 * The pods bound to the node (what `get pods -A --field-selector spec.nodeName=` lists). An
 * eviction marks a pod terminating; the next list still shows it, the one after that not (its
 * kubelet finished it).
 */
export function setNodePods(node: NodeRoot, pods: readonly StubPod[]): void {
  setControl(node, "node-pods.json", JSON.stringify({
    items: pods.map((p) => ({
      metadata: {
        namespace: p.namespace, name: p.name,
        ownerReferences: [{ kind: p.owner ?? "ReplicaSet", name: `${p.name}-owner` }],
        ...(p.mirror ? { annotations: { "kubernetes.io/config.mirror": "0123" } } : {}),
      },
      status: { phase: p.phase ?? "Running" },
    })),
  }));
}

/** The next `times` evictions of the pod are refused as a PodDisruptionBudget refuses them (429); -1: always. */
export function blockEviction(node: NodeRoot, namespace: string, name: string, times: number): void {
  setControl(node, `pdb-${namespace}_${name}`, `${times}\n`);
}

export function setDaemonSet(node: NodeRoot, name: string, exists: boolean): void {
  setControl(node, `ds-${name}`, exists ? "" : null);
}

/**
 * The first call whose "<command> <args>" contains `match` SIGKILLs the script right after the
 * command did its work (like a reboot just after it returned).
 */
export function killAfter(node: NodeRoot, match: string): void {
  setControl(node, "kill-after", `${match}\n`);
}

/** Sets what `curl` serves for CNI_URL (without touching CNI_SHA256). */
export function setDownload(node: NodeRoot, content: string | Buffer): void {
  setControl(node, "download", content);
}

let httpCounter = 0;
/**
 * Scripts curl's answer to requests whose "METHOD URL" contains `match` (see stub.sh http/):
 * `status` ("000": cannot connect) and `body`, `times` times or "always"; a request lacking one of
 * `require` ("Header: value", "user KEY:SECRET", "aws-sigv4 ...", "data ...") gets a 401. Rules
 * are tried in the order they were added.
 */
export function httpRespond(
  node: NodeRoot, match: string, status: number | "000", body: string,
  opts: { times?: number | "always"; require?: readonly string[] } = {},
): void {
  const rule = `http/${String(++httpCounter).padStart(6, "0")}`;
  const times = opts.times ?? "always";
  setControl(node, `${rule}.body`, body);
  setControl(node, rule, [match, times === "always" ? -1 : times, status, ...(opts.require ?? [])].join("\n") + "\n");
}

/** What a scripted secret store hands out: none of it may appear in a command line or the log. */
export interface SecretFixture {
  readonly imdsToken: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly accessToken: string;
  /** The values above (not the ARN / version name, which are references). */
  readonly values: readonly string[];
}
export const IMDS_ENDPOINT = "http://imds.stub";
export const SECRETS_ENDPOINT = "https://secrets.stub";
/** Env that points the script at the stub endpoints. */
export const SECRET_SEAMS = { BOOTSTRAP_IMDS_ENDPOINT: IMDS_ENDPOINT, BOOTSTRAP_SECRETS_ENDPOINT: SECRETS_ENDPOINT };
export const AWS_ROLE = "prod-node-role";

/**
 * The metadata server and the secret store of the node's SECRETS_SOURCE, answering like the real
 * ones when the request carries the right token / credentials. `secret`: what the store returns
 * (default: the node's bundle); `store`: scripted answers of the store itself added first (e.g. a
 * 503 for the first call, or a denial).
 */
export function serveSecrets(node: NodeRoot, opts: { secret?: string; store?: (storeMatch: string) => void } = {}): SecretFixture {
  const f = serveSecretsFixture();
  const secret = opts.secret ?? node.bundle!;
  if (node.secrets === "aws-secretsmanager") {
    serveImdsCredentials(node, f);
    const match = `POST ${SECRETS_ENDPOINT}/`;
    opts.store?.(match);
    httpRespond(node, match, 200, JSON.stringify({ ARN: AWS_SECRET_ARN, Name: "prod-control-plane", SecretString: secret, VersionId: "v1" }), {
      require: [`user ${f.accessKeyId}:${f.secretAccessKey}`, `x-amz-security-token: ${f.sessionToken}`, "aws-sigv4 aws:amz:eu-west-1:secretsmanager",
        "X-Amz-Target: secretsmanager.GetSecretValue", "Content-Type: application/x-amz-json-1.1", `data {"SecretId":"${AWS_SECRET_ARN}"}`],
    });
  } else if (node.secrets === "gce-secretmanager") {
    httpRespond(node, `GET ${IMDS_ENDPOINT}/computeMetadata/v1/instance/service-accounts/default/token`, 200,
      JSON.stringify({ access_token: f.accessToken, expires_in: 3599, token_type: "Bearer" }), { require: ["Metadata-Flavor: Google"] });
    const match = `GET ${SECRETS_ENDPOINT}/v1/${GCE_SECRET_VERSION}:access`;
    opts.store?.(match);
    httpRespond(node, match, 200, JSON.stringify({ name: GCE_SECRET_VERSION.replace(/latest$/, "1"), payload: { data: Buffer.from(secret).toString("base64"), dataCrc32c: "1" } }), {
      require: [`Authorization: Bearer ${f.accessToken}`],
    });
  } else {
    throw new Error("serveSecrets: create the node with the secrets option");
  }
  return { ...f, values: Object.values(f) };
}

/** A stand-in armored key whose primary fingerprints the gpg stub reports. */
function pgpKey(fingerprints: readonly string[]): string {
  return ["-----BEGIN PGP PUBLIC KEY BLOCK-----", ...fingerprints.map((f) => `fpr ${f}`), "-----END PGP PUBLIC KEY BLOCK-----", ""].join("\n");
}

function ciliumTarball(dir: string): Buffer {
  const work = fs.mkdtempSync(path.join(dir, "cilium-"));
  write(path.join(work, "cilium"), `#!/usr/bin/env bash\nSTUB_AS=cilium-cli exec ${STUB_SCRIPT} "$@"\n`, 0o755);
  const tgz = path.join(dir, "cilium-linux-amd64.tar.gz");
  const r = spawnSync("tar", ["-czf", tgz, "-C", work, "cilium"]);
  if (r.status !== 0) throw new Error(`tar failed: ${r.stderr}`);
  return fs.readFileSync(tgz);
}

export function createNodeRoot(opts: NodeOptions = {}): NodeRoot {
  const role = opts.role ?? "control-plane";
  const slot = opts.slot ?? 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cdktf-kubeadm-node-"));
  const root = path.join(dir, "root");
  const bin = path.join(dir, "bin");
  const ctl = path.join(dir, "ctl");
  fs.mkdirSync(root);
  fs.mkdirSync(bin);
  fs.mkdirSync(ctl);
  for (const cmd of STUB_COMMANDS) fs.symlinkSync(STUB_SCRIPT, path.join(bin, cmd));
  fs.chmodSync(STUB_SCRIPT, 0o755);

  const cni = opts.cni ?? "calico";
  const cniContent = opts.cniContent ??
    (cni === "flannel" ? FLANNEL_MANIFEST : cni === "cilium" ? ciliumTarball(dir) : CALICO_MANIFEST);
  const cluster = "prod";
  const nodeName = role === "control-plane" ? `${cluster}-cp-${slot}` : "";
  const settings: Record<string, string> = {
    CLUSTER_NAME: cluster,
    NODE_ROLE: role,
    NODE_NAME: nodeName,
    API_ENDPOINT: DEFAULT_API_ENDPOINT,
    K8S_VERSION: "1.36.4",
    K8S_MINOR: "1.36",
    PKG_REPO_URL: "https://pkgs.k8s.io/core:/stable:/v1.36/deb/",
    PKG_KEY_FINGERPRINT: DEFAULT_FINGERPRINT,
    SANDBOX_IMAGE: "registry.k8s.io/pause:3.10",
    IMAGE_REPOSITORY: "registry.k8s.io",
    CONTAINERD_REPO_URL: DOCKER_REPO_BASE,
    CONTAINERD_KEY_FINGERPRINT: DOCKER_FINGERPRINT,
    CONTAINERD_VERSION_PREFIX,
    HTTP_PROXY: "",
    HTTPS_PROXY: "",
    NO_PROXY: "",
    SERVICE_IP: "10.96.0.1",
  };
  if (role === "control-plane") {
    Object.assign(settings, {
      CP_SLOT: String(slot),
      API_PEER_ENDPOINTS: "",
      CNI_PLUGIN: cni,
      CNI_URL: cni === "none" ? "" : `https://cni.example.test/${cni}/${cni === "cilium" ? "cilium-linux-amd64.tar.gz" : "manifest.yaml"}`,
      CNI_SHA256: cni === "none" ? "" : sha256(cniContent),
      CNI_VERSION: cni === "cilium" ? "1.18.1" : cni === "calico" ? "3.30.2" : cni === "flannel" ? "0.27.2" : "",
      POD_CIDR: "10.244.0.0/16",
    });
    if (cni === "cilium") {
      Object.assign(settings, { CNI_URL_ARM64: "https://cni.example.test/cilium/cilium-linux-arm64.tar.gz", CNI_SHA256_ARM64: sha256(cniContent) });
    }
  }
  if (opts.secrets === "aws-secretsmanager") Object.assign(settings, { SECRETS_SOURCE: opts.secrets, SECRETS_ID: AWS_SECRET_ARN, SECRETS_REGION: "eu-west-1" });
  if (opts.secrets === "gce-secretmanager") Object.assign(settings, { SECRETS_SOURCE: opts.secrets, SECRETS_ID: GCE_SECRET_VERSION });
  if (role === "control-plane" && opts.upgrade) {
    Object.assign(settings, { UPGRADE_CHANNEL: opts.upgrade });
    if (opts.upgrade === "aws-ssm") Object.assign(settings, { UPGRADE_PARAMETER: SSM_PARAMETER, UPGRADE_REGION: "eu-west-1" });
    if (opts.upgrade === "gce-metadata") Object.assign(settings, { UPGRADE_METADATA_KEY: GCE_UPGRADE_KEY });
  }
  if (role === "control-plane" && opts.restore) Object.assign(settings, { RESTORE_SNAPSHOT: opts.restore, ...(opts.restore.startsWith("s3://") ? { RESTORE_REGION: "eu-west-1" } : {}) });
  if (role === "control-plane" && opts.backup) {
    for (const [key, value] of Object.entries(backupSettings(opts.backup))) if (value !== undefined) settings[key] = value;
  }
  if (role === "worker" && opts.drain === "aws") Object.assign(settings, AWS_DRAIN_SETTINGS);
  if (role === "worker" && opts.drain === "gce") Object.assign(settings, { DRAIN_TIMEOUT: "60" });
  // What cloud-init writes on a node of this role: the packed script or, with a secret store, the
  // loader; the full script is then in the bundle, its digest in the settings.
  const features = [...(opts.secrets ? [opts.secrets] : []), ...(role === "control-plane" ? [...upgradeFeatures(opts.upgrade), ...tokenFeatures(opts.secrets, opts.upgrade), ...backupFeatures(opts.backup?.target.kind), ...restoreFeatures(opts.restore)] : []), ...drainFeatures(role, opts.drain)];
  const source = fs.readFileSync(BOOTSTRAP_SCRIPT, "utf8");
  const full = packScript(source, role, features);
  if (opts.secrets) settings.BOOTSTRAP_SHA256 = sha256(full);
  const token = DEFAULT_TOKEN;
  const keySecret = `KEY-SECRET-${path.basename(dir)}`;
  const keyPem = (f: string) => `-----BEGIN PRIVATE KEY-----\n${keySecret}-${f}\n-----END PRIVATE KEY-----\n`;
  const pemOf = (f: string) => f.endsWith(".key") ? keyPem(f) : `-----BEGIN ${f === "sa.pub" ? "PUBLIC KEY" : "CERTIFICATE"}-----\nstub ${f}\n-----END-----\n`;
  // Where the library puts them (secret-bundle.ts pkiFiles): a worker's CA outside kubeadm's directory.
  const pkiPaths = role === "control-plane" ? CA_FILES.map((f) => `${NODE_LAYOUT.pkiDir}/${f}`) : [NODE_LAYOUT.workerCaCert];
  const pemAt = (p: string) => pemOf(p.slice(p.indexOf("/pki/") + 5));
  // With a secret store the bundle carries all PKI files (user data none) and the full script.
  const bundle = opts.secrets && JSON.stringify({
    version: 1,
    bootstrapToken: token,
    files: pkiPaths.map((p) => ({ path: p, permissions: p.endsWith(".key") ? "0600" : "0644", content: pemAt(p) })),
    script: scriptForBundle(full),
  });
  const node: NodeRoot = {
    dir, root, bin, ctl, callsFile: path.join(dir, "calls.log"),
    script: path.join(root, NODE_LAYOUT.script), role, settings, token, keySecret, secrets: opts.secrets, bundle,
  };
  const configToken = opts.secrets ? BOOTSTRAP_TOKEN_PLACEHOLDER : token;
  writeSettings(node, opts.settings ?? {});

  const [osId, osVersion] = opts.os ?? ["ubuntu", "24.04"];
  const codename = CODENAMES[`${osId} ${osVersion}`];
  write(inRoot(node, "/etc/os-release"), `NAME="${osId}"\nVERSION_ID="${osVersion}"\nID=${osId}\nPRETTY_NAME="${osId} ${osVersion}"\n` +
    (codename ? `VERSION_CODENAME=${codename}\n` : ""));
  write(inRoot(node, "/etc/fstab"), "LABEL=cloudimg-rootfs / ext4 discard,errors=remount-ro 0 1\n/swap.img none swap sw 0 0\n  UUID=1234\tnone\tswap\tsw\t0\t0\n# /old-swap none swap sw 0 0\n/srv/swapdata /data ext4 defaults 0 2\n");
  write(node.script, opts.secrets ? packScript(source, role, [opts.secrets], "loader") : full, 0o755);

  const endpoint = settings.API_ENDPOINT ?? DEFAULT_API_ENDPOINT;
  if (role === "control-plane") {
    write(inRoot(node, NODE_LAYOUT.initConfig), [
      "apiVersion: kubeadm.k8s.io/v1beta4", "kind: InitConfiguration", "bootstrapTokens:", `- token: ${configToken}`,
      "nodeRegistration:", `  name: ${nodeName}`, "---", "apiVersion: kubeadm.k8s.io/v1beta4",
      "kind: ClusterConfiguration", `controlPlaneEndpoint: ${endpoint}`, "",
    ].join("\n"), 0o600);
  }
  // cloud-init.ts writes it with an upgrade channel: the agent's `kubeadm upgrade --config`.
  if (role === "control-plane" && opts.upgrade) {
    write(inRoot(node, NODE_LAYOUT.upgradeConfig), "apiVersion: kubeadm.k8s.io/v1beta4\nkind: UpgradeConfiguration\n");
  }
  write(inRoot(node, NODE_LAYOUT.joinConfig), [
    "apiVersion: kubeadm.k8s.io/v1beta4", "kind: JoinConfiguration", "discovery:", "  bootstrapToken:",
    `    apiServerEndpoint: ${endpoint}`, `    token: ${configToken}`, "    caCertHashes:",
    "    - sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "nodeRegistration:", `  name: ${nodeName || "stub-worker-1"}`,
    ...(role === "control-plane" ? ["controlPlane:", "  localAPIEndpoint:", "    bindPort: 6443"] : []), "",
  ].join("\n"), 0o600);
  for (const p of opts.secrets ? [] : pkiPaths) write(inRoot(node, p), pemAt(p), p.endsWith(".key") ? 0o600 : 0o644);

  if (opts.uid !== undefined) setControl(node, "uid", `${opts.uid}\n`);
  if (opts.arch) setControl(node, "arch", `${opts.arch}\n`);
  if (opts.epoch !== undefined) setControl(node, "epoch", `${opts.epoch}\n`);
  if (opts.hostname) setControl(node, "hostname", `${opts.hostname}\n`);
  setControl(node, "ss", (opts.listening ?? [22]).map((p) => `LISTEN 0 4096 0.0.0.0:${p} 0.0.0.0:*\n`).join(""));
  setControl(node, "containerd-config", CONTAINERD_CONFIG[opts.containerdMajor ?? 2]);
  setControl(node, "madison-kubeadm", (opts.kubeadmVersions ?? ["1.36.4-1.1", "1.36.3-1.1"])
    .map((v) => `   kubeadm | ${v} | https://pkgs.k8s.io/core:/stable:/v1.36/deb  Packages\n`).join(""));
  setControl(node, "madison-containerd.io", (opts.containerdVersions ?? CONTAINERD_VERSIONS)
    .map((v) => `containerd.io | ${v} | ${DOCKER_REPO_BASE}/ubuntu noble/stable amd64 Packages\n`).join(""));
  setControl(node, "release.key", pgpKey(opts.keyFingerprints ?? [DEFAULT_FINGERPRINT]));
  setControl(node, "docker.key", pgpKey(opts.containerdKeyFingerprints ?? [DOCKER_FINGERPRINT]));
  setControl(node, "token", `${token}\n`);
  if (cni !== "none") setDownload(node, cniContent);
  setApiUp(node, opts.apiUp ?? []);
  return node;
}

/** Environment the script runs with: only the seams, never the developer's own environment. */
export function bootstrapEnv(node: NodeRoot, env: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: `${node.bin}:/usr/bin:/bin`,
    HOME: node.dir,
    LANG: "C",
    BOOTSTRAP_ROOT: node.root,
    BOOTSTRAP_SLEEP: "fake-sleep",
    BOOTSTRAP_RETRIES: "3",
    BOOTSTRAP_WAIT_RETRIES: "3",
    BOOTSTRAP_PROBE_RETRIES: "2",
    STUB_CTL: node.ctl,
    STUB_CALLS: node.callsFile,
    ...env,
  };
}

/** The command that runs the installed script (for suites that run it another way). */
export function bootstrapInvocation(node: NodeRoot, env: Record<string, string> = {}, args: readonly string[] = []) {
  return { command: "bash", args: [node.script, ...args], env: bootstrapEnv(node, env) };
}

/** Runs the installed script; `args` e.g. ["upgrade"] for the upgrade agent. */
export function runBootstrap(node: NodeRoot, env: Record<string, string> = {}, args: readonly string[] = []): BootstrapRun {
  const inv = bootstrapInvocation(node, env, args);
  const r = spawnSync(inv.command, inv.args, { env: inv.env, encoding: "utf8", timeout: 60_000 });
  if (r.error) throw r.error;
  const output = (r.stdout ?? "") + (r.stderr ?? "");
  const lines = output.split("\n").filter((l) => l.length > 0);
  return { code: r.status, output, lines, lastLine: lines[lines.length - 1] ?? "" };
}

/** Every stub call so far, one "<command> <args>" string each. */
export function readCalls(node: NodeRoot): string[] {
  if (!fs.existsSync(node.callsFile)) return [];
  return fs.readFileSync(node.callsFile, "utf8").split("\n").filter((l) => l.length > 0);
}

export function resetCalls(node: NodeRoot): void {
  fs.rmSync(node.callsFile, { force: true });
}

export function readLog(node: NodeRoot): string {
  const file = inRoot(node, NODE_LAYOUT.log);
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
}

export interface BootstrapStatus {
  phase: string;
  started: string;
  finished: string | null;
  result: "running" | "succeeded" | "failed";
  error: string | null;
}

export function readStatus(node: NodeRoot): BootstrapStatus {
  return JSON.parse(fs.readFileSync(path.join(inRoot(node, NODE_LAYOUT.stateDir), "status.json"), "utf8"));
}

/** Contents of the files given to `kubectl apply -f`, in order. */
export function appliedManifests(node: NodeRoot): string[] {
  const dir = path.join(node.ctl, "applied");
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).sort((a, b) => Number(a) - Number(b)).map((f) => fs.readFileSync(path.join(dir, f), "utf8"));
}

/** Index of the first call matching `pattern` (substring or RegExp), -1 when absent. */
export function callIndex(calls: readonly string[], pattern: string | RegExp): number {
  return calls.findIndex((c) => (typeof pattern === "string" ? c.includes(pattern) : pattern.test(c)));
}

export function removeNodeRoot(node: NodeRoot): void {
  fs.rmSync(node.dir, { recursive: true, force: true });
}

/** Env that points the upgrade agent at the stub metadata server and SSM endpoint. */
export const UPGRADE_SEAMS = { BOOTSTRAP_IMDS_ENDPOINT: IMDS_ENDPOINT, BOOTSTRAP_SSM_ENDPOINT: SSM_ENDPOINT };

/**
 * The desired version on the node's upgrade channel: the SSM parameter (answered only to a SigV4
 * request with the instance role's IMDSv2 credentials), the project metadata key, or the file the
 * SSH provisioner writes. `null`: the parameter / key / file does not exist.
 */
export function serveDesiredVersion(node: NodeRoot, version: string | null): SecretFixture {
  const f = serveSecretsFixture();
  const channel = node.settings.UPGRADE_CHANNEL;
  fs.rmSync(path.join(node.ctl, "http"), { recursive: true, force: true });
  if (channel === "aws-ssm") {
    serveImdsCredentials(node, f);
    const body = version === null
      ? JSON.stringify({ __type: "ParameterNotFound", message: "" })
      : JSON.stringify({ Parameter: { Name: SSM_PARAMETER, Type: "String", Value: version, Version: 3, ARN: `arn:aws:ssm:eu-west-1:123456789012:parameter${SSM_PARAMETER}` } });
    httpRespond(node, `POST ${SSM_ENDPOINT}/`, version === null ? 400 : 200, body, {
      require: [`user ${f.accessKeyId}:${f.secretAccessKey}`, `x-amz-security-token: ${f.sessionToken}`, "aws-sigv4 aws:amz:eu-west-1:ssm",
        "X-Amz-Target: AmazonSSM.GetParameter", "Content-Type: application/x-amz-json-1.1", `data {"Name":"${SSM_PARAMETER}"}`],
    });
  } else if (channel === "gce-metadata") {
    httpRespond(node, `GET ${IMDS_ENDPOINT}/computeMetadata/v1/project/attributes/${GCE_UPGRADE_KEY}`, version === null ? 404 : 200,
      version ?? "", { require: ["Metadata-Flavor: Google"] });
  } else if (channel === "file") {
    const file = inRoot(node, NODE_LAYOUT.desiredVersion);
    if (version === null) fs.rmSync(file, { force: true });
    else write(file, `${version}\n`);
  } else {
    throw new Error("serveDesiredVersion: create the node with the upgrade option");
  }
  return { ...f, values: Object.values(f) };
}

export const S3_ENDPOINT = "https://s3.stub";
export const GCS_ENDPOINT = "https://storage.stub";
/** Env that points the backup agent at the stub metadata server and buckets. */
export const BACKUP_SEAMS = { BOOTSTRAP_IMDS_ENDPOINT: IMDS_ENDPOINT, BOOTSTRAP_S3_ENDPOINT: S3_ENDPOINT, BOOTSTRAP_GCS_ENDPOINT: GCS_ENDPOINT };

/**
 * The backup bucket of the node's BACKUP_TARGET answering `status` to every upload: S3 PutObject
 * (SigV4 with the instance role's IMDSv2 credentials, the payload's sha256 signed, `x-amz-content-sha256`)
 * or a GCS media upload with the service account's token. Uploads must carry `snapshot`'s sha256.
 */
export function serveBackupBucket(node: NodeRoot, snapshot: string, status = 200): SecretFixture {
  const f = serveSecretsFixture();
  fs.rmSync(path.join(node.ctl, "http"), { recursive: true, force: true });
  const digest = sha256(snapshot);
  const location = node.settings.BACKUP_LOCATION;
  if (node.settings.BACKUP_TARGET === "aws-s3") {
    serveImdsCredentials(node, f);
    httpRespond(node, `PUT ${S3_ENDPOINT}/${location.slice("s3://".length)}/`, status, status === 200 ? "" : `<Error><Code>${status === 403 ? "AccessDenied" : "NoSuchBucket"}</Code></Error>`, {
      require: [`user ${f.accessKeyId}:${f.secretAccessKey}`, `x-amz-security-token: ${f.sessionToken}`, "aws-sigv4 aws:amz:eu-west-1:s3", `x-amz-content-sha256: ${digest}`, `upload-sha256 ${digest}`],
    });
  } else if (node.settings.BACKUP_TARGET === "gce-gcs") {
    httpRespond(node, `GET ${IMDS_ENDPOINT}/computeMetadata/v1/instance/service-accounts/default/token`, 200,
      JSON.stringify({ access_token: f.accessToken, expires_in: 3599, token_type: "Bearer" }), { require: ["Metadata-Flavor: Google"] });
    const [bucket, ...prefix] = location.slice("gs://".length).split("/");
    httpRespond(node, `POST ${GCS_ENDPOINT}/upload/storage/v1/b/${bucket}/o?uploadType=media&ifGenerationMatch=0&name=${[...prefix, ""].join("%2F")}`, status,
      status === 200 ? "{}" : JSON.stringify({ error: { code: status, message: "stub", status: status === 403 ? "PERMISSION_DENIED" : "NOT_FOUND" } }), {
        require: [`Authorization: Bearer ${f.accessToken}`, "Content-Type: application/octet-stream", `upload-sha256 ${digest}`],
      });
  } else {
    throw new Error("serveBackupBucket: create the node with an aws-s3 or gce-gcs backup");
  }
  return { ...f, values: Object.values(f) };
}

/** IMDSv2 as EC2 answers it: a token for the PUT, then the instance role and its credentials, only with that token. */
function serveImdsCredentials(node: NodeRoot, f: ReturnType<typeof serveSecretsFixture>): void {
  const imds = `X-aws-ec2-metadata-token: ${f.imdsToken}`;
  httpRespond(node, `PUT ${IMDS_ENDPOINT}/latest/api/token`, 200, f.imdsToken, { require: ["X-aws-ec2-metadata-token-ttl-seconds: 300"] });
  httpRespond(node, `GET ${IMDS_ENDPOINT}/latest/meta-data/iam/security-credentials/${AWS_ROLE}`, 200,
    JSON.stringify({ Code: "Success", Type: "AWS-HMAC", AccessKeyId: f.accessKeyId, SecretAccessKey: f.secretAccessKey, Token: f.sessionToken, Expiration: "2026-12-01T12:00:00Z" }), { require: [imds] });
  httpRespond(node, `GET ${IMDS_ENDPOINT}/latest/meta-data/iam/security-credentials/`, 200, `${AWS_ROLE}\n`, { require: [imds] });
}

function serveSecretsFixture() {
  return {
    imdsToken: "IMDS-TOKEN-AQAEAOiYzJ8", accessKeyId: "ASIASTUBACCESSKEYID01", secretAccessKey: "stubSecretAccessKey/0123456789+abcdefghij",
    sessionToken: "IQoJb3JpZ2luX2VjEStubSessionToken==", accessToken: "ya29.stub-access-token",
  };
}

/** The Lease kube-system/cdktf-kubeadm-upgrade as the stub API holds it (undefined: absent). */
export function readLease(node: NodeRoot): { metadata: { resourceVersion: string }; spec: Record<string, unknown> } | undefined {
  const file = path.join(node.ctl, "lease");
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : undefined;
}

/** A Lease held by `holder`, renewed `ageSeconds` ago, for `durationSeconds`. */
export function setLease(node: NodeRoot, holder: string | null, ageSeconds = 0, durationSeconds = 3600): void {
  const renew = new Date(Date.now() - ageSeconds * 1000).toISOString().replace(/\.\d+Z$/, ".000000Z");
  setControl(node, "lease", JSON.stringify({
    apiVersion: "coordination.k8s.io/v1", kind: "Lease",
    metadata: { name: "cdktf-kubeadm-upgrade", namespace: "kube-system", resourceVersion: "7" },
    spec: { ...(holder ? { holderIdentity: holder } : {}), leaseDurationSeconds: durationSeconds, acquireTime: renew, renewTime: renew, leaseTransitions: 2 },
  }));
}

/** "<create|replace> <holderIdentity>" per write of the Lease, in order. */
export function leaseHistory(node: NodeRoot): string[] {
  const file = path.join(node.ctl, "lease-history");
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0) : [];
}

export interface UpgradeStatus {
  from: string;
  to: string;
  phase: string;
  result: "running" | "succeeded" | "failed";
  error: string | null;
  time: string;
}

/** This node's key of ConfigMap kube-system/cdktf-kubeadm-upgrade-status (undefined: none). */
export function readUpgradeStatus(node: NodeRoot, nodeName = node.settings.NODE_NAME): UpgradeStatus | undefined {
  const file = path.join(node.ctl, "cm-cdktf-kubeadm-upgrade-status.json");
  if (!fs.existsSync(file)) return undefined;
  const v = JSON.parse(fs.readFileSync(file, "utf8")).data[nodeName];
  return v === undefined ? undefined : JSON.parse(v);
}

/** createNodeRoot for one suite: call at the top of a test file; every node is removed after it. */
export function suiteNodes(): (opts?: NodeOptions) => NodeRoot {
  const created: NodeRoot[] = [];
  afterAll(() => created.forEach(removeNodeRoot));
  return (opts = {}) => {
    const n = createNodeRoot(opts);
    created.push(n);
    return n;
  };
}
