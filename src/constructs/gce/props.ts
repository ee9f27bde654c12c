/**
 * What a user gives `GceKubeadmCluster`: the platform-neutral ClusterSpec plus the Google Compute
 * Engine fields (project, region, network, API load balancer, machines, service accounts, image).
 * Types only; defaults and validation live in resolve-gce.ts.
 */
import type { EtcdBackupOptions } from "../../bootstrap/etcd-backup";
import type { ClusterSpec, ControlPlaneSpec, NodePoolSpec } from "../../bootstrap/spec";
import type { KubeadmClusterProps } from "../kubeadm-cluster";

/** Boot disk of a node (the only disk: images, logs, etcd data). */
export interface GceBootDiskOptions {
  /** GiB. @default 50 */
  readonly sizeGb?: number;
  /**
   * "pd-balanced", "pd-ssd", "pd-standard", "hyperdisk-balanced". N4, C4 and C4A machines take
   * Hyperdisk only. @default "pd-balanced"
   */
  readonly type?: string;
}

/**
 * The node group's service account. By default a dedicated one is created per group (never the
 * default compute account) with only roles/logging.logWriter and roles/monitoring.metricWriter:
 * nodes call no Google API otherwise (there is no cloud controller manager).
 */
export interface GceServiceAccountOptions {
  /** Use this existing account instead of creating one (its roles are yours to manage). @default a new account */
  readonly email?: string;
  /** Extra project roles for the created account, e.g. "roles/artifactregistry.reader". @default [] */
  readonly roles?: string[];
  /**
   * OAuth scopes on the instances. IAM roles restrict what the account can do; scopes are a legacy
   * second fence. @default ["cloud-platform"]
   */
  readonly scopes?: string[];
}

/** Machine settings shared by the control plane and the node pools. */
export interface GceMachineOptions {
  readonly bootDisk?: GceBootDiskOptions;
  readonly serviceAccount?: GceServiceAccountOptions;
  /** Image of this group; overrides `image.image`. @default the cluster's image */
  readonly image?: string;
}

export interface GceControlPlaneSpec extends ControlPlaneSpec, GceMachineOptions {
  /** At least 2 vCPU and 2 GiB (kubeadm preflight). @default "n2-standard-2" */
  readonly machineType?: string;
  /**
   * Zones of the region the slots are spread over (slot n in zone n mod count).
   * @default the region's first three zones (google_compute_zones data source)
   */
  readonly zones?: string[];
  /**
   * Each slot is a zonal managed instance group of one, with auto-healing on the kubelet port, a
   * stable instance name and a reserved internal address (per-instance config). false: plain
   * instances with the same names and addresses, nobody recreates them. @default true
   */
  readonly autoHealing?: boolean;
}

/** Spot VMs: much cheaper, reclaimed by Google at any time (the MIG recreates them when capacity returns). */
export interface GceSpotOptions {
  /** What happens to a reclaimed VM. @default "DELETE" (the MIG recreates it from the template) */
  readonly terminationAction?: "DELETE" | "STOP";
}

/** Compute Engine's own autoscaler (CPU-based) instead of cluster-autoscaler. */
export interface GceAutoscalingOptions {
  /** Target average CPU utilisation, 0.1-0.9. @default 0.6 */
  readonly cpuTarget?: number;
  /** Seconds a new VM needs before its CPU counts (boot + kubeadm join). @default 300 */
  readonly cooldownSeconds?: number;
}

export interface GceNodePoolSpec extends NodePoolSpec, GceMachineOptions {
  /** @default "n2-standard-2" */
  readonly machineType?: string;
  /** Run the pool on Spot VMs. @default on-demand (standard provisioning) */
  readonly spot?: boolean | GceSpotOptions;
  /**
   * Let Compute Engine's autoscaler size the pool on CPU. Without it a pool with minSize < maxSize
   * is left to cluster-autoscaler (Terraform ignores `target_size` after creation).
   * @default none (cluster-autoscaler friendly)
   */
  readonly autoscaling?: GceAutoscalingOptions;
  /** Zones of the regional group. @default the region's first three zones */
  readonly zones?: string[];
  /** Extra VMs during a rolling replacement; at least the number of zones (GCE rule). @default the number of zones */
  readonly maxSurge?: number;
  /**
   * When a VM of the pool is deleted (rolling update, scale-in, Spot reclaim), its shutdown script
   * cordons the node and evicts its pods (PodDisruptionBudgets honoured) for at most this many
   * seconds, then deletes its Node. Compute Engine gives a shutdown script about 90 s on standard
   * VMs and 30 s on Spot VMs: 10 to 90, on Spot 10 to 20. @default 60 (Spot: 20)
   */
  readonly drainTimeoutSeconds?: number;
}

/** Create a custom-mode VPC network for the cluster. */
export interface GceManagedNetworkOptions {
  /** The nodes' regional subnetwork, /16 to /24. @default "10.0.0.0/20" */
  readonly subnetCidr?: string;
  /** Network MTU. @default 1460 (GCE default; the CNIs detect it) */
  readonly mtu?: number;
  /** Static external addresses for Cloud NAT (their /32s may reach an external API load balancer). 1-16. @default 1 */
  readonly natAddressCount?: number;
}

/** Use a network and subnetwork you already have (with its own egress: Cloud NAT or a proxy). */
export interface GceExistingNetworkOptions {
  /** Network self link or id, e.g. "projects/p/global/networks/prod". */
  readonly network: string;
  /** Regional subnetwork of the nodes (self link or id), in `region`. */
  readonly subnetwork: string;
  /** The subnetwork's IPv4 ranges (validated against pod/service ranges, used for NO_PROXY). */
  readonly subnetCidrs: string[];
  /**
   * Internal addresses to reserve for the control-plane slots, one per replica, in the subnetwork.
   * @default chosen by GCE (then they enter the user data as Terraform references)
   */
  readonly controlPlaneAddresses?: string[];
}

export type GceNetworkOptions = GceManagedNetworkOptions | { readonly existing: GceExistingNetworkOptions };

export interface GceApiLoadBalancerOptions {
  /** External regional passthrough load balancer, or an internal one in the subnetwork. @default true */
  readonly external?: boolean;
  /**
   * Who may reach the API port besides the nodes (and Cloud NAT's addresses, for workers reaching an
   * external load balancer). @default ["0.0.0.0/0"] when external (TLS client auth protects the API;
   * restrict it), [] when internal
   */
  readonly allowedCidrs?: string[];
  /**
   * Accept an internet-facing load balancer that no client may reach (allowedCidrs []): only the
   * nodes use it until you open it yourself, e.g. with your own firewall rule to the
   * control-plane nodes' network tag. Without this, an empty allowedCidrs on a public load balancer is an error.
   * @default false
   */
  readonly closedToClients?: boolean;
  /** Internal load balancer address in the subnetwork. @default host 5 of a managed subnet, else chosen by GCE */
  readonly internalAddress?: string;
}

export interface GceSecurityOptions {
  /** Open the NodePort range (30000-32767 TCP/UDP) on the workers to these CIDRs. @default [] (closed) */
  readonly nodePortCidrs?: string[];
  /** Let workers reach every kubelet (10250), for metrics-server or Prometheus on workers. @default false */
  readonly kubeletFromWorkers?: boolean;
}

export interface GceImageOptions {
  /**
   * Image or image family of every node. Shielded VM with Secure Boot needs a UEFI image.
   * @default "projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64" (arm64 family on Arm machine types)
   */
  readonly image?: string;
}

export interface GceKubeadmClusterProps extends Omit<ClusterSpec, "name" | "controlPlane" | "nodePools"> {
  /** @default the construct id, when it is a valid cluster name */
  readonly name?: string;
  /** Project id, e.g. "my-project-123". */
  readonly project: string;
  /** Region, e.g. "europe-west4". */
  readonly region: string;
  readonly controlPlane?: GceControlPlaneSpec;
  /** @default one pool "default" of 1..3 nodes */
  readonly nodePools?: GceNodePoolSpec[];
  /** @default a new custom-mode network (GceManagedNetworkOptions defaults) */
  readonly network?: GceNetworkOptions;
  readonly apiLoadBalancer?: GceApiLoadBalancerOptions;
  readonly security?: GceSecurityOptions;
  readonly image?: GceImageOptions;
  /** Extra network tags on every node (for your own firewall rules or routes). @default [] */
  readonly tags?: string[];
  /** GCE labels on every resource that takes them (not Kubernetes node labels). @default {} */
  readonly labels?: Record<string, string>;
  /** @default ".cdktf-kubeadm/pki/<cluster name>" under the working directory of `cdktf synth` */
  readonly pkiDirectory?: string;
  readonly existingCa?: KubeadmClusterProps["existingCa"];
  /** Fail synth instead of creating a missing PKI store (CI). @default false (also CDKTF_KUBEADM_REQUIRE_PKI_STORE=1) */
  readonly requireExistingPkiStore?: boolean;
  /** Create the cluster outputs (API endpoint, admin kubeconfig, CA pin, certificate expiry). @default true */
  readonly outputs?: boolean;
  /**
   * Keep the CA keys, sa.key and the join token out of user data: one Secret Manager secret per
   * audience (control plane, workers), readable only by that audience's service accounts, written
   * with a write-only argument (`secret_data_wo`, never in the state; Terraform 1.11+) and fetched
   * by the node at boot with its metadata-server token. Nodes need egress to
   * secretmanager.googleapis.com (Cloud NAT of the managed network; Private Google Access or NAT on
   * an existing one) and the cloud-platform scope.
   *
   * false: the secrets travel in the instance metadata (user data), readable by anyone with
   * `compute.instances.get` on the nodes or templates, and by every process on the node that can
   * reach the metadata server. Less safe; for projects without the Secret Manager API.
   * @default true
   */
  readonly secretStore?: boolean;
  /**
   * Scheduled etcd snapshots from the control plane to Cloud Storage. The control plane's
   * service account needs the cloud-platform (or devstorage.read_write) scope.
   * @default every 15 minutes into a new bucket: every snapshot for 24 hours, hourly ones for 7 days, daily ones for 90
   */
  readonly etcdBackup?: GceEtcdBackupOptions;
}

/** etcd snapshots on GCE: EtcdBackupOptions and the Cloud Storage bucket they go to. */
export interface GceEtcdBackupOptions extends EtcdBackupOptions {
  /**
   * An existing bucket (its name) instead of one the construct creates; the control-plane service
   * account gets roles/storage.objectCreator on it, conditioned on the prefix.
   * @default a new regional bucket: versioned, uniform access, public access prevented, lifecycle rules for the retention
   */
  readonly bucketName?: string;
  /** Object name prefix: "" or ending in "/". @default "<cluster name>/" */
  readonly prefix?: string;
  /**
   * Cloud KMS key (`projects/.../cryptoKeys/...`) a created bucket encrypts with by default (CMEK);
   * the project's Cloud Storage service agent needs roles/cloudkms.cryptoKeyEncrypterDecrypter on it.
   * @default Google-managed encryption
   */
  readonly kmsKeyName?: string;
  /** `terraform destroy` deletes a created bucket with every snapshot in it. @default false */
  readonly forceDestroy?: boolean;
}

export const GCE_DEFAULTS = {
  machineType: "n2-standard-2",
  subnetCidr: "10.0.0.0/20",
  mtu: 1460,
  natAddressCount: 1,
  zoneCount: 3,
  bootDiskGb: 50,
  bootDiskType: "pd-balanced",
  imageAmd64: "projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64",
  imageArm64: "projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-arm64",
  scopes: ["cloud-platform"],
  nodeRoles: ["roles/logging.logWriter", "roles/monitoring.metricWriter"],
  /** Host offsets in a managed subnet: internal API load balancer, then control-plane slot n at 10 + n. */
  internalApiHost: 5,
  controlPlaneHostBase: 10,
  /** Boot (packages, images, kubeadm) before auto-healing counts health checks. */
  controlPlaneInitialDelaySeconds: 900,
  workerInitialDelaySeconds: 600,
  autoscalerCpuTarget: 0.6,
  autoscalerCooldownSeconds: 300,
  connectionDrainingSeconds: 30,
  /** A deleted VM's shutdown script has about 90 s (standard) or 30 s (Spot): the drain's share of them. */
  drainTimeoutSeconds: 60,
  spotDrainTimeoutSeconds: 20,
  maxDrainTimeoutSeconds: 90,
  maxSpotDrainTimeoutSeconds: 20,
} as const;
