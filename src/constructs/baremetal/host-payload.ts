/**
 * One host's payload: its role's node files (from KubeadmCluster) with the host's own values
 * (advertise address, kubelet node IP, worker node name), rendered two ways from the same list:
 * a NoCloud `#cloud-config` (write_files + runcmd) and a shell installer for SSH delivery.
 */
import { createHash } from "crypto";
import * as yaml from "js-yaml";
import type { NodeFile } from "../../bootstrap/cloud-init";
import { NODE_LAYOUT } from "../../bootstrap/node-layout";
import { controlPlaneNodeName, roleName } from "../../bootstrap/spec";
import { hasTokens } from "../terraform-string";
import type { ResolvedHost } from "./hosts";
import { KUBE_VIP_LAYOUT, MANIFESTS_DIR_PREFLIGHT } from "./kube-vip";

export interface HostPayload {
  readonly host: ResolvedHost;
  /** Kubernetes node name. */
  readonly nodeName: string;
  /** Files in write order (the cloud-config's write_files). */
  readonly files: NodeFile[];
  /** What runs after the files are in place (the cloud-config's runcmd). */
  readonly entry: string;
  /** sha256 (hex) over files and entry: changes exactly when the payload does. */
  readonly sha256: string;
  /**
   * What the SSH provisioner's `triggers_replace` holds: `sha256` on control-plane hosts; on
   * workers the same hash over the payload with the Kubernetes version masked (K8S_VERSION,
   * K8S_MINOR, the package repository's minor, the pause image tag), so a version bump re-runs
   * no worker (workers have no upgrade agent; they are upgraded by re-provisioning) while every
   * other change still does.
   */
  readonly triggerSha256: string;
}

export interface HostPayloadOptions {
  readonly clusterName: string;
  /** Control-plane hosts run the kube-vip entry and may join with a non-empty manifests directory. */
  readonly kubeVip: boolean;
  /** The cluster's version ("1.36.4") and minor ("1.36"), masked in workers' trigger hashes. */
  readonly kubernetesVersion: string;
  readonly kubernetesMinor: string;
}

type Doc = Record<string, unknown>;
type Arg = { name: string; value: string };

function dumpDocs(docs: unknown[]): string {
  // Same options as kubeadm-config.ts, so untouched documents stay byte-identical.
  return docs.map((d) => yaml.dump(d, { lineWidth: -1, noRefs: true })).join("---\n");
}

function withArg(list: unknown, name: string, value: string): Arg[] {
  const args = (Array.isArray(list) ? (list as Arg[]) : []).filter((a) => a.name !== name);
  return [...args, { name, value }].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function patchRegistration(doc: Doc, host: ResolvedHost, opts: HostPayloadOptions): void {
  const reg = { ...((doc.nodeRegistration as Doc | undefined) ?? {}) };
  // Multi-homed hosts: kubelet would otherwise pick the default-route interface's address.
  reg.kubeletExtraArgs = withArg(reg.kubeletExtraArgs, "node-ip", host.internalAddress);
  if (host.role.kind === "worker") reg.name = host.name;
  if (opts.kubeVip && host.role.kind === "control-plane" && doc.kind === "JoinConfiguration") {
    // The kube-vip static pod is in /etc/kubernetes/manifests before a control-plane join.
    const ignored = Array.isArray(reg.ignorePreflightErrors) ? (reg.ignorePreflightErrors as string[]) : [];
    reg.ignorePreflightErrors = [...new Set([...ignored, MANIFESTS_DIR_PREFLIGHT])];
  }
  doc.nodeRegistration = reg;
}

/** Adds the host's values to InitConfiguration / JoinConfiguration documents. */
export function patchKubeadmConfig(text: string, host: ResolvedHost, opts: HostPayloadOptions): string {
  const docs = yaml.loadAll(text) as Doc[];
  for (const doc of docs) {
    if (!doc || typeof doc !== "object") continue;
    if (doc.kind === "InitConfiguration") {
      patchRegistration(doc, host, opts);
      doc.localAPIEndpoint = { ...((doc.localAPIEndpoint as Doc | undefined) ?? {}), advertiseAddress: host.internalAddress };
    } else if (doc.kind === "JoinConfiguration") {
      patchRegistration(doc, host, opts);
      const cp = doc.controlPlane as Doc | undefined;
      if (cp) cp.localAPIEndpoint = { ...((cp.localAPIEndpoint as Doc | undefined) ?? {}), advertiseAddress: host.internalAddress };
    }
  }
  return dumpDocs(docs);
}

/** The host's files: the role's files with the host's values, ready for either delivery. */
export function hostPayload(roleFiles: readonly NodeFile[], host: ResolvedHost, opts: HostPayloadOptions): HostPayload {
  const nodeName = host.role.kind === "control-plane" ? controlPlaneNodeName(opts.clusterName, host.role.slot) : host.name;
  const files = roleFiles.map((file): NodeFile => {
    if (hasTokens(file.content)) {
      throw new Error(`cdktf-kubeadm: ${file.path} of ${roleName(host.role)} contains a Terraform reference; bare-metal payloads must be known at synth`);
    }
    if (file.path === NODE_LAYOUT.initConfig || file.path === NODE_LAYOUT.joinConfig) {
      return { ...file, content: patchKubeadmConfig(file.content, host, opts) };
    }
    if (file.path === NODE_LAYOUT.settings && host.role.kind === "worker") {
      // The bootstrap checks registration under NODE_NAME (else the machine's hostname).
      return { ...file, content: `${file.content.replace(/^NODE_NAME=.*\n/m, "")}NODE_NAME='${nodeName}'\n` };
    }
    return file;
  });
  const entry = opts.kubeVip && host.role.kind === "control-plane" ? KUBE_VIP_LAYOUT.entry : NODE_LAYOUT.script;
  const sha256 = payloadHash(files, entry);
  const triggerSha256 = host.role.kind === "worker" ? payloadHash(files.map((f) => ({ ...f, content: withoutVersion(f, opts) })), entry) : sha256;
  return { host, nodeName, files, entry, sha256, triggerSha256 };
}

function payloadHash(files: readonly NodeFile[], entry: string): string {
  const hash = createHash("sha256");
  for (const f of files) hash.update(`${f.path}\0${f.permissions}\0${f.owner}\0${f.content.length}\0${f.content}\0`);
  hash.update(`entry\0${entry}`);
  return hash.digest("hex");
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * A file's content with the Kubernetes version and what derives from it replaced by placeholders:
 * the version ("1.36.4"), the minor ("1.36", as in K8S_MINOR and the package repository's /v1.36/)
 * and the pause image tag in SANDBOX_IMAGE (kubeadm's per minor).
 */
export function withoutVersion(file: NodeFile, opts: Pick<HostPayloadOptions, "kubernetesVersion" | "kubernetesMinor">): string {
  let text = file.content.split(opts.kubernetesVersion).join("<kubernetes-version>");
  text = text.replace(new RegExp(`(?<![0-9.])${escapeRegExp(opts.kubernetesMinor)}(?![0-9])`, "g"), "<kubernetes-minor>");
  if (file.path === NODE_LAYOUT.settings) text = text.replace(/^(SANDBOX_IMAGE='[^'\n]*:)[^':\n]*'$/m, "$1<pause-tag>'");
  return text;
}

/** NoCloud `user-data`: the same shape as KubeadmCluster's cloud-config, with the host's entry. */
export function renderHostCloudConfig(payload: HostPayload): string {
  const doc = { write_files: payload.files, runcmd: [[payload.entry]] };
  return `#cloud-config\n${yaml.dump(doc, { lineWidth: -1, noRefs: true })}`;
}

/**
 * NoCloud `meta-data`. The instance id is stable per host: a changed payload must not make
 * cloud-init treat an installed node as a new instance and run the bootstrap again.
 */
export function renderMetaData(clusterName: string, host: ResolvedHost): string {
  return yaml.dump({ "instance-id": `${clusterName}-${host.name}`, "local-hostname": host.name }, { lineWidth: -1 });
}

function wrap(base64: string): string {
  return base64.replace(/.{1,76}/g, "$&\n");
}

/**
 * Shell installer for SSH delivery: writes the payload's files (under BOOTSTRAP_ROOT when set)
 * atomically with their modes and owners, then deletes itself. Prints file names, never contents.
 */
export function renderInstaller(payload: HostPayload, clusterName: string): string {
  const lines = [
    "#!/usr/bin/env bash",
    `# cdktf-kubeadm payload of host ${payload.host.name} (${roleName(payload.host.role)}, node ${payload.nodeName}) in cluster ${clusterName}.`,
    "# Writes the files of the host's cloud-config (write_files), under BOOTSTRAP_ROOT when set, then",
    `# deletes itself. Run ${payload.entry} afterwards. payload sha256 ${payload.sha256}`,
    "set -euo pipefail",
    'rm -f -- "$0"',
    "umask 022",
    "R=${BOOTSTRAP_ROOT:-}",
    "# put PATH MODE OWNER: base64 content on stdin; temporary dot file + rename (kubelet skips dot files)",
    "put() {",
    '  local f=$R$1 t',
    '  mkdir -p -- "${f%/*}"',
    '  t=$(mktemp -- "${f%/*}/.cdktf-kubeadm.XXXXXX")',
    '  base64 -d >"$t"',
    '  chmod "$2" -- "$t"',
    '  if ((EUID == 0)); then chown "$3" -- "$t"; fi',
    '  mv -f -- "$t" "$f"',
    "}",
  ];
  for (const file of payload.files) {
    if (!/^\/[A-Za-z0-9_./-]+$/.test(file.path) || !/^0[0-7]{3}$/.test(file.permissions) || !/^[a-z_][a-z0-9_-]*:[a-z_][a-z0-9_-]*$/.test(file.owner)) {
      throw new Error(`cdktf-kubeadm: cannot install ${JSON.stringify(file.path)} (${file.permissions} ${file.owner}) from a shell payload`);
    }
    lines.push(`put ${file.path} ${file.permissions} ${file.owner} <<'EOF'`);
    lines.push(wrap(Buffer.from(file.content, "utf8").toString("base64")) + "EOF");
  }
  lines.push(`echo "cdktf-kubeadm: installed ${payload.files.length} files for ${payload.host.name} (payload ${payload.sha256.slice(0, 12)})"`);
  return lines.join("\n") + "\n";
}
