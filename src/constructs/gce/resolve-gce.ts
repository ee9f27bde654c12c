/**
 * Applies the GCE defaults and validates every GCE field together with the cluster model
 * (`resolveCluster`), reporting all problems in one ClusterSpecError before any construct exists.
 */
import { EtcdBackup, resolveEtcdBackup } from "../../bootstrap/etcd-backup";
import { cidrContains, cidrHost, Ipv4Cidr, parseCidr, parseIpv4 } from "../../bootstrap/cidr";
import { apiClientCidrs, cidr, cidrList, isToken, resolveClusterModel, withoutPlatformFields } from "../platform-validation";
import { pkiStoreProblems } from "../kubeadm-cluster";
import { PROPS_SCHEMA } from "../props-schema";
import { propsShapeProblems } from "../props-shape";
import { cniInstallableOn } from "../../bootstrap/catalog";
import type { ClusterSpec, ResolvedCluster, ResolvedNodePool } from "../../bootstrap/spec";
import { ClusterSpecError, Problems, SpecProblem } from "../../bootstrap/validation-error";
import { GCE_NAME } from "./names";
import { GCE_DEFAULTS, GceKubeadmClusterProps, GceMachineOptions, GceNodePoolSpec } from "./props";

export type GceArchitecture = "amd64" | "arm64";

/** A group of identical machines: the control plane or one node pool. */
export interface ResolvedGceMachineGroup {
  readonly machineType: string;
  readonly architecture: GceArchitecture;
  readonly bootDisk: { readonly sizeGb: number; readonly type: string };
  /** `email` set: an existing account, nothing created. */
  readonly serviceAccount: { readonly email?: string; readonly roles: string[]; readonly scopes: string[] };
  /** Image or image family (the group's, the cluster's, or Ubuntu 24.04 LTS of the architecture). */
  readonly image: string;
}

export interface ResolvedGceControlPlane extends ResolvedGceMachineGroup {
  /** Explicit zones; undefined: the region's first three (data source). */
  readonly zones?: string[];
  readonly autoHealing: boolean;
}

export interface ResolvedGcePool extends ResolvedGceMachineGroup {
  readonly pool: ResolvedNodePool;
  readonly spot?: { readonly terminationAction: "DELETE" | "STOP" };
  readonly autoscaling?: { readonly cpuTarget: number; readonly cooldownSeconds: number };
  /** minSize < maxSize without Compute Engine autoscaling: Terraform leaves target_size to cluster-autoscaler. */
  readonly clusterAutoscaler: boolean;
  readonly zones?: string[];
  readonly zoneCount: number;
  readonly maxSurge: number;
  readonly drainTimeoutSeconds: number;
}

export type ResolvedGceNetwork =
  | {
      readonly kind: "managed";
      readonly subnetCidr: string;
      readonly mtu: number;
      readonly natAddressCount: number;
      /** Literal reserved addresses, per slot. */
      readonly controlPlaneAddresses: string[];
      readonly internalApiAddress: string;
    }
  | {
      readonly kind: "existing";
      readonly network: string;
      readonly subnetwork: string;
      readonly subnetCidrs: string[];
      /** Literal addresses per slot, or undefined: GCE chooses (Terraform references). */
      readonly controlPlaneAddresses?: string[];
    };

export interface ResolvedGce {
  readonly cluster: ResolvedCluster;
  readonly project: string;
  readonly region: string;
  readonly network: ResolvedGceNetwork;
  readonly apiLoadBalancer: { readonly external: boolean; readonly allowedCidrs: string[]; readonly internalAddress?: string };
  readonly security: { readonly nodePortCidrs: string[]; readonly kubeletFromWorkers: boolean };
  readonly controlPlane: ResolvedGceControlPlane;
  readonly nodePools: ResolvedGcePool[];
  readonly tags: string[];
  readonly labels: Record<string, string>;
  /** Secrets in Secret Manager (true) or in user data (false). */
  readonly secretStore: boolean;
  /** Validated backup options (the bucket is the construct's); undefined: no backups. */
  readonly etcdBackup?: ResolvedGceEtcdBackup;
}

export interface ResolvedGceEtcdBackup {
  readonly options: EtcdBackup;
  readonly bucketName?: string;
  readonly prefix: string;
  readonly kmsKeyName?: string;
  readonly forceDestroy: boolean;
}

const GCS_BUCKET_NAME = /^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$/;
const KMS_KEY_NAME = /^projects\/[^/]+\/locations\/[a-z0-9-]+\/keyRings\/[\w-]+\/cryptoKeys\/[\w-]+$/;
/** Scopes that let a node write objects into Cloud Storage. */
const STORAGE_WRITE_SCOPES = [...["cloud-platform", "devstorage.read_write", "devstorage.full_control"], ...["cloud-platform", "devstorage.read_write", "devstorage.full_control"].map((s) => `https://www.googleapis.com/auth/${s}`)];

const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const REGION = /^[a-z]+(-[a-z]+)+[0-9]+$/;
const MACHINE_TYPE = /^[a-z][a-z0-9]*-[a-z0-9]+(-[a-z0-9]+)*$/;
const IMAGE = /^(https:\/\/(www|compute)\.googleapis\.com\/compute\/(v1|beta)\/)?projects\/[a-z][-a-z0-9.:]*[a-z0-9]\/global\/images\/(family\/)?[a-z]([-a-z0-9]*[a-z0-9])?$/;
const SERVICE_ACCOUNT = /^[a-z][-a-z0-9]{4,28}[a-z0-9]@[a-z][-a-z0-9.:]*\.iam\.gserviceaccount\.com$/;
const DEFAULT_COMPUTE_ACCOUNT = /-compute@developer\.gserviceaccount\.com$/;
const ROLE = /^(roles\/[a-zA-Z0-9_.]+|(projects|organizations)\/[^/]+\/roles\/[a-zA-Z0-9_.]+)$/;
const SCOPE = /^([a-z][-a-z0-9.]*|https:\/\/www\.googleapis\.com\/auth\/[a-z0-9._-]+)$/;
const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;
const DISK_TYPES = ["pd-balanced", "pd-ssd", "pd-standard", "pd-extreme", "hyperdisk-balanced"];
/** Series whose machines take Hyperdisk only. */
const HYPERDISK_ONLY = /^(c4|c4a|c4d|n4|n4a|n4d|x4|a4|c3-metal|h3)-/;
/** Below kubeadm's preflight minimum (2 vCPU, 1700 MB) for a control-plane node. */
const TOO_SMALL = /^(f1-micro|g1-small|e2-micro|e2-small|n1-standard-1|e2-standard-1)$/;
/** Arm series. */
const ARM = /^(t2a|c4a|n4a)-/;
const CONTROL_PLANE_GCE_KEYS = ["machineType", "zones", "autoHealing", "bootDisk", "serviceAccount", "image"] as const;
const POOL_GCE_KEYS = ["machineType", "spot", "autoscaling", "zones", "maxSurge", "drainTimeoutSeconds", "bootDisk", "serviceAccount", "image"] as const;
/** Label keys the construct sets. */
const OWN_LABEL = /^cdktf-kubeadm-/;

/** Validates `props` (cluster model and GCE fields); throws one ClusterSpecError listing every problem. */
export function resolveGce(id: string, props: GceKubeadmClusterProps): ResolvedGce {
  const p = new Problems();
  // Keys and types first: nothing below computes with a value of the wrong type.
  const shapeProblems = propsShapeProblems(PROPS_SCHEMA, "gce", props);
  if (shapeProblems.length > 0) throw new ClusterSpecError(String(props?.name ?? id), shapeProblems);
  const name = props.name ?? id;
  if (props.name === undefined && !GCE_NAME.test(id)) {
    p.add("name", undefined, `is unset and the construct id "${id}" is not a valid cluster name`, 'set name, e.g. "prod" (a DNS label)');
  }
  const project = props.project;
  p.check(typeof project === "string" && (isToken(project) || PROJECT_ID.test(project)), "project", project, "is not a Google Cloud project id (6-30 characters: lowercase letters, digits, '-', starting with a letter)", 'give the project id (not its name or number), e.g. "my-project-123"');
  const region = props.region;
  const regionOk = p.check(typeof region === "string" && REGION.test(region), "region", region, "is not a Compute Engine region", 'use e.g. "europe-west4" or "us-central1"');

  const replicas = props.controlPlane?.replicas ?? 1;
  const network = resolveNetwork(p, props, replicas);
  const apiLoadBalancer = resolveApiLoadBalancer(p, props, network);
  const security = {
    nodePortCidrs: cidrList(p, "security.nodePortCidrs", props.security?.nodePortCidrs ?? []),
    kubeletFromWorkers: props.security?.kubeletFromWorkers ?? false,
  };
  if (props.image?.image !== undefined) checkImage(p, "image.image", props.image.image);
  const cp = props.controlPlane ?? {};
  const cpGroup = resolveMachine(p, "controlPlane", cp, cp.machineType ?? GCE_DEFAULTS.machineType, props.image?.image);
  if (typeof cpGroup.machineType === "string") {
    p.check(!TOO_SMALL.test(cpGroup.machineType), "controlPlane.machineType", cpGroup.machineType, "is below kubeadm's control-plane minimum of 2 vCPU and 1700 MB", 'use e.g. "n2-standard-2" or "e2-standard-2"');
  }
  const controlPlane: ResolvedGceControlPlane = {
    ...cpGroup,
    zones: resolveZones(p, "controlPlane.zones", cp.zones, regionOk ? region : undefined),
    autoHealing: cp.autoHealing ?? true,
  };
  p.check(typeof controlPlane.autoHealing === "boolean", "controlPlane.autoHealing", cp.autoHealing, "is not a boolean", "use true (managed groups of one) or false (plain instances)");
  const secretStore = props.secretStore ?? true;
  p.check(typeof secretStore === "boolean", "secretStore", props.secretStore, "is not a boolean", "use true (secrets in Secret Manager) or false (secrets in user data, less safe)");
  if (secretStore === true) checkSecretScopes(p, "controlPlane", cpGroup);
  const tags = resolveTags(p, props.tags ?? [], String(name));
  const labels = resolveLabels(p, props.labels ?? {});
  const etcdBackup = resolveGceEtcdBackup(p, props, String(name), cpGroup, secretStore === true);

  const spec = toClusterSpec(String(name), props);
  // Only ranges that passed their own checks go to the overlap checks (one problem per mistake).
  const nodeCidrs =
    network.kind === "managed"
      ? network.internalApiAddress !== ""
        ? [network.subnetCidr]
        : []
      : network.subnetCidrs.filter((c) => typeof c === "string" && typeof parseCidr(c) !== "string");
  const problems: SpecProblem[] = [...p.list, ...pkiStoreProblems(String(name), props)];
  const cluster = resolveClusterModel(spec, { platform: "gce", nodeCidrs }, problems);
  const q = new Problems();
  const specPools = props.nodePools ?? [{ name: "default" }];
  // Without a valid cluster model the pools' GCE fields are still checked, against provisional sizes.
  const modelPools = cluster?.nodePools ?? specPools.map((s) => provisionalPool(s));
  const nodePools = modelPools.map((pool, i) => resolvePool(q, `nodePools[${i}]`, specPools[i] ?? { name: pool.name }, pool, props.image?.image, regionOk ? region : undefined));
  if (secretStore === true) nodePools.forEach((pool, i) => checkSecretScopes(q, `nodePools[${i}]`, pool));
  if (cluster) {
    q.check(
      cniInstallableOn(cluster.cni, controlPlane.architecture),
      "controlPlane.machineType",
      controlPlane.machineType,
      "is an Arm (arm64) machine type, but the overridden cilium-cli URL (cni.manifestUrl) is one amd64 binary",
      "use an x86_64 control-plane machine type, or the pinned cilium-cli (it has an arm64 build)",
    );
  }
  problems.push(...q.list);
  if (problems.length > 0 || !cluster) throw new ClusterSpecError(String(name), problems);
  return { cluster, project, region, network, apiLoadBalancer, security, controlPlane, nodePools, tags, labels, secretStore, etcdBackup };
}

/** A pool's sizes as the cluster model would default them, for checking GCE fields when the model failed. */
function provisionalPool(spec: GceNodePoolSpec): ResolvedNodePool {
  const minSize = Number.isInteger(spec?.minSize) ? spec.minSize! : 1;
  const desiredSize = Number.isInteger(spec?.desiredSize) ? spec.desiredSize! : minSize;
  const maxSize = Number.isInteger(spec?.maxSize) ? spec.maxSize! : Math.max(minSize, desiredSize, 3);
  return { name: String(spec?.name), minSize, maxSize, desiredSize, labels: {}, taints: [], kubeletExtraArgs: {}, maxPods: 110 };
}

/** The ClusterSpec part of the props, GCE-only fields removed. */
function toClusterSpec(name: string, props: GceKubeadmClusterProps): ClusterSpec {
  const {
    name: _n,
    project: _pr,
    region: _r,
    network: _net,
    apiLoadBalancer: _lb,
    security: _sec,
    image: _img,
    tags: _t,
    labels: _l,
    pkiDirectory: _p,
    existingCa: _e,
    requireExistingPkiStore: _require,
    outputs: _o,
    secretStore: _s,
    etcdBackup: _b,
    controlPlane,
    nodePools,
    ...rest
  } = props;
  return { ...rest, name, ...withoutPlatformFields(controlPlane, nodePools, CONTROL_PLANE_GCE_KEYS, POOL_GCE_KEYS) };
}

/** An address usable by a VM in `ranges`: not the network, gateway (.1) or the last two (GCE reserves them). */
function checkAddress(p: Problems, field: string, address: unknown, ranges: Ipv4Cidr[]): boolean {
  const value = typeof address === "string" ? parseIpv4(address) : undefined;
  if (!p.check(value !== undefined, field, address, "is not an IPv4 address", 'use e.g. "10.0.0.10"')) return false;
  if (ranges.length === 0) return true;
  const range = ranges.find((r) => cidrContains(r, value!));
  if (!p.check(range !== undefined, field, address, `is outside the subnetwork (${ranges.map((r) => r.text).join(", ")})`, "choose an address inside the nodes' subnetwork")) return false;
  const offset = value! - range!.network;
  const size = 2 ** (32 - range!.prefix);
  return p.check(offset >= 2 && offset < size - 2, field, address, "is one of the four addresses GCE reserves in every subnet (network, gateway, last two)", "choose another address in the subnetwork");
}

function resolveNetwork(p: Problems, props: GceKubeadmClusterProps, replicas: number): ResolvedGceNetwork {
  const net = props.network ?? {};
  if ("existing" in net) {
    const e = net.existing ?? ({} as never);
    const ref = (field: "network" | "subnetwork", example: string) =>
      p.check(typeof e[field] === "string" && e[field].length > 0, `network.existing.${field}`, e[field], `is not a ${field} self link or id`, `use e.g. "${example}" or a reference to a google_compute_${field}`);
    ref("network", "projects/my-project/global/networks/prod");
    ref("subnetwork", "projects/my-project/regions/europe-west4/subnetworks/nodes");
    const subnetCidrs = Array.isArray(e.subnetCidrs) ? e.subnetCidrs : [];
    p.check(subnetCidrs.length > 0, "network.existing.subnetCidrs", e.subnetCidrs, "is empty", "list the subnetwork's IPv4 ranges (literal values: they are checked against the pod and service ranges)");
    const ranges = subnetCidrs.map((c, i) => cidr(p, `network.existing.subnetCidrs[${i}]`, c)).filter((c): c is Ipv4Cidr => c !== undefined);
    const addresses = e.controlPlaneAddresses;
    if (addresses !== undefined) {
      if (!Array.isArray(addresses) || isToken(addresses)) {
        p.add("network.existing.controlPlaneAddresses", addresses, "must be a literal list of IPv4 addresses", 'use e.g. ["10.20.0.10", "10.20.0.11", "10.20.0.12"]');
      } else {
        p.check(addresses.length === replicas, "network.existing.controlPlaneAddresses", addresses, `lists ${addresses.length} addresses for ${replicas} control-plane replicas`, "give one address per replica");
        addresses.forEach((a, i) => checkAddress(p, `network.existing.controlPlaneAddresses[${i}]`, a, ranges));
        p.check(new Set(addresses).size === addresses.length, "network.existing.controlPlaneAddresses", addresses, "lists an address twice", "give each slot its own address");
      }
    }
    return { kind: "existing", network: e.network, subnetwork: e.subnetwork, subnetCidrs, controlPlaneAddresses: Array.isArray(addresses) ? addresses : undefined };
  }

  const m = net;
  const subnetCidr = m.subnetCidr ?? GCE_DEFAULTS.subnetCidr;
  let parsed = cidr(p, "network.subnetCidr", subnetCidr);
  if (parsed && !p.check(parsed.prefix >= 12 && parsed.prefix <= 24, "network.subnetCidr", subnetCidr, "must be a /12 to /24", 'use e.g. "10.0.0.0/20" (4092 nodes)')) parsed = undefined;
  const mtu = m.mtu ?? GCE_DEFAULTS.mtu;
  p.check(Number.isInteger(mtu) && mtu >= 1300 && mtu <= 8896, "network.mtu", mtu, "is outside GCE's 1300-8896", "use 1460 (the GCE default)");
  const natAddressCount = m.natAddressCount ?? GCE_DEFAULTS.natAddressCount;
  p.check(Number.isInteger(natAddressCount) && natAddressCount >= 1 && natAddressCount <= 16, "network.natAddressCount", natAddressCount, "must be a whole number from 1 to 16", "use 1 (64k connections per destination), more for large pools");
  const host = (n: number) => (parsed ? cidrHost(parsed, n) : "");
  return {
    kind: "managed",
    subnetCidr: parsed?.text ?? subnetCidr,
    mtu,
    natAddressCount,
    controlPlaneAddresses: Array.from({ length: Number.isInteger(replicas) && replicas > 0 && replicas <= 9 ? replicas : 1 }, (_, slot) => host(GCE_DEFAULTS.controlPlaneHostBase + slot)),
    internalApiAddress: host(GCE_DEFAULTS.internalApiHost),
  };
}

function resolveApiLoadBalancer(p: Problems, props: GceKubeadmClusterProps, network: ResolvedGceNetwork): ResolvedGce["apiLoadBalancer"] {
  const lb = props.apiLoadBalancer ?? {};
  const external = lb.external ?? true;
  p.check(typeof external === "boolean", "apiLoadBalancer.external", lb.external, "is not a boolean", "use true (external) or false (internal)");
  const allowedCidrs = apiClientCidrs(p, lb, external, { field: "external", word: "external" });
  let internalAddress: string | undefined;
  if (lb.internalAddress !== undefined) {
    if (p.check(!external, "apiLoadBalancer.internalAddress", lb.internalAddress, "is set for an external load balancer", "remove it, or set apiLoadBalancer.external to false")) {
      const ranges = (network.kind === "managed" ? [network.subnetCidr] : network.subnetCidrs).map((c) => parseCidr(c)).filter((c): c is Ipv4Cidr => typeof c !== "string");
      if (checkAddress(p, "apiLoadBalancer.internalAddress", lb.internalAddress, ranges)) {
        const taken = network.controlPlaneAddresses ?? [];
        p.check(!taken.includes(lb.internalAddress), "apiLoadBalancer.internalAddress", lb.internalAddress, "is a control-plane slot's address", `choose another address (slots use ${taken.join(", ")})`);
        internalAddress = lb.internalAddress;
      }
    }
  } else if (!external && network.kind === "managed") {
    internalAddress = network.internalApiAddress;
  }
  return { external, allowedCidrs, internalAddress };
}

function checkImage(p: Problems, field: string, image: unknown): void {
  p.check(
    typeof image === "string" && (isToken(image) || IMAGE.test(image)),
    field,
    image,
    "is not an image or image family path",
    'use e.g. "projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64" or "projects/my-project/global/images/my-image"',
  );
}

function resolveZones(p: Problems, field: string, zones: unknown, region: string | undefined): string[] | undefined {
  if (zones === undefined) return undefined;
  if (!Array.isArray(zones) || isToken(zones)) {
    p.add(field, zones, "must be a literal list of zone names", 'use e.g. ["europe-west4-a", "europe-west4-b", "europe-west4-c"]');
    return undefined;
  }
  p.check(zones.length >= 1 && zones.length <= 4, field, zones, "must list 1 to 4 zones", "give the region's zones, 3 for a highly available cluster");
  zones.forEach((z, i) => {
    const ok = typeof z === "string" && /^[a-z]+(-[a-z]+)+[0-9]+-[a-z]$/.test(z);
    if (!p.check(ok, `${field}[${i}]`, z, "is not a zone name", 'use e.g. "europe-west4-a"')) return;
    if (region) p.check(z.startsWith(`${region}-`), `${field}[${i}]`, z, `is not in region ${region}`, `use zones of ${region}, e.g. "${region}-a"`);
  });
  p.check(new Set(zones).size === zones.length, field, zones, "lists a zone twice", "give each zone once");
  return zones as string[];
}

function resolveMachine(p: Problems, field: string, options: GceMachineOptions, machineType: unknown, clusterImage: string | undefined): ResolvedGceMachineGroup {
  const typeOk = p.check(typeof machineType === "string" && MACHINE_TYPE.test(machineType), `${field}.machineType`, machineType, "is not a Compute Engine machine type", 'use e.g. "n2-standard-2" (at least 2 vCPU and 2 GiB for kubeadm)');
  const type = typeOk ? (machineType as string) : GCE_DEFAULTS.machineType;
  const architecture: GceArchitecture = ARM.test(type) ? "arm64" : "amd64";
  if (options.image !== undefined) checkImage(p, `${field}.image`, options.image);

  const d = options.bootDisk ?? {};
  const sizeGb = d.sizeGb ?? GCE_DEFAULTS.bootDiskGb;
  p.check(Number.isInteger(sizeGb) && sizeGb >= 20 && sizeGb <= 65536, `${field}.bootDisk.sizeGb`, sizeGb, "must be a whole number of GiB from 20 to 65536", "use 50 (container images and logs need room)");
  const diskType = d.type ?? (HYPERDISK_ONLY.test(type) ? "hyperdisk-balanced" : GCE_DEFAULTS.bootDiskType);
  if (p.check(DISK_TYPES.includes(diskType), `${field}.bootDisk.type`, diskType, "is not a boot disk type", `use one of ${DISK_TYPES.join(", ")}`)) {
    p.check(!(HYPERDISK_ONLY.test(type) && diskType.startsWith("pd-")), `${field}.bootDisk.type`, diskType, `is a Persistent Disk type, but ${type} takes Hyperdisk only`, 'use "hyperdisk-balanced"');
  }

  const sa = options.serviceAccount ?? {};
  if (sa.email !== undefined) {
    const email = sa.email;
    if (p.check(typeof email === "string" && (isToken(email) || SERVICE_ACCOUNT.test(email) || DEFAULT_COMPUTE_ACCOUNT.test(email)), `${field}.serviceAccount.email`, email, "is not a service account email", 'use e.g. "nodes@my-project.iam.gserviceaccount.com", or leave it unset for a dedicated account')) {
      p.check(!DEFAULT_COMPUTE_ACCOUNT.test(email), `${field}.serviceAccount.email`, email, "is the project's default compute service account (Editor on the whole project)", "leave it unset for a dedicated, minimal account, or give one of your own");
    }
  }
  const roles = sa.roles ?? [];
  if (Array.isArray(roles)) {
    roles.forEach((r, i) => p.check(typeof r === "string" && ROLE.test(r), `${field}.serviceAccount.roles[${i}]`, r, "is not an IAM role name", 'use e.g. "roles/artifactregistry.reader"'));
    if (sa.email !== undefined) p.check(roles.length === 0, `${field}.serviceAccount.roles`, roles, "is set together with an existing account's email (roles are only granted to accounts the construct creates)", "grant the roles to your account yourself, or drop the email");
  } else {
    p.add(`${field}.serviceAccount.roles`, roles, "is not a list of roles", 'use e.g. ["roles/artifactregistry.reader"]');
  }
  const scopes = sa.scopes ?? [...GCE_DEFAULTS.scopes];
  p.check(Array.isArray(scopes) && scopes.length > 0 && scopes.every((s) => typeof s === "string" && SCOPE.test(s)), `${field}.serviceAccount.scopes`, scopes, "must list OAuth scopes (aliases or https://www.googleapis.com/auth/... URLs)", 'use ["cloud-platform"] and restrict with IAM roles');

  return {
    machineType: type,
    architecture,
    bootDisk: { sizeGb, type: diskType },
    serviceAccount: { email: sa.email, roles: Array.isArray(roles) ? [...roles] : [], scopes: Array.isArray(scopes) ? [...scopes] : [...GCE_DEFAULTS.scopes] },
    image: options.image ?? clusterImage ?? (architecture === "arm64" ? GCE_DEFAULTS.imageArm64 : GCE_DEFAULTS.imageAmd64),
  };
}

/** Secret Manager accepts only the cloud-platform scope: without it a node cannot read its secret. */
const CLOUD_PLATFORM_SCOPES = ["cloud-platform", "https://www.googleapis.com/auth/cloud-platform"];
function checkSecretScopes(p: Problems, field: string, group: ResolvedGceMachineGroup): void {
  const scopes = group.serviceAccount.scopes;
  // A malformed list is already reported by resolveMachine (one problem per mistake).
  if (scopes.length === 0 || !scopes.every((s) => typeof s === "string" && SCOPE.test(s))) return;
  p.check(
    scopes.some((s) => CLOUD_PLATFORM_SCOPES.includes(s)),
    `${field}.serviceAccount.scopes`,
    scopes,
    "lacks the cloud-platform scope, which Secret Manager requires: nodes could not read their bootstrap secret (secretStore)",
    'add "cloud-platform" (IAM roles are what restrict the account), or set secretStore to false',
  );
}

function resolvePool(p: Problems, field: string, spec: GceNodePoolSpec, pool: ResolvedNodePool, clusterImage: string | undefined, region: string | undefined): ResolvedGcePool {
  const machine = resolveMachine(p, field, spec, spec.machineType ?? GCE_DEFAULTS.machineType, clusterImage);
  let spot: ResolvedGcePool["spot"];
  if (spec.spot !== undefined && spec.spot !== false) {
    const terminationAction = spec.spot === true ? "DELETE" : (spec.spot.terminationAction ?? "DELETE");
    p.check(terminationAction === "DELETE" || terminationAction === "STOP", `${field}.spot.terminationAction`, terminationAction, 'must be "DELETE" or "STOP"', 'use "DELETE" (the group recreates the VM when capacity returns)');
    spot = { terminationAction };
  }
  let autoscaling: ResolvedGcePool["autoscaling"];
  if (spec.autoscaling) {
    const cpuTarget = spec.autoscaling.cpuTarget ?? GCE_DEFAULTS.autoscalerCpuTarget;
    const cooldownSeconds = spec.autoscaling.cooldownSeconds ?? GCE_DEFAULTS.autoscalerCooldownSeconds;
    p.check(typeof cpuTarget === "number" && cpuTarget >= 0.1 && cpuTarget <= 0.9, `${field}.autoscaling.cpuTarget`, cpuTarget, "must be a CPU utilisation from 0.1 to 0.9", "use 0.6");
    p.check(Number.isInteger(cooldownSeconds) && cooldownSeconds >= 60 && cooldownSeconds <= 3600, `${field}.autoscaling.cooldownSeconds`, cooldownSeconds, "must be a whole number of seconds from 60 to 3600", "use 300 (boot and kubeadm join)");
    p.check(pool.minSize < pool.maxSize, `${field}.autoscaling`, spec.autoscaling, `is set on a pool of fixed size (minSize = maxSize = ${pool.minSize})`, "raise maxSize, or remove autoscaling");
    autoscaling = { cpuTarget, cooldownSeconds };
  }
  const zones = resolveZones(p, `${field}.zones`, spec.zones, region);
  const zoneCount = zones?.length ?? GCE_DEFAULTS.zoneCount;
  const maxSurge = spec.maxSurge ?? zoneCount;
  p.check(Number.isInteger(maxSurge) && maxSurge >= zoneCount && maxSurge <= 1000, `${field}.maxSurge`, maxSurge, `must be a whole number of at least the group's ${zoneCount} zones (GCE: 0 or at least the zone count for regional groups; 0 would mean unavailable nodes)`, `use ${zoneCount}`);
  const drainTimeoutSeconds = spec.drainTimeoutSeconds ?? (spot ? GCE_DEFAULTS.spotDrainTimeoutSeconds : GCE_DEFAULTS.drainTimeoutSeconds);
  const maxDrain = spot ? GCE_DEFAULTS.maxSpotDrainTimeoutSeconds : GCE_DEFAULTS.maxDrainTimeoutSeconds;
  p.check(Number.isInteger(drainTimeoutSeconds) && drainTimeoutSeconds >= 10 && drainTimeoutSeconds <= maxDrain, `${field}.drainTimeoutSeconds`, drainTimeoutSeconds,
    `must be a whole number of seconds from 10 to ${maxDrain}: Compute Engine gives a deleted ${spot ? "Spot " : ""}VM's shutdown script about ${spot ? 30 : 90} s, and the drain needs time left to delete its Node`,
    `use ${spot ? GCE_DEFAULTS.spotDrainTimeoutSeconds : GCE_DEFAULTS.drainTimeoutSeconds}`);
  return { ...machine, pool, spot, autoscaling, clusterAutoscaler: !autoscaling && pool.minSize < pool.maxSize, zones, zoneCount, maxSurge, drainTimeoutSeconds };
}

function resolveTags(p: Problems, tags: string[], cluster: string): string[] {
  if (!Array.isArray(tags)) {
    p.add("tags", tags, "is not a list of network tags", 'use e.g. ["allow-iap-ssh"]');
    return [];
  }
  tags.forEach((t, i) => {
    if (!p.check(typeof t === "string" && GCE_NAME.test(t) && t.length <= 63, `tags[${i}]`, t, "is not a network tag (lowercase letters, digits, '-', at most 63 characters)", 'use e.g. "allow-iap-ssh"')) return;
    p.check(![`${cluster}-control-plane`, `${cluster}-worker`].includes(t), `tags[${i}]`, t, "is a tag the construct sets (firewall rules target it)", "choose another tag");
  });
  p.check(new Set(tags).size === tags.length, "tags", tags, "lists a tag twice", "give each tag once");
  p.check(tags.length <= 60, "tags", tags, "has more than 60 tags (GCE allows 64 per instance, the construct sets some)", "drop some tags");
  return tags;
}

function resolveLabels(p: Problems, labels: Record<string, string>): Record<string, string> {
  if (typeof labels !== "object" || labels === null || Array.isArray(labels)) {
    p.add("labels", labels, "is not a map of labels", 'use e.g. { team: "platform" }');
    return {};
  }
  const entries = Object.entries(labels);
  for (const [key, value] of entries) {
    if (!p.check(LABEL_KEY.test(key), `labels["${key}"]`, key, "is not a GCE label key (lowercase letters, digits, '_', '-', starting with a letter, at most 63 characters)", "rename the label, e.g. team_name")) continue;
    p.check(!OWN_LABEL.test(key), `labels["${key}"]`, key, "is a label the construct sets", "remove the label");
    p.check(typeof value === "string" && LABEL_VALUE.test(value), `labels["${key}"]`, value, "is not a GCE label value (lowercase letters, digits, '_', '-', at most 63 characters)", 'use e.g. "platform-team"');
  }
  p.check(entries.length <= 60, "labels", entries.length, "has more than 60 labels (GCE allows 64, the construct sets some)", "drop some labels");
  return labels;
}

/** Backups are on by default; the control plane's scopes must let it write to Cloud Storage. */
function resolveGceEtcdBackup(p: Problems, props: GceKubeadmClusterProps, name: string, controlPlane: ResolvedGceMachineGroup, secretStore: boolean): ResolvedGceEtcdBackup | undefined {
  const options = props.etcdBackup;
  if (options?.enabled === false) return undefined;
  const bucketName = options?.bucketName;
  if (bucketName !== undefined && !isToken(bucketName)) {
    p.check(GCS_BUCKET_NAME.test(bucketName), "etcdBackup.bucketName", bucketName, "is not a Cloud Storage bucket name", "give the name of an existing bucket (3-63 lowercase letters, digits, '-' and '_'), or leave it unset for a new one");
  }
  const kmsKeyName = options?.kmsKeyName;
  if (kmsKeyName !== undefined && !isToken(kmsKeyName)) {
    p.check(KMS_KEY_NAME.test(kmsKeyName), "etcdBackup.kmsKeyName", kmsKeyName, "is not a Cloud KMS key name", 'give "projects/<project>/locations/<region>/keyRings/<ring>/cryptoKeys/<key>"');
  }
  const scopes = controlPlane.serviceAccount.scopes;
  // without cloud-platform and with the secret store, checkSecretScopes has reported it (one problem, one fix)
  const reported = secretStore && !scopes.some((s) => CLOUD_PLATFORM_SCOPES.includes(s));
  if (!reported && scopes.length > 0 && scopes.every((s) => typeof s === "string" && SCOPE.test(s))) {
    p.check(scopes.some((s) => STORAGE_WRITE_SCOPES.includes(s)), "controlPlane.serviceAccount.scopes", scopes,
      "lets the control plane write no Cloud Storage object: its etcd backups (etcdBackup) would fail", 'add "cloud-platform" (IAM roles are what restrict the account), or set etcdBackup.enabled to false');
  }
  const prefix = options?.prefix ?? `${name}/`;
  const resolved = resolveEtcdBackup(p, options, { kind: "gce-gcs", bucket: bucketName ?? "bucket", prefix });
  return resolved && { options: resolved, bucketName, prefix, kmsKeyName, forceDestroy: options?.forceDestroy ?? false };
}
