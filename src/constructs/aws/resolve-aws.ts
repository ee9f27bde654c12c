/**
 * Applies the AWS defaults and validates every AWS field together with the cluster model
 * (`resolveCluster`), reporting all problems in one ClusterSpecError before any construct exists.
 */
import { EtcdBackup, resolveEtcdBackup } from "../../bootstrap/etcd-backup";
import { Token } from "cdktf";
import { cidrHost, Ipv4Cidr, parseCidr } from "../../bootstrap/cidr";
import { apiClientCidrs, cidr, cidrList, isToken, resolveClusterModel, withoutPlatformFields } from "../platform-validation";
import { pkiStoreProblems } from "../kubeadm-cluster";
import { PROPS_SCHEMA } from "../props-schema";
import { propsShapeProblems } from "../props-shape";
import { cniInstallableOn } from "../../bootstrap/catalog";
import type { ClusterSpec, ResolvedCluster, ResolvedNodePool } from "../../bootstrap/spec";
import { ClusterSpecError, Problems, SpecProblem } from "../../bootstrap/validation-error";
import { Architecture, architectureOf, belowControlPlaneMinimum, isInstanceTypeName } from "./instance-types";
import { regionOfArn, regionOfZone } from "./provider-region";
import { AWS_DEFAULTS, AwsIamStatement, AwsKubeadmClusterProps, AwsMachineOptions, AwsNodePoolSpec, AwsSpotOptions, SpotAllocationStrategy } from "./props";

export interface ResolvedRootVolume {
  readonly sizeGiB: number;
  readonly iops?: number;
  readonly throughput?: number;
  readonly kmsKeyId?: string;
}

export interface ResolvedNodeIam {
  readonly ssmSessionManager: boolean;
  readonly managedPolicyArns: string[];
  readonly statements: AwsIamStatement[];
  readonly permissionsBoundary?: string;
  readonly path: string;
}

/** A group of identical machines: the control plane or one node pool. */
export interface ResolvedMachineGroup {
  /** Launch template type first; more than one means a mixed instances policy. */
  readonly instanceTypes: string[];
  readonly architecture: Architecture;
  readonly rootVolume: ResolvedRootVolume;
  readonly iam: ResolvedNodeIam;
  /** Explicit AMI (group's, else the cluster's); undefined: lookup. */
  readonly imageId?: string;
}

export interface ResolvedSpot {
  readonly onDemandBaseCapacity: number;
  readonly onDemandPercentageAboveBaseCapacity: number;
  readonly allocationStrategy: SpotAllocationStrategy;
  readonly maxPrice?: string;
}

export interface ResolvedAwsPool extends ResolvedMachineGroup {
  readonly pool: ResolvedNodePool;
  readonly spot?: ResolvedSpot;
  /** Mixed instances policy (several types or spot). */
  readonly mixed: boolean;
  readonly clusterAutoscaler: boolean;
  readonly instanceRefresh: boolean;
  readonly drainTimeoutSeconds: number;
}

export type ResolvedAwsNetwork =
  | {
      readonly kind: "managed";
      readonly vpcCidr: string;
      readonly zoneCount: number;
      /** Explicit zone names; undefined: the first zoneCount of the region (data source). */
      readonly availabilityZones?: string[];
      readonly natGateways: "single" | "one-per-az" | "none";
      /** Per zone, in zone order. */
      readonly privateSubnetCidrs: string[];
      readonly publicSubnetCidrs: string[];
    }
  | {
      readonly kind: "existing";
      readonly vpcId: string;
      readonly vpcCidrs: string[];
      readonly privateSubnetIds: string[];
      readonly publicSubnetIds: string[];
    };

export interface ResolvedAws {
  readonly cluster: ResolvedCluster;
  readonly network: ResolvedAwsNetwork;
  readonly apiLoadBalancer: { readonly internetFacing: boolean; readonly allowedCidrs: string[]; readonly deletionProtection: boolean };
  readonly security: { readonly nodePortCidrs: string[]; readonly kubeletFromWorkers: boolean };
  readonly image: { readonly owners: string[]; readonly namePattern: string; readonly rootDeviceName: string };
  readonly controlPlane: ResolvedMachineGroup;
  readonly nodePools: ResolvedAwsPool[];
  readonly keyName?: string;
  readonly tags: Record<string, string>;
  readonly secretStore: { readonly enabled: boolean; readonly kmsKeyArn?: string };
  /** Validated backup options (the target's bucket is the construct's); undefined: no backups. */
  readonly etcdBackup?: ResolvedAwsEtcdBackup;
}

export interface ResolvedAwsEtcdBackup {
  readonly options: EtcdBackup;
  readonly bucketName?: string;
  readonly prefix: string;
  readonly kmsKeyArn?: string;
  readonly forceDestroy: boolean;
}

const S3_BUCKET_NAME = /^(?!xn--|sthree-|amzn-s3-demo-)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

// A key ARN, not an alias: the nodes' kms:Decrypt permission names the key itself.
// Key ids are UUIDs, multi-Region keys "mrk-" and 32 hex digits.
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-\d:\d{12}:key\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;
const KMS_ALIAS_ARN = /^arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-\d:\d{12}:alias\/(?!aws\/)[a-zA-Z0-9\/_-]{1,250}$/;
const AMI_ID = /^ami-([0-9a-f]{8}|[0-9a-f]{17})$/;
const POLICY_ARN = /^arn:aws[a-z-]*:iam::(aws|\d{12}):policy\/[\w+=,.@\/-]+$/;
const AZ_NAME = /^[a-z]{2}(-[a-z0-9]+)+[a-z]$/;
const SPOT_STRATEGIES: SpotAllocationStrategy[] = ["price-capacity-optimized", "capacity-optimized", "capacity-optimized-prioritized", "lowest-price"];
const CONTROL_PLANE_AWS_KEYS = ["instanceType", "rootVolume", "iam", "imageId"] as const;
const POOL_AWS_KEYS = ["instanceType", "instanceTypes", "spot", "clusterAutoscaler", "instanceRefresh", "drainTimeoutSeconds", "rootVolume", "iam", "imageId"] as const;

/** Validates `props` (cluster model and AWS fields); throws one ClusterSpecError listing every problem. */
/** What synth knows beyond the props. */
export interface AwsSynthContext {
  /** The stack's default AWS provider region, when it is a literal (literalProviderRegion). */
  readonly providerRegion?: string;
}

export function resolveAws(id: string, props: AwsKubeadmClusterProps, context: AwsSynthContext = {}): ResolvedAws {
  const p = new Problems();
  // Keys and types first: nothing below computes with a value of the wrong type.
  const shapeProblems = propsShapeProblems(PROPS_SCHEMA, "aws", props);
  if (shapeProblems.length > 0) throw new ClusterSpecError(String(props?.name ?? id), shapeProblems);
  const name = props.name ?? id;
  if (props.name === undefined && !/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(id)) {
    p.add("name", undefined, `is unset and the construct id "${id}" is not a valid cluster name`, 'set name, e.g. "prod" (a DNS label)');
  }
  p.check(!String(name).startsWith("internal-"), "name", name, 'must not start with "internal-" (the API load balancer is named after the cluster)', "choose another name");

  const network = resolveNetwork(p, props, context.providerRegion);
  const apiLoadBalancer = resolveApiLoadBalancer(p, props, network);
  const security = {
    nodePortCidrs: cidrList(p, "security.nodePortCidrs", props.security?.nodePortCidrs ?? []),
    kubeletFromWorkers: props.security?.kubeletFromWorkers ?? false,
  };
  const image = resolveImage(p, props);
  const controlPlane = resolveMachineGroup(p, "controlPlane", props.controlPlane ?? {}, props.controlPlane?.instanceType ?? AWS_DEFAULTS.controlPlaneInstanceType, props.image?.imageId);
  const controlPlaneType = controlPlane.instanceTypes[0];
  if (isInstanceTypeName(props.controlPlane?.instanceType ?? AWS_DEFAULTS.controlPlaneInstanceType)) {
    p.check(!belowControlPlaneMinimum(controlPlaneType), "controlPlane.instanceType", controlPlaneType, "is below kubeadm's control-plane minimum of 2 vCPU and 1700 MB (its preflight refuses the node)", 'use e.g. "m7i.large", or "t3.medium" for a test cluster');
  }
  const tags = resolveTags(p, props.tags ?? {});
  if (props.keyName !== undefined) {
    p.check(!Token.isUnresolved(props.keyName) ? /^[\x20-\x7e]{1,255}$/.test(props.keyName) : true, "keyName", props.keyName, "is not an EC2 key pair name", "give the name of an existing key pair, or leave it unset and use SSM Session Manager");
  }

  const secretStore = { enabled: props.secretStore?.enabled ?? true, kmsKeyArn: props.secretStore?.kmsKeyArn };
  if (secretStore.kmsKeyArn !== undefined && !Token.isUnresolved(secretStore.kmsKeyArn)) {
    p.check(KMS_KEY_ARN.test(secretStore.kmsKeyArn), "secretStore.kmsKeyArn", secretStore.kmsKeyArn, "is not a KMS key ARN (aliases cannot be granted kms:Decrypt)", 'give the key\'s ARN ("arn:aws:kms:<region>:<account>:key/<id>"): the node roles\' kms:Decrypt permission needs it');
    checkKmsRegion(p, "secretStore.kmsKeyArn", secretStore.kmsKeyArn, context.providerRegion, "Secrets Manager");
  }

  const etcdBackup = resolveAwsEtcdBackup(p, props, String(name), secretStore.enabled, context.providerRegion);
  // the restore step's S3 code travels in the secret store's bundle, like the backup agent's
  p.check(props.restore === undefined || secretStore.enabled, "restore", props.restore, "needs the secret store: the restore step travels in its bundle", "leave secretStore enabled while restoring");

  const spec = toClusterSpec(String(name), props);
  // Only ranges that passed their own checks go to the overlap checks (one problem per mistake).
  const nodeCidrs =
    network.kind === "managed"
      ? network.privateSubnetCidrs.length > 0
        ? [network.vpcCidr]
        : []
      : network.vpcCidrs.filter((c) => typeof c === "string" && typeof parseCidr(c) !== "string");
  const problems: SpecProblem[] = [...p.list, ...pkiStoreProblems(String(name), props)];
  const cluster = resolveClusterModel(spec, { platform: "aws", nodeCidrs }, problems);
  const q = new Problems();
  const specPools = props.nodePools ?? [{ name: "default" }];
  const nodePools = cluster
    ? cluster.nodePools.map((pool, i) => resolvePool(q, `nodePools[${i}]`, specPools[i], pool, props.image?.imageId))
    : [];
  if (cluster) {
    q.check(
      cniInstallableOn(cluster.cni, controlPlane.architecture),
      "controlPlane.instanceType",
      controlPlane.instanceTypes[0],
      "is a Graviton (arm64) type, but the overridden cilium-cli URL (cni.manifestUrl) is one amd64 binary",
      "use an x86_64 control-plane instance type, or the pinned cilium-cli (it has an arm64 build)",
    );
  }
  const volumeKeys: [string, string | undefined][] = [["controlPlane", controlPlane.rootVolume.kmsKeyId], ...nodePools.map((pool, i): [string, string | undefined] => [`nodePools[${i}]`, pool.rootVolume.kmsKeyId])];
  for (const [field, key] of volumeKeys) {
    if (typeof key === "string" && (KMS_KEY_ARN.test(key) || KMS_ALIAS_ARN.test(key))) checkKmsRegion(q, `${field}.rootVolume.kmsKeyId`, key, context.providerRegion, "EBS");
  }
  problems.push(...q.list);
  if (problems.length > 0 || !cluster) throw new ClusterSpecError(String(name), problems);
  return { cluster, network, apiLoadBalancer, security, image, controlPlane, nodePools, keyName: props.keyName, tags, secretStore, etcdBackup };
}

/** Backups default to on with the secret store (its bundle carries the agent), and off without it. */
function resolveAwsEtcdBackup(p: Problems, props: AwsKubeadmClusterProps, name: string, secretStore: boolean, providerRegion: string | undefined): ResolvedAwsEtcdBackup | undefined {
  const options = props.etcdBackup;
  if (options?.enabled === false) return undefined;
  if (!secretStore) {
    // off by default without the secret store; asked for explicitly, it cannot be had
    p.check(options === undefined, "etcdBackup", options, "needs the secret store: the backup agent travels in its bundle (user data has no room for it)",
      "leave secretStore enabled, or set etcdBackup.enabled to false");
    return undefined;
  }
  const prefix = options?.prefix ?? `${name}/`;
  const bucketName = options?.bucketName;
  if (bucketName !== undefined && !Token.isUnresolved(bucketName)) {
    p.check(S3_BUCKET_NAME.test(bucketName) && !bucketName.includes(".."), "etcdBackup.bucketName", bucketName, "is not an S3 bucket name", "give the name of an existing bucket (3-63 lowercase letters, digits, '-' and '.'), or leave it unset for a new one");
  }
  const kmsKeyArn = options?.kmsKeyArn;
  if (kmsKeyArn !== undefined && !Token.isUnresolved(kmsKeyArn)) {
    if (p.check(KMS_KEY_ARN.test(kmsKeyArn), "etcdBackup.kmsKeyArn", kmsKeyArn, "is not a KMS key ARN (aliases cannot be granted kms:GenerateDataKey)", 'give the key\'s ARN ("arn:aws:kms:<region>:<account>:key/<id>")')) {
      checkKmsRegion(p, "etcdBackup.kmsKeyArn", kmsKeyArn, providerRegion, "S3");
    }
  }
  // the region is the provider's, known at apply: validation needs only the kind
  const resolved = resolveEtcdBackup(p, options, { kind: "aws-s3", bucket: bucketName ?? "bucket", prefix, region: "region" });
  return resolved && { options: resolved, bucketName, prefix, kmsKeyArn, forceDestroy: options?.forceDestroy ?? false };
}

/** The ClusterSpec part of the props, AWS-only fields removed. */
function toClusterSpec(name: string, props: AwsKubeadmClusterProps): ClusterSpec {
  const {
    name: _n,
    network: _net,
    apiLoadBalancer: _lb,
    security: _sec,
    image: _img,
    keyName: _k,
    tags: _t,
    secretStore: _s,
    etcdBackup: _b,
    pkiDirectory: _p,
    existingCa: _e,
    requireExistingPkiStore: _require,
    outputs: _o,
    controlPlane,
    nodePools,
    ...rest
  } = props;
  return { ...rest, name, ...withoutPlatformFields(controlPlane, nodePools, CONTROL_PLANE_AWS_KEYS, POOL_AWS_KEYS) };
}

function resolveNetwork(p: Problems, props: AwsKubeadmClusterProps, providerRegion: string | undefined): ResolvedAwsNetwork {
  const net = props.network ?? {};
  if ("existing" in net) {
    const e = net.existing;
    p.check(typeof e.vpcId === "string" && (isToken(e.vpcId) || /^vpc-[0-9a-f]{8,17}$/.test(e.vpcId)), "network.existing.vpcId", e.vpcId, "is not a VPC id", 'use e.g. "vpc-0123456789abcdef0" or a reference to an aws_vpc');
    const vpcCidrs = Array.isArray(e.vpcCidrs) ? e.vpcCidrs : [];
    p.check(vpcCidrs.length > 0, "network.existing.vpcCidrs", e.vpcCidrs, "is empty", "list the VPC's CIDR blocks (literal values: they are checked against the pod and service ranges)");
    vpcCidrs.forEach((c, i) => cidr(p, `network.existing.vpcCidrs[${i}]`, c));
    const subnets = (field: string, list: string[] | undefined, min: number): string[] => {
      if (list === undefined) return [];
      if (isToken(list)) {
        p.add(`network.existing.${field}`, "(token list)", "must be a literal list (its length decides the subnets and control-plane placement)", "list the ids, e.g. [subnetA.id, subnetB.id]");
        return [];
      }
      p.check(list.length >= min && list.length <= 6, `network.existing.${field}`, list, `must list ${min} to 6 subnets, one per availability zone`, "give one subnet in each of 2 or 3 zones");
      list.forEach((s, i) =>
        p.check(typeof s === "string" && (isToken(s) || /^subnet-[0-9a-f]{8,17}$/.test(s)), `network.existing.${field}[${i}]`, s, "is not a subnet id", 'use e.g. "subnet-0123456789abcdef0"'),
      );
      p.check(new Set(list).size === list.length, `network.existing.${field}`, list, "lists a subnet twice", "give each subnet once");
      return list;
    };
    const privateSubnetIds = subnets("privateSubnetIds", e.privateSubnetIds ?? [], 2);
    const publicSubnetIds = subnets("publicSubnetIds", e.publicSubnetIds, 1);
    return { kind: "existing", vpcId: e.vpcId, vpcCidrs, privateSubnetIds, publicSubnetIds };
  }

  const m = net;
  const vpcCidr = m.vpcCidr ?? AWS_DEFAULTS.vpcCidr;
  const parsed = cidr(p, "network.vpcCidr", vpcCidr);
  if (parsed) {
    p.check(parsed.prefix >= 16 && parsed.prefix <= 24, "network.vpcCidr", vpcCidr, "must be a /16 to /24 (AWS allows at most /16; the subnet layout needs at least /24)", 'use e.g. "10.0.0.0/16"');
  }
  const zones = m.availabilityZones;
  if (zones !== undefined) {
    if (!Array.isArray(zones) || isToken(zones)) {
      p.add("network.availabilityZones", zones, "must be a literal list of zone names", 'use e.g. ["eu-west-1a", "eu-west-1b", "eu-west-1c"]');
    } else {
      p.check(zones.length >= 2 && zones.length <= 3, "network.availabilityZones", zones, "must list 2 or 3 zones", "give 3 zones for a highly available control plane (2 at least)");
      zones.forEach((z, i) => p.check(typeof z === "string" && AZ_NAME.test(z), `network.availabilityZones[${i}]`, z, "is not an availability zone name", 'use e.g. "eu-west-1a"'));
      p.check(new Set(zones).size === zones.length, "network.availabilityZones", zones, "lists a zone twice", "give each zone once");
      checkZoneRegions(p, zones, providerRegion);
      if (m.availabilityZoneCount !== undefined) {
        p.check(m.availabilityZoneCount === zones.length, "network.availabilityZoneCount", m.availabilityZoneCount, `differs from the ${zones.length} availabilityZones given`, "set one of the two");
      }
    }
  }
  const zoneCount = Array.isArray(zones) ? zones.length : (m.availabilityZoneCount ?? AWS_DEFAULTS.availabilityZoneCount);
  if (!Array.isArray(zones)) {
    p.check([2, 3].includes(zoneCount), "network.availabilityZoneCount", m.availabilityZoneCount, "must be 2 or 3", "use 3 for a highly available control plane (2 at least)");
  }
  const natGateways = m.natGateways ?? AWS_DEFAULTS.natGateways;
  p.check(["single", "one-per-az", "none"].includes(natGateways), "network.natGateways", natGateways, "is not a NAT gateway layout", 'use "one-per-az" (zone-independent egress), "single" (cheaper) or "none" (bring your own egress)');
  const layout = parsed && parsed.prefix >= 16 && parsed.prefix <= 24 ? subnetLayout(parsed) : { privateSubnetCidrs: [], publicSubnetCidrs: [] };
  return {
    kind: "managed",
    vpcCidr: parsed?.text ?? vpcCidr,
    zoneCount,
    availabilityZones: Array.isArray(zones) ? zones : undefined,
    natGateways,
    privateSubnetCidrs: layout.privateSubnetCidrs.slice(0, zoneCount),
    publicSubnetCidrs: layout.publicSubnetCidrs.slice(0, zoneCount),
  };
}

/**
 * Fixed layout for 3 zones (2-zone VPCs leave the third slots free, so adding a zone later renumbers
 * nothing): private subnet n = quarter n of the VPC; public subnets = the first /24-or-smaller
 * blocks of the last quarter. /16: private /18s, public /24s. /24: private /26s, public /28s.
 */
export function subnetLayout(vpc: Ipv4Cidr): { privateSubnetCidrs: string[]; publicSubnetCidrs: string[] } {
  const quarter = vpc.prefix + 2;
  const quarterSize = 2 ** (32 - quarter);
  const publicPrefix = Math.max(vpc.prefix + 4, 24);
  const publicSize = 2 ** (32 - publicPrefix);
  const zones = [0, 1, 2];
  return {
    privateSubnetCidrs: zones.map((n) => `${cidrHost(vpc, n * quarterSize)}/${quarter}`),
    publicSubnetCidrs: zones.map((n) => `${cidrHost(vpc, 3 * quarterSize + n * publicSize)}/${publicPrefix}`),
  };
}

function resolveApiLoadBalancer(p: Problems, props: AwsKubeadmClusterProps, network: ResolvedAwsNetwork): ResolvedAws["apiLoadBalancer"] {
  const lb = props.apiLoadBalancer ?? {};
  const internetFacing = lb.internetFacing ?? true;
  const allowedCidrs = apiClientCidrs(p, lb, internetFacing, { field: "internetFacing", word: "internet-facing" });
  if (internetFacing && network.kind === "existing") {
    p.check(network.publicSubnetIds.length > 0, "network.existing.publicSubnetIds", undefined, "is required for an internet-facing API load balancer", "give public subnets, or set apiLoadBalancer.internetFacing to false");
  }
  return { internetFacing, allowedCidrs, deletionProtection: lb.deletionProtection ?? false };
}

function resolveImage(p: Problems, props: AwsKubeadmClusterProps): ResolvedAws["image"] {
  const image = props.image ?? {};
  if (image.imageId !== undefined) checkImageId(p, "image.imageId", image.imageId);
  const lookup = image.lookup;
  if (lookup) {
    p.check(Array.isArray(lookup.owners) && lookup.owners.length > 0 && lookup.owners.every((o) => /^(\d{12}|self|amazon|aws-marketplace)$/.test(o)), "image.lookup.owners", lookup.owners, "must list owner account ids", 'use e.g. ["099720109477"] (Canonical)');
    p.check(typeof lookup.namePattern === "string" && lookup.namePattern.length > 0, "image.lookup.namePattern", lookup.namePattern, "is empty", 'use e.g. "my-golden-ubuntu-{arch}-*"');
  }
  const rootDeviceName = image.rootDeviceName ?? AWS_DEFAULTS.rootDeviceName;
  p.check(/^\/dev\/[a-z0-9]+$/.test(rootDeviceName), "image.rootDeviceName", rootDeviceName, "is not a device name", 'use "/dev/sda1" (Ubuntu) or "/dev/xvda" (Amazon Linux)');
  return {
    owners: lookup?.owners ?? [AWS_DEFAULTS.ubuntuOwner],
    namePattern: lookup?.namePattern ?? AWS_DEFAULTS.ubuntuNamePattern,
    rootDeviceName,
  };
}

/** All zones in one region, and in the provider's region when synth knows it. */
function checkZoneRegions(p: Problems, zones: unknown[], providerRegion: string | undefined): void {
  const named = zones.filter((z): z is string => typeof z === "string" && AZ_NAME.test(z));
  const regions = [...new Set(named.map(regionOfZone))];
  if (regions.length > 1) {
    p.add("network.availabilityZones", zones, `spans regions ${regions.join(", ")}: a VPC lives in one region`, "give zones of one region (the provider's)");
  } else if (regions.length === 1 && providerRegion !== undefined && regions[0] !== providerRegion) {
    p.add("network.availabilityZones", zones, `are in ${regions[0]}, but the AWS provider's region is ${providerRegion}`, `give zones of ${providerRegion} (e.g. "${providerRegion}a"), or change the provider's region`);
  }
}

/** A KMS key must be in the region of the resources it encrypts. */
function checkKmsRegion(p: Problems, field: string, arn: string, providerRegion: string | undefined, service: string): void {
  const region = regionOfArn(arn);
  if (providerRegion === undefined || region === undefined || region === providerRegion) return;
  p.add(field, arn, `is a key in ${region}, but the AWS provider's region is ${providerRegion}: ${service} cannot use a key of another region`, `give a key (or a multi-Region replica) in ${providerRegion}`);
}

function checkImageId(p: Problems, field: string, imageId: unknown): void {
  p.check(typeof imageId === "string" && (isToken(imageId) || AMI_ID.test(imageId)), field, imageId, "is not an AMI id", 'use e.g. "ami-0123456789abcdef0", or leave it unset for the Ubuntu 24.04 lookup');
}

function resolveMachineGroup(p: Problems, field: string, options: AwsMachineOptions, instanceType: unknown, clusterImageId: string | undefined): ResolvedMachineGroup {
  const types = [instanceType];
  return resolveMachine(p, field, options, types, "instanceType", clusterImageId);
}

function resolveMachine(p: Problems, field: string, options: AwsMachineOptions, types: unknown[], typesField: string, clusterImageId: string | undefined): ResolvedMachineGroup {
  types.forEach((t, i) =>
    p.check(isInstanceTypeName(t), `${field}.${typesField}${types.length > 1 || typesField === "instanceTypes" ? `[${i}]` : ""}`, t, "is not an EC2 instance type", 'use e.g. "m7i.large" (at least 2 vCPU and 2 GiB for kubeadm)'),
  );
  const valid = types.filter(isInstanceTypeName);
  const architectures = [...new Set(valid.map(architectureOf))];
  p.check(architectures.length <= 1, `${field}.${typesField}`, types, "mixes x86_64 and Graviton (arm64) types; one launch template has one image", "use types of one architecture per pool (make a second pool for the other)");
  if (options.imageId !== undefined) checkImageId(p, `${field}.imageId`, options.imageId);

  const v = options.rootVolume ?? {};
  const sizeGiB = v.sizeGiB ?? AWS_DEFAULTS.rootVolumeGiB;
  p.check(Number.isInteger(sizeGiB) && sizeGiB >= 20 && sizeGiB <= 16384, `${field}.rootVolume.sizeGiB`, sizeGiB, "must be a whole number of GiB from 20 to 16384", "use 50 (container images and logs need room)");
  if (v.iops !== undefined) p.check(Number.isInteger(v.iops) && v.iops >= 3000 && v.iops <= 16000, `${field}.rootVolume.iops`, v.iops, "is outside gp3's 3000-16000", "use 3000 (baseline) or more");
  if (v.throughput !== undefined) p.check(Number.isInteger(v.throughput) && v.throughput >= 125 && v.throughput <= 1000, `${field}.rootVolume.throughput`, v.throughput, "is outside gp3's 125-1000 MiB/s", "use 125 (baseline) or more");
  if (v.kmsKeyId !== undefined) {
    // The launch template's kms_key_id takes an ARN only (the provider refuses a key id or alias name).
    p.check(
      typeof v.kmsKeyId === "string" && (isToken(v.kmsKeyId) || KMS_KEY_ARN.test(v.kmsKeyId) || KMS_ALIAS_ARN.test(v.kmsKeyId)),
      `${field}.rootVolume.kmsKeyId`,
      v.kmsKeyId,
      "is not a KMS key ARN or alias ARN (a launch template takes no bare key id or alias name)",
      'give "arn:aws:kms:<region>:<account>:key/<id>" or "arn:aws:kms:<region>:<account>:alias/<name>", or leave it unset for the account\'s EBS default key; the key policy must let the Auto Scaling service-linked role use it',
    );
  }

  const iam = options.iam ?? {};
  const managedPolicyArns = iam.managedPolicyArns ?? [];
  managedPolicyArns.forEach((arn, i) =>
    p.check(typeof arn === "string" && (isToken(arn) || POLICY_ARN.test(arn)), `${field}.iam.managedPolicyArns[${i}]`, arn, "is not an IAM policy ARN", 'use e.g. "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"'),
  );
  const statements = iam.statements ?? [];
  statements.forEach((s, i) => {
    const f = `${field}.iam.statements[${i}]`;
    p.check(s.Effect === "Allow" || s.Effect === "Deny", `${f}.Effect`, s.Effect, 'must be "Allow" or "Deny"', 'use "Allow"');
    const actions = ([] as unknown[]).concat(s.Action ?? []);
    p.check(actions.length > 0 && actions.every((a) => typeof a === "string" && /^(\*|[a-z0-9-]+:[A-Za-z0-9*]+)$/.test(a)), `${f}.Action`, s.Action, "must be service:Action names", 'use e.g. ["ecr:GetAuthorizationToken"]');
    const resources = ([] as unknown[]).concat(s.Resource ?? []);
    p.check(resources.length > 0 && resources.every((r) => typeof r === "string" && r.length > 0), `${f}.Resource`, s.Resource, "is empty", 'give ARNs, or "*" where the action takes no resource');
  });
  if (iam.permissionsBoundary !== undefined) {
    p.check(isToken(iam.permissionsBoundary) || POLICY_ARN.test(iam.permissionsBoundary), `${field}.iam.permissionsBoundary`, iam.permissionsBoundary, "is not an IAM policy ARN", 'use e.g. "arn:aws:iam::123456789012:policy/boundary"');
  }
  const iamPath = iam.path ?? "/";
  p.check(/^\/([\x21-\x7e]+\/)?$/.test(iamPath) && iamPath.length <= 512, `${field}.iam.path`, iamPath, "is not an IAM path", 'use "/" or e.g. "/k8s/"');

  return {
    instanceTypes: valid.length === types.length ? (valid as string[]) : [AWS_DEFAULTS.workerInstanceType],
    architecture: architectures[0] ?? "amd64",
    rootVolume: { sizeGiB, iops: v.iops, throughput: v.throughput, kmsKeyId: v.kmsKeyId },
    iam: { ssmSessionManager: iam.ssmSessionManager ?? false, managedPolicyArns, statements, permissionsBoundary: iam.permissionsBoundary, path: iamPath },
    imageId: options.imageId ?? clusterImageId,
  };
}

function resolvePool(p: Problems, field: string, spec: AwsNodePoolSpec, pool: ResolvedNodePool, clusterImageId: string | undefined): ResolvedAwsPool {
  let types: unknown[];
  let typesField = "instanceType";
  if (spec.instanceTypes !== undefined) {
    typesField = "instanceTypes";
    p.check(spec.instanceType === undefined, `${field}.instanceType`, spec.instanceType, "is set together with instanceTypes", "give the types only in instanceTypes (the first is the launch template's)");
    const list = Array.isArray(spec.instanceTypes) ? spec.instanceTypes : [];
    p.check(list.length >= 1 && list.length <= 40, `${field}.instanceTypes`, spec.instanceTypes, "must list 1 to 40 instance types", 'use e.g. ["m7i.large", "m6i.large", "m5.large"]');
    p.check(new Set(list).size === list.length, `${field}.instanceTypes`, list, "lists a type twice", "give each type once");
    types = list.length > 0 ? list : [AWS_DEFAULTS.workerInstanceType];
  } else {
    types = [spec.instanceType ?? AWS_DEFAULTS.workerInstanceType];
  }
  const machine = resolveMachine(p, field, spec, types, typesField, clusterImageId);
  const spot = spec.spot ? resolveSpot(p, `${field}.spot`, spec.spot, pool) : undefined;
  const drainTimeoutSeconds = spec.drainTimeoutSeconds ?? AWS_DEFAULTS.workerDrainTimeoutSeconds;
  // The hook's heartbeat timeout (at most 7200 s) is the drain plus a margin.
  p.check(Number.isInteger(drainTimeoutSeconds) && drainTimeoutSeconds >= 30 && drainTimeoutSeconds <= 3600, `${field}.drainTimeoutSeconds`, drainTimeoutSeconds,
    "must be a whole number of seconds from 30 to 3600 (how long a terminating worker evicts its pods)", "use e.g. 300, or more for pods with long termination grace periods");
  return {
    ...machine,
    pool,
    spot,
    mixed: spot !== undefined || machine.instanceTypes.length > 1,
    clusterAutoscaler: spec.clusterAutoscaler ?? pool.minSize < pool.maxSize,
    instanceRefresh: spec.instanceRefresh ?? true,
    drainTimeoutSeconds,
  };
}

function resolveSpot(p: Problems, field: string, spot: AwsSpotOptions, pool: ResolvedNodePool): ResolvedSpot {
  const base = spot.onDemandBaseCapacity ?? 0;
  const above = spot.onDemandPercentageAboveBaseCapacity ?? 0;
  const allocationStrategy = spot.allocationStrategy ?? AWS_DEFAULTS.spotAllocationStrategy;
  p.check(Number.isInteger(base) && base >= 0 && base <= pool.maxSize, `${field}.onDemandBaseCapacity`, base, `must be a whole number from 0 to the pool's maxSize (${pool.maxSize})`, "use e.g. 1 to keep one on-demand node");
  p.check(Number.isInteger(above) && above >= 0 && above <= 100, `${field}.onDemandPercentageAboveBaseCapacity`, above, "must be a whole percentage from 0 to 100", "use 0 for all spot above the base");
  p.check(SPOT_STRATEGIES.includes(allocationStrategy), `${field}.allocationStrategy`, allocationStrategy, "is not a spot allocation strategy", `use one of ${SPOT_STRATEGIES.join(", ")}`);
  if (spot.maxPrice !== undefined) {
    p.check(typeof spot.maxPrice === "string" && /^\d+(\.\d+)?$/.test(spot.maxPrice) && Number(spot.maxPrice) > 0, `${field}.maxPrice`, spot.maxPrice, "is not a positive hourly price", 'use e.g. "0.12", or leave it unset (capped at the on-demand price)');
  }
  return { onDemandBaseCapacity: base, onDemandPercentageAboveBaseCapacity: above, allocationStrategy, maxPrice: spot.maxPrice };
}

function resolveTags(p: Problems, tags: Record<string, string>): Record<string, string> {
  for (const [key, value] of Object.entries(tags)) {
    p.check(key.length >= 1 && key.length <= 128 && !key.toLowerCase().startsWith("aws:"), `tags["${key}"]`, key, "is not a usable tag key (1-128 characters, not starting with aws:)", "rename the tag");
    p.check(typeof value === "string" && value.length <= 256, `tags["${key}"]`, value, "is not a tag value of at most 256 characters", "shorten the value");
    p.check(key !== "Name" && !key.startsWith("kubernetes.io/cluster/"), `tags["${key}"]`, key, "is set by the construct", "remove the tag");
  }
  return tags;
}
