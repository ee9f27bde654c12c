/**
 * What a user gives `AwsKubeadmCluster`: the platform-neutral ClusterSpec plus the AWS fields
 * (network, API load balancer, machines, IAM, images). Types only; defaults and validation live in
 * resolve-aws.ts.
 */
import type { EtcdBackupOptions } from "../../bootstrap/etcd-backup";
import type { ClusterSpec, ControlPlaneSpec, NodePoolSpec } from "../../bootstrap/spec";
import type { KubeadmClusterProps } from "../kubeadm-cluster";

/** Root volume of a node (gp3, always encrypted). */
export interface AwsRootVolumeOptions {
  /** GiB; images, logs and container layers live here. @default 50 */
  readonly sizeGiB?: number;
  /** gp3 IOPS, 3000-16000. @default 3000 (gp3 baseline) */
  readonly iops?: number;
  /** gp3 throughput in MiB/s, 125-1000. @default 125 (gp3 baseline) */
  readonly throughput?: number;
  /** KMS key ARN or alias ARN for the volume encryption (a launch template takes no bare key id); its key policy must let the Auto Scaling service-linked role use it. @default the account's EBS default key */
  readonly kmsKeyId?: string;
}

/** One IAM policy statement, in the AWS JSON policy grammar. */
export interface AwsIamStatement {
  readonly Sid?: string;
  readonly Effect: "Allow" | "Deny";
  readonly Action: string | string[];
  readonly Resource: string | string[];
  readonly Condition?: Record<string, Record<string, string | string[]>>;
}

/**
 * IAM of a node group's instance role. Nodes call no AWS API by default (there is no cloud
 * controller manager), so the role starts with no policy at all.
 */
export interface AwsNodeIamOptions {
  /** Attach AmazonSSMManagedInstanceCore (Session Manager shell without SSH). @default false */
  readonly ssmSessionManager?: boolean;
  /** Managed policy ARNs to attach. @default [] */
  readonly managedPolicyArns?: string[];
  /** Statements of one inline policy. @default [] (no inline policy) */
  readonly statements?: AwsIamStatement[];
  /** Permissions boundary ARN (organisations that require one). @default none */
  readonly permissionsBoundary?: string;
  /** IAM path of the role and instance profile. @default "/" */
  readonly path?: string;
}

/** Machine settings shared by the control plane and the node pools. */
export interface AwsMachineOptions {
  readonly rootVolume?: AwsRootVolumeOptions;
  readonly iam?: AwsNodeIamOptions;
  /** AMI of this group; overrides `image.imageId` and the Ubuntu lookup. @default the cluster's image */
  readonly imageId?: string;
}

export interface AwsControlPlaneSpec extends ControlPlaneSpec, AwsMachineOptions {
  /** At least 2 vCPU and 2 GiB (kubeadm preflight). @default "m7i.large" */
  readonly instanceType?: string;
}

export type SpotAllocationStrategy = "price-capacity-optimized" | "capacity-optimized" | "capacity-optimized-prioritized" | "lowest-price";

/** Spot capacity of a pool (an ASG mixed instances policy). */
export interface AwsSpotOptions {
  /** On-demand instances before any spot instance. @default 0 */
  readonly onDemandBaseCapacity?: number;
  /** Percentage of on-demand instances above the base. @default 0 (all spot) */
  readonly onDemandPercentageAboveBaseCapacity?: number;
  /** @default "price-capacity-optimized" */
  readonly allocationStrategy?: SpotAllocationStrategy;
  /** Highest hourly price, e.g. "0.12". @default the on-demand price */
  readonly maxPrice?: string;
}

export interface AwsNodePoolSpec extends NodePoolSpec, AwsMachineOptions {
  /** @default "m7i.large" */
  readonly instanceType?: string;
  /**
   * Several instance types (a mixed instances policy): on-demand capacity takes them in order,
   * spot capacity by the allocation strategy. Use instead of `instanceType`. @default [instanceType]
   */
  readonly instanceTypes?: string[];
  /** Run (part of) the pool on spot capacity. @default on-demand only */
  readonly spot?: AwsSpotOptions;
  /**
   * The pool is managed by cluster-autoscaler: discovery and node-template tags on the ASG, and
   * Terraform ignores `desired_capacity` after creation. @default minSize < maxSize
   */
  readonly clusterAutoscaler?: boolean;
  /**
   * Replace the pool's instances (ASG instance refresh, Rolling) when its launch template changes.
   * @default true
   */
  readonly instanceRefresh?: boolean;
  /**
   * Before the group terminates a worker (instance refresh, scale-in) its termination lifecycle hook
   * holds it while the worker cordons itself and evicts its pods (PodDisruptionBudgets honoured) for
   * at most this many seconds, then deletes its Node. A Spot interruption gives two minutes: the
   * drain takes at most 90 s of them. 30 to 3600. With the secret store only (its code signs the
   * lifecycle calls). @default 300
   */
  readonly drainTimeoutSeconds?: number;
}

/** Create a VPC for the cluster. */
export interface AwsManagedNetworkOptions {
  /** /16 to /24; private subnets get a quarter each, public subnets a slice of the last quarter. @default "10.0.0.0/16" */
  readonly vpcCidr?: string;
  /** 2 or 3. @default 3, or the length of availabilityZones */
  readonly availabilityZoneCount?: number;
  /** Zone names, e.g. ["eu-west-1a", "eu-west-1b"]. @default the region's first zones (data source) */
  readonly availabilityZones?: string[];
  /**
   * NAT gateways for the private subnets' egress (packages, images). "none": bring your own egress
   * (proxy, VPC endpoints, mirrors). @default "one-per-az"
   */
  readonly natGateways?: "single" | "one-per-az" | "none";
}

/** Use a VPC you already have. */
export interface AwsExistingNetworkOptions {
  readonly vpcId: string;
  /** The VPC's CIDR blocks (validated against pod/service ranges, used for NO_PROXY). */
  readonly vpcCidrs: string[];
  /** Nodes live here, one subnet per zone; control-plane slot n goes to subnet n mod count. 2-6. */
  readonly privateSubnetIds: string[];
  /** For an internet-facing API load balancer. @default none (internal load balancer only) */
  readonly publicSubnetIds?: string[];
}

export type AwsNetworkOptions = AwsManagedNetworkOptions | { readonly existing: AwsExistingNetworkOptions };

export interface AwsApiLoadBalancerOptions {
  /**
   * Internet-facing NLB in the public subnets, or internal in the private ones. @default true
   */
  readonly internetFacing?: boolean;
  /**
   * Who may reach the API port through the load balancer, besides the nodes themselves.
   * @default ["0.0.0.0/0"] when internet-facing (the API is protected by TLS client auth, as on
   * EKS's public endpoint; restrict it), [] when internal
   */
  readonly allowedCidrs?: string[];
  /**
   * Accept an internet-facing load balancer that no client may reach (allowedCidrs []): only the
   * nodes use it until you open it yourself, e.g. with your own rule on the load balancer's
   * security group (`securityGroups.loadBalancer`). Without this, an empty allowedCidrs on a public load balancer is an error.
   * @default false
   */
  readonly closedToClients?: boolean;
  /** @default false */
  readonly deletionProtection?: boolean;
}

export interface AwsSecurityOptions {
  /** Open the NodePort range (30000-32767 TCP/UDP) on the workers to these CIDRs. @default [] (closed) */
  readonly nodePortCidrs?: string[];
  /**
   * Let workers reach every kubelet (10250), for metrics-server or Prometheus on worker nodes.
   * @default false (only the control plane reaches kubelets)
   */
  readonly kubeletFromWorkers?: boolean;
}

export interface AwsImageOptions {
  /** AMI for every node. @default the newest Ubuntu 24.04 LTS of Canonical (data source) */
  readonly imageId?: string;
  /**
   * Lookup instead of the Ubuntu one: owner account ids and a name pattern where `{arch}` becomes
   * amd64 or arm64. @default Canonical 099720109477, "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-{arch}-server-*"
   */
  readonly lookup?: { readonly owners: string[]; readonly namePattern: string };
  /** Root device of `imageId` images (looked-up images report their own). @default "/dev/sda1" */
  readonly rootDeviceName?: string;
}

/** Where the nodes' secret material (CA keys, service-account key, join token) lives. */
export interface AwsSecretStoreOptions {
  /**
   * Keep the secrets out of user data: AWS Secrets Manager, one secret per audience (control
   * plane, workers), readable only by that audience's instance roles, written with write-only
   * arguments so the values are in neither cdktf.out nor the state. false: the secrets travel in
   * user data (readable by anyone who can read instance attributes). @default true
   */
  readonly enabled?: boolean;
  /** KMS key ARN for the secrets; the node roles get kms:Decrypt on it via Secrets Manager. @default the aws/secretsmanager key */
  readonly kmsKeyArn?: string;
}

/** etcd snapshots on AWS: EtcdBackupOptions and the S3 bucket they go to. */
export interface AwsEtcdBackupOptions extends EtcdBackupOptions {
  /**
   * An existing bucket (its name) instead of one the construct creates. Its encryption, versioning,
   * lifecycle rules and policy are yours; the control-plane role gets s3:PutObject under `prefix`.
   * @default a new bucket: versioned, SSE-KMS, public access blocked, TLS only, lifecycle rules for the retention
   */
  readonly bucketName?: string;
  /** Key prefix of the snapshots: "" or ending in "/". @default "<cluster name>/" */
  readonly prefix?: string;
  /**
   * KMS key ARN the bucket encrypts snapshots with (SSE-KMS); the control-plane role gets
   * kms:GenerateDataKey on it. With `bucketName`, the key that bucket's default encryption uses.
   * @default the AWS managed key aws/s3
   */
  readonly kmsKeyArn?: string;
  /** `terraform destroy` deletes a created bucket with every snapshot in it. @default false (destroy fails while snapshots exist) */
  readonly forceDestroy?: boolean;
}

export interface AwsKubeadmClusterProps extends Omit<ClusterSpec, "name" | "controlPlane" | "nodePools"> {
  /** @default the construct id, when it is a valid cluster name */
  readonly name?: string;
  readonly controlPlane?: AwsControlPlaneSpec;
  /** @default one pool "default" of 1..3 nodes */
  readonly nodePools?: AwsNodePoolSpec[];
  /** @default a new VPC (AwsManagedNetworkOptions defaults) */
  readonly network?: AwsNetworkOptions;
  readonly apiLoadBalancer?: AwsApiLoadBalancerOptions;
  readonly security?: AwsSecurityOptions;
  readonly image?: AwsImageOptions;
  /** @default Secrets Manager (AwsSecretStoreOptions defaults) */
  readonly secretStore?: AwsSecretStoreOptions;
  /**
   * Scheduled etcd snapshots from the control plane to S3 (the backup agent's code travels in the
   * secret store's bundle: backups need the secret store).
   * @default every 15 minutes into a new bucket: every snapshot for 24 hours, hourly ones for 7 days, daily ones for 90
   */
  readonly etcdBackup?: AwsEtcdBackupOptions;
  /** EC2 key pair for SSH. @default none (use SSM Session Manager: iam.ssmSessionManager) */
  readonly keyName?: string;
  /** Extra tags on every resource (and instance/volume) the construct creates. @default {} */
  readonly tags?: Record<string, string>;
  /** @default ".cdktf-kubeadm/pki/<cluster name>" under the working directory of `cdktf synth` */
  readonly pkiDirectory?: string;
  readonly existingCa?: KubeadmClusterProps["existingCa"];
  /** Fail synth instead of creating a missing PKI store (CI). @default false (also CDKTF_KUBEADM_REQUIRE_PKI_STORE=1) */
  readonly requireExistingPkiStore?: boolean;
  /** Create the cluster outputs (API endpoint, admin kubeconfig, CA pin, certificate expiry). @default true */
  readonly outputs?: boolean;
}

export const AWS_DEFAULTS = {
  controlPlaneInstanceType: "m7i.large",
  workerInstanceType: "m7i.large",
  vpcCidr: "10.0.0.0/16",
  availabilityZoneCount: 3,
  natGateways: "one-per-az",
  rootVolumeGiB: 50,
  rootDeviceName: "/dev/sda1",
  ubuntuOwner: "099720109477",
  ubuntuNamePattern: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-{arch}-server-*",
  spotAllocationStrategy: "price-capacity-optimized",
  /** Control-plane boot (packages, images, kubeadm) before EC2 health checks count. */
  controlPlaneHealthCheckGraceSeconds: 900,
  workerHealthCheckGraceSeconds: 600,
  // Launch before terminate: a new worker replaces an old one only once it has joined (the hook).
  instanceRefreshMinHealthyPercentage: 100,
  instanceRefreshMaxHealthyPercentage: 110,
  /** Launch lifecycle hook that holds a new worker in Pending:Wait until it has joined. */
  workerJoinedHookName: "cdktf-kubeadm-joined",
  /** The worker heartbeats when it starts waiting for the control plane (each heartbeat resets this). */
  workerJoinedHookHeartbeatSeconds: 3600,
  /** Termination lifecycle hook that holds a worker in Terminating:Wait while it drains. */
  workerDrainHookName: "cdktf-kubeadm-drain",
  workerDrainTimeoutSeconds: 300,
  /** Past the drain: stopping the kubelet, deleting the Node, completing the hook (with retries). */
  workerDrainHookMarginSeconds: 120,
  deregistrationDelaySeconds: 30,
} as const;
