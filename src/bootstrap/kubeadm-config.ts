/**
 * kubeadm configuration (kubeadm.k8s.io/v1beta4) per node role, as multi-document YAML.
 * Control-plane nodes get InitConfiguration + ClusterConfiguration + KubeletConfiguration +
 * KubeProxyConfiguration (slot 0 inits with it; every slot uses it for image pulls) and a
 * JoinConfiguration; workers get a JoinConfiguration only.
 */
import * as yaml from "js-yaml";
import type { NodeRole, ResolvedCluster, Taint } from "./spec";
import { controlPlaneNodeName, findPool } from "./spec";
import { patchesField } from "./kubeadm-patches";

export const KUBEADM_API_VERSION = "kubeadm.k8s.io/v1beta4";
const CRI_SOCKET = "unix:///var/run/containerd/containerd.sock";
const CONTROL_PLANE_TAINT: Taint = { key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" };
/** Label that lets workloads select a pool. */
export const POOL_LABEL = "cdktf-kubeadm.io/pool";

/** Values the platform knows: the endpoint host may be a cdktf token (an LB DNS name). */
export interface KubeadmContext {
  readonly controlPlaneEndpointHost: string;
  readonly bootstrapToken: string;
  readonly caCertHash: string;
}

type Arg = { name: string; value: string };

function args(map: Record<string, string>): Arg[] {
  return Object.keys(map)
    .sort()
    .map((name) => ({ name, value: map[name] }));
}

function dump(docs: object[]): string {
  // lineWidth -1: never fold long values (tokens, hashes); noRefs: plain, reproducible output.
  return docs.map((d) => yaml.dump(d, { lineWidth: -1, noRefs: true })).join("---\n");
}

function endpoint(cluster: ResolvedCluster, ctx: KubeadmContext): string {
  return `${ctx.controlPlaneEndpointHost}:${cluster.controlPlane.apiServerPort}`;
}

function labelArg(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(",");
}

function nodeRegistration(cluster: ResolvedCluster, role: NodeRole): Record<string, unknown> {
  if (role.kind === "control-plane") {
    const extra: Record<string, string> = {};
    const labels = labelArg(cluster.controlPlane.labels);
    if (labels) extra["node-labels"] = labels;
    return {
      name: controlPlaneNodeName(cluster.name, role.slot),
      criSocket: CRI_SOCKET,
      taints: [CONTROL_PLANE_TAINT, ...cluster.controlPlane.taints],
      ...(Object.keys(extra).length ? { kubeletExtraArgs: args(extra) } : {}),
    };
  }
  const pool = findPool(cluster, role.pool);
  return {
    criSocket: CRI_SOCKET,
    // An explicit empty list: kubeadm adds no taint to workers either way, but say so.
    taints: pool.taints,
    // maxPods is a KubeletConfiguration field (the --max-pods flag is deprecated): it reaches each
    // pool's nodes as a kubeadm patch of the kubelet's config (kubeadm-patches.ts).
    kubeletExtraArgs: args({
      ...pool.kubeletExtraArgs,
      "node-labels": labelArg({ ...pool.labels, [POOL_LABEL]: pool.name }),
    }),
  };
}

export { findPool };

/** Timeouts only `kubeadm upgrade` reads: left out of init and join, where they would mislead. */
const UPGRADE_ONLY_TIMEOUTS: readonly string[] = ["upgradeManifests"];

/** `timeouts` only when some are set: otherwise kubeadm's defaults, and the config as before. */
function timeouts(cluster: ResolvedCluster, command: "init-join" | "upgrade"): { timeouts?: Record<string, string> } {
  const set = Object.entries(cluster.kubeadmTimeouts).filter(([key]) => command === "upgrade" || !UPGRADE_ONLY_TIMEOUTS.includes(key));
  return set.length > 0 ? { timeouts: Object.fromEntries(set) } : {};
}

function hours(h: number): string {
  return `${h}h0m0s`;
}

export function clusterConfiguration(cluster: ResolvedCluster, ctx: KubeadmContext): Record<string, unknown> {
  const cp = cluster.controlPlane;
  const etcd = cp.externalEtcd
    ? { external: { endpoints: cp.externalEtcd.endpoints, caFile: cp.externalEtcd.caFile, certFile: cp.externalEtcd.certFile, keyFile: cp.externalEtcd.keyFile } }
    : { local: { dataDir: "/var/lib/etcd", ...(Object.keys(cp.etcdExtraArgs).length ? { extraArgs: args(cp.etcdExtraArgs) } : {}) } };
  const withArgs = (extra: Record<string, string>) => (Object.keys(extra).length ? { extraArgs: args(extra) } : {});
  return {
    apiVersion: KUBEADM_API_VERSION,
    kind: "ClusterConfiguration",
    clusterName: cluster.name,
    kubernetesVersion: `v${cluster.kubernetesVersion}`,
    controlPlaneEndpoint: endpoint(cluster, ctx),
    imageRepository: cluster.imageRepository,
    encryptionAlgorithm: cluster.pki.keyAlgorithm,
    caCertificateValidityPeriod: hours(cluster.pki.caValidityHours),
    certificateValidityPeriod: hours(cluster.pki.certificateValidityHours),
    networking: {
      podSubnet: cluster.networking.podCidr,
      serviceSubnet: cluster.networking.serviceCidr,
      dnsDomain: cluster.networking.dnsDomain,
    },
    apiServer: {
      certSANs: [ctx.controlPlaneEndpointHost, ...cp.certSans],
      ...withArgs(cp.apiServerExtraArgs),
    },
    controllerManager: withArgs({ "node-cidr-mask-size": String(cluster.networking.nodeCidrMaskSize), ...cp.controllerManagerExtraArgs }),
    scheduler: withArgs(cp.schedulerExtraArgs),
    etcd,
  };
}

export function kubeletConfiguration(cluster: ResolvedCluster): Record<string, unknown> {
  return {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    ...cluster.kubeletConfiguration,
  };
}

export function kubeProxyConfiguration(cluster: ResolvedCluster): Record<string, unknown> {
  return {
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    clusterCIDR: cluster.networking.podCidr,
    ...cluster.kubeProxyConfiguration,
  };
}

/** InitConfiguration + ClusterConfiguration + KubeletConfiguration + KubeProxyConfiguration. */
export function renderInitConfig(cluster: ResolvedCluster, slot: number, ctx: KubeadmContext): string {
  const init = {
    apiVersion: KUBEADM_API_VERSION,
    kind: "InitConfiguration",
    bootstrapTokens: [
      {
        token: ctx.bootstrapToken,
        description: "cdktf-kubeadm node join token",
        ttl: cluster.bootstrapTokenTtl,
        usages: ["signing", "authentication"],
        groups: ["system:bootstrappers:kubeadm:default-node-token"],
      },
    ],
    nodeRegistration: nodeRegistration(cluster, { kind: "control-plane", slot }),
    localAPIEndpoint: { bindPort: cluster.controlPlane.apiServerPort },
    ...patchesField(cluster, { kind: "control-plane", slot }),
    ...timeouts(cluster, "init-join"),
  };
  return dump([init, clusterConfiguration(cluster, ctx), kubeletConfiguration(cluster), kubeProxyConfiguration(cluster)]);
}

/**
 * JoinConfiguration. Control-plane joiners have the shared CAs pre-placed, so no certificate key
 * is needed; discovery always pins the CA (never unsafe-skip).
 */
export function renderJoinConfig(cluster: ResolvedCluster, role: NodeRole, ctx: KubeadmContext): string {
  const join: Record<string, unknown> = {
    apiVersion: KUBEADM_API_VERSION,
    kind: "JoinConfiguration",
    discovery: {
      bootstrapToken: {
        // The bootstrap script may point this at a healthy peer (GCE hairpin); keep it on one line.
        apiServerEndpoint: endpoint(cluster, ctx),
        token: ctx.bootstrapToken,
        caCertHashes: [ctx.caCertHash],
      },
    },
    nodeRegistration: nodeRegistration(cluster, role),
    ...patchesField(cluster, role),
    ...timeouts(cluster, "init-join"),
  };
  if (role.kind === "control-plane") {
    join.controlPlane = { localAPIEndpoint: { bindPort: cluster.controlPlane.apiServerPort } };
  }
  return dump([join]);
}

/**
 * The UpgradeConfiguration of the upgrade agent's `kubeadm upgrade apply|node --config`: the
 * patches (without them the rewritten static Pod manifests would lose them) and the timeouts.
 * Flags cannot carry the timeouts, and kubeadm refuses --patches next to --config.
 */
export function renderUpgradeConfig(cluster: ResolvedCluster, slot: number): string {
  const patches = patchesField(cluster, { kind: "control-plane", slot });
  return dump([
    {
      apiVersion: KUBEADM_API_VERSION,
      kind: "UpgradeConfiguration",
      ...(patches.patches ? { apply: patches, node: patches } : {}),
      ...timeouts(cluster, "upgrade"),
    },
  ]);
}
