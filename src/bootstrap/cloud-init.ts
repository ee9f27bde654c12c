/**
 * Renders a node's `#cloud-config`: write_files (bootstrap script, settings, kubeadm configs and,
 * for control-plane roles only, the shared CA material) and a runcmd that starts the bootstrap.
 * The text may contain cdktf tokens (the API endpoint host); the construct turns it into a
 * Terraform `base64gzip(...)` expression.
 */
import * as yaml from "js-yaml";
import { DrainKind, fullScript, loaderScript, scriptSha256 } from "./bootstrap-script";
import { CONTAINERD_VERSION_PREFIX, PINNED_CNI, pauseImageTag } from "./catalog";
import { kubernetesServiceIp } from "./cidr";
import { renderInitConfig, renderJoinConfig, renderUpgradeConfig, KubeadmContext } from "./kubeadm-config";
import { kubeadmPatchFiles } from "./kubeadm-patches";
import { registryMirrorFiles } from "./mirrors";
import { NODE_LAYOUT } from "./node-layout";
import { goDurationSeconds } from "./resolve-cluster";
import type { ClusterPki } from "./pki";
import { BOOTSTRAP_TOKEN_PLACEHOLDER, pkiFiles, SecretSource, secretAudience, secretSettings } from "./secret-bundle";
import type { NodeRole, ResolvedCluster } from "./spec";
import { controlPlaneNodeName } from "./spec";
import { backupSettings, EtcdBackup } from "./etcd-backup";
import { UpgradeChannel, upgradeSettings } from "./upgrade-channel";

export interface NodePayloadInput {
  readonly cluster: ResolvedCluster;
  readonly role: NodeRole;
  readonly pki: ClusterPki;
  readonly caCertHash: string;
  /** Host of the API endpoint (LB DNS name, VIP, address); may be a cdktf token. */
  readonly controlPlaneEndpointHost: string;
  /**
   * host:port of control-plane peers a joining control-plane node may use directly (GCE: an LB
   * backend cannot reach the LB address itself). @default none
   */
  readonly controlPlanePeerEndpoints?: string[];
  /**
   * While a control-plane node joins through a peer, DNAT its traffic for the API endpoint to that
   * peer (GCE: the LB address is answered by the node itself). Control-plane roles only. @default false
   */
  readonly apiHairpinDnat?: boolean;
  /** Platform files for this role (e.g. the kube-vip static pod on bare metal). @default none */
  readonly extraFiles?: readonly NodeFile[];
  /**
   * Keep the secrets (CA keys, sa.key, the join token) out of user data: the node reads them at
   * boot from this secret store (the bundle `secretBundle()` renders) and user data carries only
   * the reference. @default the secrets travel in user data (bare metal)
   */
  readonly secrets?: SecretSource;
  /**
   * Control-plane roles: where the upgrade agent reads the desired Kubernetes version (the agent's
   * timer runs only with a channel). Workers are replaced to upgrade and ignore it. @default none
   */
  readonly upgradeChannel?: UpgradeChannel;
  /**
   * Workers whose bootstrap fails power off this many minutes later, so that their autoscaling
   * group replaces them instead of keeping a running instance that never joined. @default never
   */
  readonly powerOffFailedWorkerMinutes?: number;
  /**
   * An autoscaling group's launch lifecycle hook that holds each new worker until it has joined:
   * the worker completes it (CONTINUE) after kubeadm join, abandons it when its bootstrap fails,
   * and heartbeats it when it starts waiting for the control plane. AWS only (the secret store's
   * code signs the calls). @default none
   */
  readonly workerJoinedHook?: WorkerJoinedHook;
  /**
   * Workers drain before their machine goes away: cordon, evict their pods (PodDisruptionBudgets
   * honoured) for at most the pool's timeout, delete their Node. Control-plane nodes let nodes
   * delete their own Node. @default no drain (bare metal: nothing terminates a host)
   */
  readonly drain?: NodeDrain;
  /**
   * Control-plane roles: scheduled etcd snapshots (the backup agent's timer), stored in its target.
   * @default no backups
   */
  readonly etcdBackup?: EtcdBackup;
  /** AWS: the region of the bucket `cluster.restore` names (the provider's). @default none */
  readonly restoreRegion?: string;
}

/** Drain before termination (NodePayloadInput.drain). */
export interface NodeDrain {
  readonly kind: DrainKind;
  /** Seconds of evictions before a worker of this pool goes anyway. */
  readonly timeoutSeconds: (pool: string) => number;
  /** AWS: the termination lifecycle hook of every pool's group, completed once drained. */
  readonly terminationHookName?: string;
}

export { bootstrapScript, bootstrapScriptSource, fullScript, loaderScript } from "./bootstrap-script";

/** KEY='value' lines; values never contain a single quote (validated inputs, DNS names). */
function shellSettings(settings: Record<string, string | undefined>): string {
  return Object.entries(settings)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([key, value]) => {
      if (value.includes("'")) throw new Error(`cdktf-kubeadm: setting ${key} contains a single quote: ${value}`);
      return `${key}='${value}'\n`;
    })
    .join("");
}

/**
 * Renew a certificate when a third of its lifetime is left, and at most 90 days before it expires:
 * a fixed 90 days would renew 30-day certificates (720 h) on every daily run, restarting every
 * static Pod, etcd included, each time.
 */
export function certificateRenewalDays(certificateValidityHours: number): number {
  return Math.max(1, Math.min(90, Math.floor(certificateValidityHours / 24 / 3)));
}

/** A launch lifecycle hook of a worker pool's group (see NodePayloadInput.workerJoinedHook). */
export interface WorkerJoinedHook {
  readonly hookName: string;
  readonly region: string;
  /** The autoscaling group of a pool. */
  readonly groupName: (pool: string) => string;
}

export function renderSettings(input: NodePayloadInput): string {
  const { cluster, role } = input;
  const isControlPlane = role.kind === "control-plane";
  const cni = cluster.cni;
  const minor = Number(cluster.kubernetesMinor.split(".")[1]);
  // arm64 artefact of the pinned cilium-cli; an overridden URL has none (an aarch64 node says so)
  const arm64 = isControlPlane && cni.plugin === "cilium" && cni.manifestUrl === PINNED_CNI.cilium.url ? PINNED_CNI.cilium.arm64 : undefined;
  return shellSettings({
    CLUSTER_NAME: cluster.name,
    NODE_ROLE: role.kind,
    CP_SLOT: isControlPlane ? String(role.slot) : undefined,
    NODE_NAME: isControlPlane ? controlPlaneNodeName(cluster.name, role.slot) : undefined,
    API_ENDPOINT: `${input.controlPlaneEndpointHost}:${cluster.controlPlane.apiServerPort}`,
    API_PEER_ENDPOINTS: isControlPlane && input.controlPlanePeerEndpoints?.length ? input.controlPlanePeerEndpoints.join(" ") : undefined,
    API_HAIRPIN_DNAT: isControlPlane && input.apiHairpinDnat ? "1" : undefined,
    CERT_RENEW_DAYS: isControlPlane ? String(certificateRenewalDays(cluster.pki.certificateValidityHours)) : undefined,
    K8S_VERSION: cluster.kubernetesVersion,
    K8S_MINOR: cluster.kubernetesMinor,
    PKG_REPO_URL: cluster.packageRepositoryUrl,
    PKG_KEY_FINGERPRINT: cluster.sources.packageKeyFingerprint,
    IMAGE_REPOSITORY: isControlPlane ? cluster.imageRepository : undefined,
    SANDBOX_IMAGE: `${cluster.imageRepository}/pause:${pauseImageTag(minor)}`,
    CONTAINERD_REPO_URL: cluster.containerdRepositoryUrl,
    CONTAINERD_KEY_FINGERPRINT: cluster.sources.containerdKeyFingerprint,
    CONTAINERD_VERSION_PREFIX,
    POD_CIDR: cluster.networking.podCidr,
    // The kubernetes Service's ClusterIP: preflight checks the node has a route to it.
    SERVICE_IP: kubernetesServiceIp(cluster.networking.serviceCidr),
    CNI_PLUGIN: isControlPlane ? cni.plugin : undefined,
    CNI_VERSION: isControlPlane && cni.plugin !== "none" ? cni.version : undefined,
    CNI_URL: isControlPlane && cni.plugin !== "none" ? cni.manifestUrl : undefined,
    CNI_SHA256: isControlPlane && cni.plugin !== "none" ? cni.manifestSha256 : undefined,
    CNI_URL_ARM64: arm64?.url,
    CNI_SHA256_ARM64: arm64?.sha256,
    HTTP_PROXY: cluster.proxy.httpProxy,
    HTTPS_PROXY: cluster.proxy.httpsProxy,
    NO_PROXY: cluster.proxy.httpProxy || cluster.proxy.httpsProxy ? [...cluster.proxy.noProxy, input.controlPlaneEndpointHost].join(",") : undefined,
    ...(input.secrets ? secretSettings(input.secrets) : {}),
    // The loader installs the full script from the bundle only if it has this digest.
    BOOTSTRAP_SHA256: input.secrets ? scriptSha256(fullScript(input)) : undefined,
    ...(isControlPlane ? upgradeSettings(input.upgradeChannel) : {}),
    ...(isControlPlane ? backupSettings(input.etcdBackup) : {}),
    // only slot 0 may init, so only slot 0 restores; the others join the restored cluster
    RESTORE_SNAPSHOT: role.kind === "control-plane" && role.slot === 0 ? cluster.restore?.snapshot : undefined,
    RESTORE_REGION: role.kind === "control-plane" && role.slot === 0 && cluster.restore?.snapshot.startsWith("s3://") ? input.restoreRegion : undefined,
    POWEROFF_MINUTES: role.kind === "worker" && input.powerOffFailedWorkerMinutes ? String(input.powerOffFailedWorkerMinutes) : undefined,
    ...(role.kind === "worker" && input.workerJoinedHook
      ? { LIFECYCLE_HOOK: input.workerJoinedHook.hookName, LIFECYCLE_GROUP: input.workerJoinedHook.groupName(role.pool), LIFECYCLE_REGION: input.workerJoinedHook.region }
      : {}),
    DRAIN_TIMEOUT: role.kind === "worker" && input.drain ? String(input.drain.timeoutSeconds(role.pool)) : undefined,
    TERMINATION_HOOK: role.kind === "worker" ? input.drain?.terminationHookName : undefined,
    // Workers join only once every control-plane Node runs their minor (a rolling upgrade of the control plane).
    CP_NODES: role.kind === "worker" ? Array.from({ length: cluster.controlPlane.replicas }, (_, slot) => controlPlaneNodeName(cluster.name, slot)).join(" ") : undefined,
    // The token agent registers a rotated token with this lifetime (0: never expires): the secret
    // store's timer and bare metal's SSH provisioner run it alike.
    BOOTSTRAP_TOKEN_TTL: isControlPlane ? String(goDurationSeconds(cluster.bootstrapTokenTtl)) : undefined,
  });
}

/** One file on the node, in cloud-init write_files shape. */
export interface NodeFile {
  readonly path: string;
  /** Octal mode, e.g. "0600". */
  readonly permissions: string;
  readonly owner: string;
  readonly content: string;
}

export function nodeFile(filePath: string, permissions: string, content: string): NodeFile {
  return { path: filePath, permissions, owner: "root:root", content };
}
const file = nodeFile;

/**
 * Shared PKI material (the CA keys on control-plane roles only; workers get the CA certificate).
 * With `secrets` set all of it comes from the bundle the node fetches: user data stays small.
 */
function nodePkiFiles(input: NodePayloadInput): NodeFile[] {
  if (input.secrets) return [];
  return pkiFiles(input.pki, secretAudience(input.role)).map((f) => file(f.path, f.permissions, f.content));
}

/** The files a node needs, in write order; shared by cloud-init and the SSH delivery. */
export function nodeFiles(input: NodePayloadInput): NodeFile[] {
  const { cluster, role } = input;
  const ctx: KubeadmContext = {
    controlPlaneEndpointHost: input.controlPlaneEndpointHost,
    // From the secret store: the script's secrets step puts the token in place of the placeholder.
    bootstrapToken: input.secrets ? BOOTSTRAP_TOKEN_PLACEHOLDER : input.pki.bootstrapToken,
    caCertHash: input.caCertHash,
  };
  const files = [
    // With a secret store the full script travels in the bundle: user data stays small.
    file(NODE_LAYOUT.script, "0755", input.secrets ? loaderScript(input.secrets.kind) : fullScript(input)),
    file(NODE_LAYOUT.settings, "0644", renderSettings(input)),
    // Both configs carry the join token: root only.
    file(NODE_LAYOUT.joinConfig, "0600", renderJoinConfig(cluster, role, ctx)),
  ];
  if (role.kind === "control-plane") {
    files.push(file(NODE_LAYOUT.initConfig, "0600", renderInitConfig(cluster, role.slot, ctx)));
    // Only the upgrade agent reads it, and it runs only with an upgrade channel.
    if (input.upgradeChannel) files.push(file(NODE_LAYOUT.upgradeConfig, "0644", renderUpgradeConfig(cluster, role.slot)));
  }
  const mirrors = registryMirrorFiles(cluster.sources.registryMirrors).map((f) => file(f.path, f.permissions, f.content));
  const patches = kubeadmPatchFiles(cluster, role).map((f) => file(f.path, "0644", f.content));
  return [...files, ...patches, ...nodePkiFiles(input), ...mirrors, ...(input.extraFiles ?? [])];
}

export function renderCloudConfig(input: NodePayloadInput): string {
  const doc = {
    // root:root is cloud-init's default owner: left out, it costs no user-data bytes
    write_files: nodeFiles(input).map(({ owner, ...f }) => (owner === "root:root" ? f : { ...f, owner })),
    runcmd: [[NODE_LAYOUT.script]],
  };
  // noArrayIndent: list items at the key's column, two spaces less on every line of every file
  return `#cloud-config\n${yaml.dump(doc, { lineWidth: -1, noRefs: true, noArrayIndent: true })}`;
}
