/**
 * The cluster model: what a user asks for (`ClusterSpec`, every field optional where a sane
 * default exists) and what the platforms consume (`ResolvedCluster`, defaults applied, validated).
 * Pure TypeScript: no cdktf types here, so the bootstrap side can be used and tested on its own.
 */
import type { RegistryMirrorSpec, ResolvedSources } from "./mirrors";

/** Container network plugin. `none`: bring your own (the cluster stays NotReady until you do). */
export type CniPlugin = "calico" | "flannel" | "cilium" | "none";

/** kube-proxy data-plane mode. */
export type KubeProxyMode = "iptables" | "ipvs" | "nftables";

/** Key algorithm of the CAs and of the leaf certificates kubeadm makes on the nodes. */
export type KeyAlgorithm = "ECDSA-P256" | "RSA-2048";

export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
}

export interface NetworkingSpec {
  /** @default "10.244.0.0/16" */
  readonly podCidr?: string;
  /** @default "10.96.0.0/12" */
  readonly serviceCidr?: string;
  /** @default "cluster.local" */
  readonly dnsDomain?: string;
  /** Size of the pod range each node gets. @default 24 */
  readonly nodeCidrMaskSize?: number;
}

export interface ExternalEtcdSpec {
  /** Client URLs, e.g. `https://10.0.0.10:2379`. */
  readonly endpoints: string[];
  /** Paths on the control-plane nodes. */
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface ControlPlaneSpec {
  /** 1, 3 or 5 (etcd quorum). @default 1 */
  readonly replicas?: number;
  /** @default 6443 */
  readonly apiServerPort?: number;
  /** Extra subject alternative names for the API server certificate. @default [] */
  readonly certSans?: string[];
  /** External etcd; stacked etcd on the control-plane nodes when absent. @default stacked */
  readonly externalEtcd?: ExternalEtcdSpec;
  /** Extra flags per control-plane component. @default {} */
  readonly apiServerExtraArgs?: Record<string, string>;
  readonly controllerManagerExtraArgs?: Record<string, string>;
  readonly schedulerExtraArgs?: Record<string, string>;
  readonly etcdExtraArgs?: Record<string, string>;
  /** Labels and taints of the control-plane nodes (kubeadm's control-plane taint is always kept). */
  readonly labels?: Record<string, string>;
  readonly taints?: Taint[];
}

export interface NodePoolSpec {
  /** DNS label, unique in the cluster. */
  readonly name: string;
  /** @default 1 */
  readonly minSize?: number;
  /** @default max(minSize, desiredSize, 3) */
  readonly maxSize?: number;
  /** @default minSize */
  readonly desiredSize?: number;
  /** @default {} */
  readonly labels?: Record<string, string>;
  /** @default [] */
  readonly taints?: Taint[];
  /** kubelet flags, as `--name=value` without the dashes. @default {} */
  readonly kubeletExtraArgs?: Record<string, string>;
  /** @default 110 */
  readonly maxPods?: number;
}

export interface CniSpec {
  /** @default "calico" */
  readonly plugin?: CniPlugin;
  /**
   * Override the pinned manifest (air-gapped mirrors, newer versions). Both fields together.
   * @default the pinned manifest of the plugin's pinned version
   */
  readonly manifestUrl?: string;
  readonly manifestSha256?: string;
  /**
   * Accept an `http://` manifestUrl (a lab or air-gapped mirror without TLS); the checksum still
   * pins what is applied. @default false (https only)
   */
  readonly allowPlainHttp?: boolean;
}

export interface ProxySpec {
  readonly httpProxy?: string;
  readonly httpsProxy?: string;
  /** Extra NO_PROXY entries; pod, service and node ranges, cluster domain and API endpoint are always added. */
  readonly noProxy?: string[];
}

export interface PkiSpec {
  /** @default "ECDSA-P256" (small user data; kubeadm supports it since v1beta4) */
  readonly keyAlgorithm?: KeyAlgorithm;
  /** CA validity in hours. @default 87600 (10 years) */
  readonly caValidityHours?: number;
  /** Leaf (admin client, and kubeadm's node leaves) validity in hours. @default 8760 (1 year) */
  readonly certificateValidityHours?: number;
}

export interface ClusterSpec {
  /** DNS label (lowercase alphanumerics and '-', at most 40 characters so derived names fit). */
  readonly name: string;
  /** Full patch version, e.g. "1.36.4". @default DEFAULT_KUBERNETES_VERSION */
  readonly kubernetesVersion?: string;
  readonly networking?: NetworkingSpec;
  readonly controlPlane?: ControlPlaneSpec;
  /** @default one pool "default" of 1..3 nodes */
  readonly nodePools?: NodePoolSpec[];
  readonly cni?: CniSpec;
  /** @default "iptables" */
  readonly kubeProxyMode?: KubeProxyMode;
  /** Registry for control-plane images (air-gapped mirrors). @default "registry.k8s.io" */
  readonly imageRepository?: string;
  /**
   * Base of the Kubernetes deb repository; `/v1.NN/deb/` is appended.
   * @default "https://pkgs.k8s.io/core:/stable:"
   */
  readonly packageRepositoryBaseUrl?: string;
  /**
   * Base of Docker's deb repository that provides containerd.io; `/ubuntu` or `/debian` is appended
   * on the node (air-gapped mirrors must keep that layout and Docker's signing key).
   * @default "https://download.docker.com/linux"
   */
  readonly containerdRepositoryUrl?: string;
  /**
   * Primary key fingerprint (40 hex digits) that the Kubernetes package repository's Release.key
   * must have: set it for a mirror that re-signs what it mirrors (Aptly, Artifactory, Nexus).
   * @default pkgs.k8s.io's key
   */
  readonly packageRepositoryKeyFingerprint?: string;
  /** The same for the containerd.io repository (`containerdRepositoryUrl`). @default Docker's key */
  readonly containerdRepositoryKeyFingerprint?: string;
  /**
   * containerd registry mirrors by the registry they stand in for (e.g. "registry.k8s.io",
   * "docker.io", "ghcr.io"): every image pull on every node, the CNI's too, tries the mirror first.
   * @default none
   */
  readonly registryMirrors?: Readonly<Record<string, RegistryMirrorSpec>>;
  readonly proxy?: ProxySpec;
  /** KubeletConfiguration fields merged over ours (kubelet.config.k8s.io/v1beta1). @default {} */
  readonly kubeletConfiguration?: Record<string, unknown>;
  /** KubeProxyConfiguration fields merged over ours (kubeproxy.config.k8s.io/v1alpha1). @default {} */
  readonly kubeProxyConfiguration?: Record<string, unknown>;
  readonly pki?: PkiSpec;
  /** Bootstrap token lifetime, Go duration. "0s" never expires (autoscaled pools join any time). @default "0s" */
  readonly bootstrapTokenTtl?: string;
  /**
   * Rotate the join token by setting or changing this label (e.g. "2026-12"): the next synth puts a
   * new token in the PKI store. With a secret store (AWS, GCE default) only the secrets change;
   * control-plane nodes register the new token within minutes and delete the old one.
   * @default "" (the token generated with the PKI store)
   */
  readonly bootstrapTokenRotation?: string;
  /**
   * kubeadm's own timeouts (the v1beta4 `timeouts` of InitConfiguration, JoinConfiguration and the
   * UpgradeConfiguration the upgrade agent runs `kubeadm upgrade` with).
   * Raise them for slow machines: `kubeadm init` gives a freshly started API server only
   * kubernetesAPICall (1m) to answer, which an emulated or heavily loaded machine can miss.
   * @default kubeadm's defaults
   */
  readonly kubeadmTimeouts?: KubeadmTimeouts;
  /**
   * kubeadm patches (v1beta4 `patches`): one strategic merge patch per target, written to
   * /etc/cdktf-kubeadm/patches on the nodes it concerns and applied by `kubeadm init`, `join` and
   * every `kubeadm upgrade`. For what the configuration API does not reach: a static Pod's probes,
   * resources or securityContext, CoreDNS's Deployment, or one KubeletConfiguration field per role.
   * @default no patches
   */
  readonly kubeadmPatches?: KubeadmPatches;
  /**
   * Rebuild a cluster whose control plane is gone from an etcd snapshot: control-plane slot 0,
   * finding no API server, restores it into its etcd data directory before `kubeadm init` (same
   * CAs, same service-account key: tokens and workers' certificates stay valid); the other slots
   * join it. Remove it once the cluster runs again. docs/etcd-backups.md has the procedure.
   * @default no restore
   */
  readonly restore?: RestoreSpec;
}

/** Where the snapshot to restore is (`ClusterSpec.restore`). */
export interface RestoreSpec {
  /**
   * AWS: `s3://<bucket>/<key>`; GCE: `gs://<bucket>/<object>` (the control plane gets read access to
   * that object only); bare metal: an absolute path on control-plane host 0. Usually a name under
   * the `etcd_backup_location` output, e.g. `.../daily/etcd-20261207.db`.
   */
  readonly snapshot: string;
}

/**
 * Strategic merge patches (JSON objects), each @default none. Control-plane nodes apply every one;
 * workers only kubeletConfiguration.
 */
export interface KubeadmPatches {
  /** The etcd static Pod (local etcd only). */
  readonly etcd?: Record<string, unknown>;
  /** The kube-apiserver static Pod, e.g. `{ spec: { containers: [{ name: "kube-apiserver", livenessProbe: { failureThreshold: 16 } }] } }`. */
  readonly kubeApiServer?: Record<string, unknown>;
  /** The kube-controller-manager static Pod. */
  readonly kubeControllerManager?: Record<string, unknown>;
  /** The kube-scheduler static Pod. */
  readonly kubeScheduler?: Record<string, unknown>;
  /** The KubeletConfiguration kubeadm writes on each node (after kubeletConfiguration is merged). */
  readonly kubeletConfiguration?: Record<string, unknown>;
  /** The CoreDNS Deployment kubeadm installs (init and `kubeadm upgrade apply`). */
  readonly corednsDeployment?: Record<string, unknown>;
}

/** Go durations ("90s", "5m", "1h30m"), each at least 1s and at most 2h. Every field @default kubeadm's */
export interface KubeadmTimeouts {
  /** Waiting for a control-plane component (the API server) to be healthy. kubeadm: 4m */
  readonly controlPlaneComponentHealthCheck?: string;
  /** Waiting for the kubelet to be healthy. kubeadm: 4m */
  readonly kubeletHealthCheck?: string;
  /** One request to the API server, retries included (also the first wait for a new API server). kubeadm: 1m */
  readonly kubernetesAPICall?: string;
  /** One request to etcd. kubeadm: 2m */
  readonly etcdAPICall?: string;
  /** A joining kubelet's TLS bootstrap. kubeadm: 5m */
  readonly tlsBootstrap?: string;
  /** A joining node's discovery of the API server's identity. kubeadm: 5m */
  readonly discovery?: string;
  /**
   * The upgrade agent's `kubeadm upgrade apply|node`: waiting for each static Pod kubeadm rewrote
   * to come back (kubeadm rolls the manifest back after it). Only in the UpgradeConfiguration. kubeadm: 5m
   */
  readonly upgradeManifests?: string;
}

/** What the platform knows about its own network, used for validation and NO_PROXY. */
export interface PlatformNetwork {
  /** CIDRs the nodes get their addresses from. */
  readonly nodeCidrs: string[];
  /** Name of the platform in messages ("aws", "gce", "baremetal"). */
  readonly platform: string;
}

export interface ResolvedNodePool {
  readonly name: string;
  readonly minSize: number;
  readonly maxSize: number;
  readonly desiredSize: number;
  readonly labels: Record<string, string>;
  readonly taints: Taint[];
  readonly kubeletExtraArgs: Record<string, string>;
  readonly maxPods: number;
}

export interface ResolvedCni {
  readonly plugin: CniPlugin;
  /** Empty for `none`. */
  readonly version: string;
  readonly manifestUrl: string;
  readonly manifestSha256: string;
}

export interface ResolvedCluster {
  readonly name: string;
  readonly kubernetesVersion: string;
  /** "1.36" */
  readonly kubernetesMinor: string;
  readonly networking: Required<NetworkingSpec>;
  readonly controlPlane: {
    readonly replicas: number;
    readonly apiServerPort: number;
    readonly certSans: string[];
    readonly externalEtcd?: ExternalEtcdSpec;
    readonly apiServerExtraArgs: Record<string, string>;
    readonly controllerManagerExtraArgs: Record<string, string>;
    readonly schedulerExtraArgs: Record<string, string>;
    readonly etcdExtraArgs: Record<string, string>;
    readonly labels: Record<string, string>;
    readonly taints: Taint[];
  };
  readonly nodePools: ResolvedNodePool[];
  readonly cni: ResolvedCni;
  readonly kubeProxyMode: KubeProxyMode;
  readonly imageRepository: string;
  /** Full deb repository URL for this minor, ending in `/deb/`. */
  readonly packageRepositoryUrl: string;
  /** Base of the containerd.io deb repository, without a trailing slash. */
  readonly containerdRepositoryUrl: string;
  /** Repository signing keys and registry mirrors (air-gapped sources). */
  readonly sources: ResolvedSources;
  readonly proxy: { readonly httpProxy?: string; readonly httpsProxy?: string; readonly noProxy: string[] };
  readonly kubeletConfiguration: Record<string, unknown>;
  readonly kubeProxyConfiguration: Record<string, unknown>;
  readonly pki: Required<PkiSpec>;
  readonly bootstrapTokenTtl: string;
  /** "" when never rotated. */
  readonly bootstrapTokenRotation: string;
  /** Only the timeouts set, in kubeadm's field order. */
  readonly kubeadmTimeouts: KubeadmTimeouts;
  /** kubeadm's patch target name ("kube-apiserver") -> patch, in kubeadm's target order; only those set. */
  readonly kubeadmPatches: Readonly<Record<string, Record<string, unknown>>>;
  readonly platformNetwork: PlatformNetwork;
  /** The snapshot control-plane slot 0 restores before kubeadm init; undefined: none. */
  readonly restore?: RestoreSpec;
}

/** Which node a piece of user data is for. Control-plane slot 0 may `kubeadm init`. */
export type NodeRole =
  | { readonly kind: "control-plane"; readonly slot: number }
  | { readonly kind: "worker"; readonly pool: string };

/** Stable node name of a control-plane slot, so a replacement finds its predecessor's etcd member. */
export function controlPlaneNodeName(cluster: string, slot: number): string {
  return `${cluster}-cp-${slot}`;
}

/** The resolved pool a worker role names. */
export function findPool(cluster: ResolvedCluster, name: string): ResolvedNodePool {
  const pool = cluster.nodePools.find((p) => p.name === name);
  if (!pool) throw new Error(`cdktf-kubeadm: no node pool named "${name}" (pools: ${cluster.nodePools.map((p) => p.name).join(", ")})`);
  return pool;
}

/** Human-readable role name used in messages and file names: "control-plane-0", "worker-general". */
export function roleName(role: NodeRole): string {
  return role.kind === "control-plane" ? `control-plane-${role.slot}` : `worker-${role.pool}`;
}
