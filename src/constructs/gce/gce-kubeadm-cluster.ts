/**
 * A self-managed kubeadm cluster on Google Compute Engine: network with Cloud NAT, firewall rules,
 * a regional passthrough API load balancer, dedicated service accounts, one managed group of one
 * (or a plain instance) per control-plane slot and one regional managed instance group per node
 * pool. The bootstrap (PKI, kubeadm configuration, cloud-init) comes from the platform-neutral
 * KubeadmCluster; its secrets (CA keys, sa.key, join token) live in Secret Manager, one secret per
 * audience, and user data carries only the reference (secrets.ts; `secretStore: false` puts them
 * back into user data). The control plane upgrades itself in place to the version in a project
 * metadata key (desired-version.ts); workers roll to new templates.
 */
import type { StorageBucketIamMember } from "@cdktf/provider-google/lib/storage-bucket-iam-member";
import { GceEtcdBackupBucket, grantSnapshotRead } from "./etcd-backup-bucket";
import { Annotations, Fn, ITerraformDependable, Token } from "cdktf";
import { Construct } from "constructs";
import type { ComputeAddress } from "@cdktf/provider-google/lib/compute-address";
import type { ComputeFirewall } from "@cdktf/provider-google/lib/compute-firewall";
import type { ComputeForwardingRule } from "@cdktf/provider-google/lib/compute-forwarding-rule";
import type { ComputeHealthCheck } from "@cdktf/provider-google/lib/compute-health-check";
import type { ComputeInstance } from "@cdktf/provider-google/lib/compute-instance";
import type { ComputeInstanceGroupManager } from "@cdktf/provider-google/lib/compute-instance-group-manager";
import type { ComputeInstanceTemplate } from "@cdktf/provider-google/lib/compute-instance-template";
import type { ComputePerInstanceConfig } from "@cdktf/provider-google/lib/compute-per-instance-config";
import type { ComputeNetwork } from "@cdktf/provider-google/lib/compute-network";
import type { ComputeRegionAutoscaler } from "@cdktf/provider-google/lib/compute-region-autoscaler";
import type { ComputeRegionBackendService } from "@cdktf/provider-google/lib/compute-region-backend-service";
import type { ComputeRegionHealthCheck } from "@cdktf/provider-google/lib/compute-region-health-check";
import type { ComputeRegionInstanceGroupManager } from "@cdktf/provider-google/lib/compute-region-instance-group-manager";
import type { ComputeRouter } from "@cdktf/provider-google/lib/compute-router";
import type { ComputeRouterNat } from "@cdktf/provider-google/lib/compute-router-nat";
import type { ComputeSubnetwork } from "@cdktf/provider-google/lib/compute-subnetwork";
import { DataGoogleComputeZones } from "@cdktf/provider-google/lib/data-google-compute-zones";
import type { NodeRole, ResolvedCluster } from "../../bootstrap/spec";
import { controlPlaneNodeName, roleName } from "../../bootstrap/spec";
import { USER_DATA_LIMITS } from "../../bootstrap/user-data-budget";
import { FAILED_WORKER_POWEROFF_MINUTES, KubeadmCluster } from "../kubeadm-cluster";
import { shallowTokenStacks } from "../token-stacks";
import { ClusterAddresses } from "./addresses";
import { ApiLoadBalancer } from "./api-load-balancer";
import { GceDesiredVersion } from "./desired-version";
import { ClusterFirewall } from "./firewall";
import { NodeInstanceTemplate, WORKER_SHUTDOWN_SCRIPT } from "./instance-template";
import { fitName, labelValue, nodeTags, resourceLabels } from "./names";
import { GceClusterNetwork } from "./network";
import { GceBootstrapSecrets, gceSecretSources } from "./secrets";
import { ControlPlaneSlotGroup, ControlPlaneSlotInstance, NodeHealthCheck, WorkerPoolGroup } from "./node-group";
import type { GceKubeadmClusterProps } from "./props";
import { ResolvedGce, resolveGce } from "./resolve-gce";
import { NodeServiceAccount } from "./service-accounts";
import { gceUserData } from "./user-data";

/** The resources of one node pool. */
export interface GceNodePoolResources {
  readonly group: ComputeRegionInstanceGroupManager;
  readonly template: ComputeInstanceTemplate;
  readonly serviceAccount: NodeServiceAccount;
  readonly autoscaler?: ComputeRegionAutoscaler;
}

export class GceKubeadmCluster extends Construct {
  /** The validated model (GCE fields and cluster). */
  readonly resolved: ResolvedGce;
  readonly cluster: ResolvedCluster;
  /** PKI, user data and the cluster outputs. */
  readonly kubeadm: KubeadmCluster;
  /** `https://<load balancer address>:<port>`. */
  readonly apiEndpoint: string;

  readonly network: GceClusterNetwork;
  /** Undefined when an existing network is used. */
  readonly vpc?: ComputeNetwork;
  readonly subnet?: ComputeSubnetwork;
  readonly router?: ComputeRouter;
  readonly nat?: ComputeRouterNat;
  readonly networkId: string;
  readonly subnetworkId: string;
  /** The region's zones, when some group has no explicit zones. */
  readonly zonesData?: DataGoogleComputeZones;

  /** Network tags the firewall rules target. */
  readonly controlPlaneTag: string;
  readonly workerTag: string;
  readonly firewall: ClusterFirewall;
  readonly firewallRules: Readonly<Record<string, ComputeFirewall>>;

  readonly addresses: ClusterAddresses;
  readonly apiAddress: ComputeAddress;
  /** Reserved internal address per control-plane slot. */
  readonly controlPlaneAddresses: ComputeAddress[];
  readonly apiLoadBalancer: ApiLoadBalancer;
  readonly apiHealthCheck: ComputeRegionHealthCheck;
  readonly backendService: ComputeRegionBackendService;
  readonly forwardingRule: ComputeForwardingRule;

  /** Auto-healing health checks (kubelet port). */
  readonly controlPlaneHealthCheck: ComputeHealthCheck;
  readonly workerHealthCheck: ComputeHealthCheck;
  /** Node service accounts: "control-plane" and one per pool name. */
  readonly serviceAccounts: Readonly<Record<string, NodeServiceAccount>>;
  /** Per slot. */
  readonly controlPlaneTemplates: ComputeInstanceTemplate[] = [];
  /** Per slot, with auto-healing (the default). */
  readonly controlPlaneGroups: ComputeInstanceGroupManager[] = [];
  readonly controlPlaneSlots: ControlPlaneSlotGroup[] = [];
  /** Per slot, with auto-healing: the per-instance config that names the VM and pins its address. */
  readonly controlPlaneInstanceConfigs: ComputePerInstanceConfig[] = [];
  /** Per slot, without auto-healing. */
  readonly controlPlaneInstances: ComputeInstance[] = [];
  /** Per pool name. */
  readonly nodePools: Readonly<Record<string, GceNodePoolResources>>;
  /**
   * The desired-version channel: project metadata key `cdktf-kubeadm-<cluster>-kubernetes-version`
   * with the cluster's Kubernetes version, read by the control plane's upgrade agent (not secret:
   * every VM in the project can read project metadata).
   */
  readonly desiredVersion: GceDesiredVersion;
  /** The etcd snapshots' bucket (or the existing one) and the control plane's grant; undefined without backups. */
  readonly etcdBackupBucket?: GceEtcdBackupBucket;
  /** The control plane's read of the snapshot `restore` names; undefined without restore. */
  readonly restoreReader?: StorageBucketIamMember;
  /** The bootstrap secrets (undefined with `secretStore: false`). */
  readonly bootstrapSecrets?: GceBootstrapSecrets;
  /** Uncompressed user-data bytes per role name ("control-plane-0", "worker-general"). */
  readonly userDataBytes: Record<string, number> = {};

  constructor(scope: Construct, id: string, props: GceKubeadmClusterProps) {
    super(scope, id);
    // Cheap token creation stacks while the resources are built (token-stacks.ts: most of a synth under ts-node).
    const restoreStacks = shallowTokenStacks();
    try {
      // Every problem with the props, before any construct exists.
      const resolved = resolveGce(id, props ?? ({} as GceKubeadmClusterProps));
      this.resolved = resolved;
      const cluster = resolved.cluster;
      this.cluster = cluster;
      const name = cluster.name;
      const { project, region } = resolved;
      const userLabels = resolved.labels;
      this.annotate(resolved);

      this.network = new GceClusterNetwork(this, "network", { clusterName: name, project, region, network: resolved.network, labels: userLabels });
      this.vpc = this.network.vpc;
      this.subnet = this.network.subnet;
      this.router = this.network.router;
      this.nat = this.network.nat;
      this.networkId = this.network.networkId;
      this.subnetworkId = this.network.subnetworkId;

      const needsZones = !resolved.controlPlane.zones || resolved.nodePools.some((p) => !p.zones);
      if (needsZones) this.zonesData = new DataGoogleComputeZones(this, "zones", { project, region, status: "UP" });

      const tags = nodeTags(name);
      this.controlPlaneTag = tags.controlPlane;
      this.workerTag = tags.workers;
      this.addresses = new ClusterAddresses(this, "addresses", {
        clusterName: name,
        project,
        region,
        subnetworkId: this.subnetworkId,
        externalApi: resolved.apiLoadBalancer.external,
        internalApiAddress: resolved.apiLoadBalancer.internalAddress,
        controlPlaneAddresses: Array.from({ length: cluster.controlPlane.replicas }, (_, slot) => resolved.network.controlPlaneAddresses?.[slot]),
        labels: userLabels,
      });
      this.apiAddress = this.addresses.api;
      this.controlPlaneAddresses = this.addresses.controlPlane;

      this.firewall = new ClusterFirewall(this, "firewall", {
        clusterName: name,
        project,
        networkId: this.networkId,
        controlPlaneTag: this.controlPlaneTag,
        workerTag: this.workerTag,
        apiServerPort: cluster.controlPlane.apiServerPort,
        cni: cluster.cni.plugin,
        stackedEtcd: cluster.controlPlane.externalEtcd === undefined,
        externalLoadBalancer: resolved.apiLoadBalancer.external,
        apiAllowedCidrs: resolved.apiLoadBalancer.allowedCidrs,
        natAddresses: this.network.natAddresses.map((a) => a.address),
        nodePortCidrs: resolved.security.nodePortCidrs,
        kubeletFromWorkers: resolved.security.kubeletFromWorkers,
      });
      this.firewallRules = this.firewall.rules;

      // The key is deterministic: user data names it, and a version bump only updates its value.
      this.desiredVersion = new GceDesiredVersion(this, "desired-version", { clusterName: name, project, kubernetesVersion: cluster.kubernetesVersion });

      if (resolved.etcdBackup) {
        this.etcdBackupBucket = new GceEtcdBackupBucket(this, "etcd-backup", { clusterName: name, project, region, backup: resolved.etcdBackup, labels: userLabels });
      }

      const port = cluster.controlPlane.apiServerPort;
      this.kubeadm = new KubeadmCluster(this, "kubeadm", {
        cluster,
        controlPlaneEndpointHost: this.addresses.apiHost,
        // GCE hairpin: a joining control-plane node uses a healthy peer's address, not the LB's.
        controlPlanePeerEndpoints: this.addresses.controlPlaneHosts.map((host) => `${host}:${port}`),
        apiHairpinDnat: true,
        userDataLimit: USER_DATA_LIMITS.gce,
        pkiDirectory: props.pkiDirectory,
        existingCa: props.existingCa,
        requireExistingPkiStore: props.requireExistingPkiStore,
        outputs: props.outputs,
        // The secret ids are deterministic: user data names them before the secrets exist.
        secrets: resolved.secretStore ? gceSecretSources(project, name) : undefined,
        upgradeChannel: this.desiredVersion.channel,
        etcdBackup: this.etcdBackupBucket?.etcdBackup,
        powerOffFailedWorkerMinutes: FAILED_WORKER_POWEROFF_MINUTES,
        // A deleted worker's shutdown script drains it (WORKER_SHUTDOWN_SCRIPT).
        drain: { kind: "gce", timeoutSeconds: (pool) => resolved.nodePools.find((p) => p.pool.name === pool)!.drainTimeoutSeconds },
      });
      this.apiEndpoint = this.kubeadm.apiEndpoint;
      if (resolved.secretStore) {
        this.bootstrapSecrets = new GceBootstrapSecrets(this, "secrets", { clusterName: name, project, region, labels: userLabels, kubeadm: this.kubeadm });
      }
      // Every role's metadata value, measured (uncompressed) before any node group exists.
      const userData = new Map<string, string>();
      for (const role of this.kubeadm.roles()) {
        const data = gceUserData(this.kubeadm, role);
        this.userDataBytes[roleName(role)] = data.bytes;
        if (data.warning) Annotations.of(this).addWarning(data.warning);
        userData.set(roleName(role), data.value);
      }

      // Nodes start once their network path exists: egress (packages, images) and every rule.
      const bootDependencies: ITerraformDependable[] = [...this.network.egressDependencies, ...Object.values(this.firewallRules)];

      this.controlPlaneHealthCheck = new NodeHealthCheck(this, "control-plane-health", {
        project,
        name: `${name}-control-plane-health`,
        description: `Auto-healing of the control-plane slots of cluster ${name}: kubelet port, 10 failed probes 30 s apart (5 minutes) before a recreate`,
        checkIntervalSec: 30,
        unhealthyThreshold: 10,
      }).healthCheck;
      this.workerHealthCheck = new NodeHealthCheck(this, "worker-health", {
        project,
        name: `${name}-worker-health`,
        description: `Auto-healing of the worker pools of cluster ${name}: kubelet port, 6 failed probes 20 s apart`,
        checkIntervalSec: 20,
        unhealthyThreshold: 6,
      }).healthCheck;

      const cpAccount = new NodeServiceAccount(this, "control-plane-service-account", { clusterName: name, project, groupName: "control-plane", serviceAccount: resolved.controlPlane.serviceAccount });
      const serviceAccounts: Record<string, NodeServiceAccount> = { "control-plane": cpAccount };
      // A node boots once it can read its secret: a denial makes the bootstrap stop at once.
      this.bootstrapSecrets?.grant("control-plane", "control-plane", cpAccount.member);
      // The upgrade agent reads the desired version from the first run on: the key exists before any control-plane VM.
      const backupWriter = this.etcdBackupBucket?.grantWriter(cpAccount.member);
      if (cluster.restore) this.restoreReader = grantSnapshotRead(this, "etcd-restore-read", cluster.restore.snapshot, cpAccount.member);
      const cpBootDependencies = [...bootDependencies, ...(this.bootstrapSecrets?.bootDependencies("control-plane") ?? []), this.desiredVersion.item, ...(backupWriter ? [backupWriter] : []), ...(this.restoreReader ? [this.restoreReader] : [])];
      const cpTags = [this.controlPlaneTag, ...resolved.tags];
      const backendGroups: string[] = [];
      for (let slot = 0; slot < cluster.controlPlane.replicas; slot++) {
        const nodeName = controlPlaneNodeName(name, slot);
        const role: NodeRole = { kind: "control-plane", slot };
        const labels = resourceLabels(name, userLabels, { "cdktf-kubeadm-role": "control-plane", "cdktf-kubeadm-slot": String(slot) });
        const zone = this.zone(resolved.controlPlane.zones, slot);
        if (resolved.controlPlane.autoHealing) {
          const template = new NodeInstanceTemplate(this, `control-plane-${slot}-template`, {
            project,
            region,
            namePrefix: nodeName,
            description: `${name} ${roleName(role)}`,
            group: resolved.controlPlane,
            subnetworkId: this.subnetworkId,
            serviceAccountEmail: cpAccount.email,
            userData: userData.get(roleName(role))!,
            networkTags: cpTags,
            labels,
          }).template;
          const group = new ControlPlaneSlotGroup(this, `control-plane-${slot}`, {
            project,
            nodeName,
            zone,
            template,
            healthCheckId: this.controlPlaneHealthCheck.id,
          });
          this.controlPlaneTemplates.push(template);
          this.controlPlaneGroups.push(group.group);
          this.controlPlaneSlots.push(group);
          backendGroups.push(group.instanceGroup);
        } else {
          const instance = new ControlPlaneSlotInstance(this, `control-plane-${slot}`, {
            project,
            nodeName,
            zone,
            group: resolved.controlPlane,
            subnetworkId: this.subnetworkId,
            networkId: this.networkId,
            address: this.controlPlaneAddresses[slot].address,
            serviceAccountEmail: cpAccount.email,
            userData: userData.get(roleName(role))!,
            networkTags: cpTags,
            labels,
            dependsOn: cpBootDependencies,
          });
          this.controlPlaneInstances.push(instance.instance);
          backendGroups.push(instance.instanceGroup);
        }
      }

      this.apiLoadBalancer = new ApiLoadBalancer(this, "api", {
        clusterName: name,
        project,
        region,
        external: resolved.apiLoadBalancer.external,
        address: this.apiAddress.address,
        networkId: this.networkId,
        subnetworkId: this.subnetworkId,
        apiServerPort: port,
        backendGroups,
        labels: userLabels,
      });
      this.apiHealthCheck = this.apiLoadBalancer.healthCheck;
      this.backendService = this.apiLoadBalancer.backendService;
      this.forwardingRule = this.apiLoadBalancer.forwardingRule;
      // A slot's VM (its per-instance config) boots once the API forwarding rule exists; the group
      // itself exists before, as the backend service refers to it.
      this.controlPlaneSlots.forEach((slot, i) => this.controlPlaneInstanceConfigs.push(slot.createInstance(this.controlPlaneAddresses[i], [...cpBootDependencies, this.forwardingRule])));

      const workerTags = [this.workerTag, ...resolved.tags];
      const pools: Record<string, GceNodePoolResources> = {};
      for (const pool of resolved.nodePools) {
        const poolName = pool.pool.name;
        const groupName = `${name}-pool-${poolName}`;
        const role: NodeRole = { kind: "worker", pool: poolName };
        const account = new NodeServiceAccount(this, `pool-${poolName}-service-account`, { clusterName: name, project, groupName: `pool-${poolName}`, serviceAccount: pool.serviceAccount });
        this.bootstrapSecrets?.grant("worker", `pool-${poolName}`, account.member);
        const labels = resourceLabels(name, userLabels, { "cdktf-kubeadm-role": "worker", "cdktf-kubeadm-pool": labelValue(poolName) });
        const template = new NodeInstanceTemplate(this, `pool-${poolName}-template`, {
          project,
          region,
          namePrefix: groupName,
          description: `${name} ${roleName(role)}`,
          group: pool,
          subnetworkId: this.subnetworkId,
          serviceAccountEmail: account.email,
          userData: userData.get(roleName(role))!,
          networkTags: workerTags,
          labels,
          spot: pool.spot,
          shutdownScript: WORKER_SHUTDOWN_SCRIPT,
        }).template;
        const group = new WorkerPoolGroup(this, `pool-${poolName}`, {
          project,
          region,
          name: groupName,
          baseInstanceName: `${name}-${poolName}`,
          pool,
          zones: pool.zones ?? Token.asList(Fn.slice(this.zonesData!.names, 0, pool.zoneCount)),
          template,
          healthCheckId: this.workerHealthCheck.id,
          dependsOn: [...bootDependencies, ...(this.bootstrapSecrets?.bootDependencies("worker") ?? []), this.forwardingRule],
        });
        pools[poolName] = { group: group.group, template, serviceAccount: account, autoscaler: group.autoscaler };
        serviceAccounts[poolName] = account;
      }
      this.nodePools = pools;
      this.serviceAccounts = serviceAccounts;
    } finally {
      restoreStacks();
    }
  }

  /** Gzipped user-data bytes per role name, as KubeadmCluster measured them (GCE delivers them uncompressed: see userDataBytes). */
  get userDataSizes(): Record<string, number> {
    return this.kubeadm.userDataSizes;
  }

  /** Slot n's zone: n mod the explicit zones, else element n (mod count) of the region's zones. */
  private zone(zones: string[] | undefined, slot: number): string {
    if (zones) return zones[slot % zones.length];
    return Token.asString(Fn.element(Fn.slice(this.zonesData!.names, 0, 3), slot));
  }

  private annotate(resolved: ResolvedGce): void {
    const a = Annotations.of(this);
    const lb = resolved.apiLoadBalancer;
    if (lb.external && lb.allowedCidrs.includes("0.0.0.0/0")) {
      a.addInfo(
        "cdktf-kubeadm: the Kubernetes API load balancer is reachable from 0.0.0.0/0 on the API port (TLS client authentication protects it); restrict it with apiLoadBalancer.allowedCidrs",
      );
    }
    if (lb.external && resolved.network.kind === "existing" && !lb.allowedCidrs.includes("0.0.0.0/0")) {
      a.addWarning(
        "cdktf-kubeadm: workers reach the external API load balancer from your network's egress (Cloud NAT) addresses: add them to apiLoadBalancer.allowedCidrs, or workers cannot join",
      );
    }
    if (resolved.secretStore && resolved.network.kind === "existing") {
      a.addWarning(
        "cdktf-kubeadm: nodes read their bootstrap secret from secretmanager.googleapis.com at boot and have no external address: give the existing subnetwork Private Google Access or Cloud NAT, or nodes cannot start",
      );
    }
    const cpEmail = resolved.controlPlane.serviceAccount.email;
    if (resolved.secretStore && cpEmail !== undefined && resolved.nodePools.some((pool) => pool.serviceAccount.email === cpEmail)) {
      a.addWarning(
        `cdktf-kubeadm: a node pool uses the control plane's service account ${cpEmail}: its workers can read the control-plane secret (CA keys); give the pools their own account`,
      );
    }
    const zones = resolved.controlPlane.zones;
    if (zones && zones.length < resolved.cluster.controlPlane.replicas && resolved.cluster.controlPlane.replicas > 1) {
      a.addWarning(`cdktf-kubeadm: ${resolved.cluster.controlPlane.replicas} control-plane slots share ${zones.length} zone(s): losing one zone can lose etcd quorum; give 3 zones`);
    }
  }
}

/** Names the construct gives a cluster's resources, for documentation and tests. */
export function gceControlPlaneGroupName(cluster: string, slot: number): string {
  return fitName(controlPlaneNodeName(cluster, slot));
}
