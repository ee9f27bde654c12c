/**
 * A self-managed kubeadm cluster on EC2: network, security groups, API network load balancer,
 * node IAM, one launch template + ASG per control-plane slot and per node pool. The bootstrap
 * (PKI, kubeadm configuration, cloud-init) comes from the platform-neutral KubeadmCluster.
 */
import { Annotations, ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region";
import type { AutoscalingGroup } from "@cdktf/provider-aws/lib/autoscaling-group";
import type { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import type { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import type { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
import type { Lb } from "@cdktf/provider-aws/lib/lb";
import type { LbListener } from "@cdktf/provider-aws/lib/lb-listener";
import type { LbTargetGroup } from "@cdktf/provider-aws/lib/lb-target-group";
import type { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import type { Subnet } from "@cdktf/provider-aws/lib/subnet";
import type { Vpc } from "@cdktf/provider-aws/lib/vpc";
import type { NodeRole, ResolvedCluster } from "../../bootstrap/spec";
import { controlPlaneNodeName, roleName } from "../../bootstrap/spec";
import { USER_DATA_LIMITS } from "../../bootstrap/user-data-budget";
import { FAILED_WORKER_POWEROFF_MINUTES, KubeadmCluster } from "../kubeadm-cluster";
import { shallowTokenStacks } from "../token-stacks";
import { ApiLoadBalancer } from "./api-load-balancer";
import type { Architecture } from "./instance-types";
import { NodeLaunchTemplate } from "./launch-template";
import { fitName, NAME_LIMITS, resourceTags } from "./names";
import { AwsClusterNetwork } from "./network";
import { ControlPlaneGroup, WorkerPoolGroup } from "./node-group";
import { DesiredVersion } from "./desired-version";
import { EtcdBackupBucket, grantSnapshotRead } from "./etcd-backup-bucket";
import { NodeIam } from "./node-iam";
import { NodeSecrets } from "./node-secrets";
import { AWS_DEFAULTS, type AwsKubeadmClusterProps } from "./props";
import { literalProviderRegion } from "./provider-region";
import { ResolvedAws, ResolvedMachineGroup, resolveAws } from "./resolve-aws";
import { ClusterSecurityGroups } from "./security-groups";
import { ImageLookup } from "./ubuntu-ami";

/** The resources of one node pool. */
export interface AwsNodePoolResources {
  readonly group: AutoscalingGroup;
  readonly launchTemplate: LaunchTemplate;
  readonly role: IamRole;
  readonly iam: NodeIam;
}

export class AwsKubeadmCluster extends Construct {
  /** The validated model (AWS fields and cluster). */
  readonly resolved: ResolvedAws;
  readonly cluster: ResolvedCluster;
  /** PKI, user data and the cluster outputs. */
  readonly kubeadm: KubeadmCluster;
  /** `https://<nlb dns name>:<port>`. */
  readonly apiEndpoint: string;

  readonly network: AwsClusterNetwork;
  /** Undefined when an existing VPC is used. */
  readonly vpc?: Vpc;
  readonly vpcId: string;
  readonly privateSubnetIds: string[];
  readonly publicSubnetIds: string[];
  /** Created subnets (empty for an existing VPC). */
  readonly privateSubnets: Subnet[];
  readonly publicSubnets: Subnet[];

  readonly securityGroups: ClusterSecurityGroups;
  readonly controlPlaneSecurityGroup: SecurityGroup;
  readonly workerSecurityGroup: SecurityGroup;
  readonly apiLoadBalancer: ApiLoadBalancer;
  readonly loadBalancer: Lb;
  readonly targetGroup: LbTargetGroup;
  readonly listener: LbListener;

  readonly controlPlaneIam: NodeIam;
  /** SSM parameter with the desired Kubernetes version, read by the control plane's upgrade agent. */
  readonly desiredVersion: DesiredVersion;
  /** The etcd snapshots' bucket (or the existing one) and the control plane's permission to write them; undefined without backups. */
  readonly etcdBackupBucket?: EtcdBackupBucket;
  /** The control plane's read of the snapshot `restore` names; undefined without restore. */
  readonly restoreReadPolicy?: IamRolePolicy;
  /** Secrets Manager secrets of the nodes' bootstrap material; undefined with secretStore.enabled false. */
  readonly secrets?: NodeSecrets;
  /** Instance roles: "control-plane" and one per pool name. */
  readonly roles: Readonly<Record<string, IamRole>>;
  /** Per slot. */
  readonly controlPlaneGroups: AutoscalingGroup[] = [];
  readonly controlPlaneLaunchTemplates: LaunchTemplate[] = [];
  /** Per pool name. */
  readonly nodePools: Readonly<Record<string, AwsNodePoolResources>>;
  /** AMI lookups per architecture (only those used without an explicit image id). */
  readonly imageLookups: Partial<Record<Architecture, ImageLookup>> = {};

  private partitionData?: DataAwsPartition;

  constructor(scope: Construct, id: string, props: AwsKubeadmClusterProps = {}) {
    super(scope, id);
    // Cheap token creation stacks while the resources are built (token-stacks.ts: most of a synth under ts-node).
    const restoreStacks = shallowTokenStacks();
    try {
      // Every problem with the props, before any construct exists.
      const resolved = resolveAws(id, props, { providerRegion: literalProviderRegion(scope) });
      this.resolved = resolved;
      const cluster = resolved.cluster;
      this.cluster = cluster;
      const name = cluster.name;
      const userTags = resolved.tags;
      this.annotate(resolved);

      this.network = new AwsClusterNetwork(this, "network", { clusterName: name, network: resolved.network, tags: userTags });
      this.vpc = this.network.vpc;
      this.vpcId = this.network.vpcId;
      this.privateSubnetIds = this.network.privateSubnetIds;
      this.publicSubnetIds = this.network.publicSubnetIds;
      this.privateSubnets = this.network.privateSubnets;
      this.publicSubnets = this.network.publicSubnets;

      this.securityGroups = new ClusterSecurityGroups(this, "security-groups", {
        clusterName: name,
        vpcId: this.vpcId,
        apiServerPort: cluster.controlPlane.apiServerPort,
        cni: cluster.cni.plugin,
        stackedEtcd: cluster.controlPlane.externalEtcd === undefined,
        apiAllowedCidrs: resolved.apiLoadBalancer.allowedCidrs,
        natCidrs: resolved.apiLoadBalancer.internetFacing ? this.network.natEips.map((eip) => `${eip.publicIp}/32`) : [],
        nodePortCidrs: resolved.security.nodePortCidrs,
        kubeletFromWorkers: resolved.security.kubeletFromWorkers,
        tags: userTags,
      });
      this.controlPlaneSecurityGroup = this.securityGroups.controlPlane;
      this.workerSecurityGroup = this.securityGroups.workers;

      this.apiLoadBalancer = new ApiLoadBalancer(this, "api", {
        clusterName: name,
        vpcId: this.vpcId,
        internetFacing: resolved.apiLoadBalancer.internetFacing,
        subnetIds: resolved.apiLoadBalancer.internetFacing ? this.publicSubnetIds : this.privateSubnetIds,
        securityGroupId: this.securityGroups.loadBalancer.id,
        apiServerPort: cluster.controlPlane.apiServerPort,
        deletionProtection: resolved.apiLoadBalancer.deletionProtection,
        tags: userTags,
      });
      this.loadBalancer = this.apiLoadBalancer.loadBalancer;
      this.targetGroup = this.apiLoadBalancer.targetGroup;
      this.listener = this.apiLoadBalancer.listener;

      this.controlPlaneIam = new NodeIam(this, "control-plane-iam", {
        clusterName: name,
        groupName: "control-plane",
        iam: resolved.controlPlane.iam,
        tags: userTags,
        partition: () => this.partition(),
      });
      const roles: Record<string, IamRole> = { "control-plane": this.controlPlaneIam.role };

      // Pool roles first: the worker secret names its readers.
      const poolIams: Record<string, NodeIam> = {};
      for (const pool of resolved.nodePools) {
        const poolName = pool.pool.name;
        poolIams[poolName] = new NodeIam(this, `pool-${poolName}-iam`, {
          clusterName: name,
          groupName: `pool-${poolName}`,
          iam: pool.iam,
          tags: userTags,
          partition: () => this.partition(),
        });
        roles[poolName] = poolIams[poolName].role;
      }

      const region = new DataAwsRegion(this, "region");
      if (resolved.secretStore.enabled) {
        this.secrets = new NodeSecrets(this, "secrets", {
          clusterName: name,
          readers: { "control-plane": [this.controlPlaneIam.role], worker: Object.values(poolIams).map((i) => i.role) },
          region,
          kmsKeyId: resolved.secretStore.kmsKeyArn,
          tags: userTags,
        });
      }

      this.desiredVersion = new DesiredVersion(this, "desired-version", {
        clusterName: name,
        kubernetesVersion: cluster.kubernetesVersion,
        reader: this.controlPlaneIam.role,
        region,
        tags: userTags,
      });

      if (resolved.etcdBackup) {
        this.etcdBackupBucket = new EtcdBackupBucket(this, "etcd-backup", {
          clusterName: name, backup: resolved.etcdBackup, writer: this.controlPlaneIam.role, region, partition: this.partition(), tags: userTags,
        });
      }

      if (cluster.restore) {
        this.restoreReadPolicy = grantSnapshotRead(this, "etcd-restore-read", {
          snapshot: cluster.restore.snapshot, reader: this.controlPlaneIam.role, partition: this.partition(), region, kmsKeyArn: resolved.etcdBackup?.kmsKeyArn,
        });
      }

      this.kubeadm = new KubeadmCluster(this, "kubeadm", {
        cluster,
        controlPlaneEndpointHost: this.apiLoadBalancer.dnsName,
        userDataLimit: USER_DATA_LIMITS.aws,
        pkiDirectory: props.pkiDirectory,
        existingCa: props.existingCa,
        requireExistingPkiStore: props.requireExistingPkiStore,
        outputs: props.outputs,
        secrets: this.secrets?.sources,
        upgradeChannel: this.desiredVersion.channel,
        etcdBackup: this.etcdBackupBucket?.etcdBackup,
        restoreRegion: region.name,
        powerOffFailedWorkerMinutes: FAILED_WORKER_POWEROFF_MINUTES,
        // With the secret store the worker script can sign the lifecycle calls (its AWS code).
        workerJoinedHook: this.secrets ? { hookName: AWS_DEFAULTS.workerJoinedHookName, region: region.name, groupName: (pool) => workerGroupName(name, pool) } : undefined,
        // Workers drain in Terminating:Wait (the group's drain hook), with the same signed calls.
        drain: this.secrets
          ? {
              kind: "aws",
              timeoutSeconds: (pool) => resolved.nodePools.find((p) => p.pool.name === pool)!.drainTimeoutSeconds,
              terminationHookName: AWS_DEFAULTS.workerDrainHookName,
            }
          : undefined,
      });
      this.secrets?.storeBundles(this.kubeadm);
      this.apiEndpoint = this.kubeadm.apiEndpoint;

      // Nodes start once their network path exists: egress (packages, images), the API listener and every rule.
      const bootDependencies: ITerraformDependable[] = [
        ...this.network.egressDependencies,
        this.listener,
        ...Object.values(this.securityGroups.ingressRules),
        ...Object.values(this.securityGroups.egressRules),
        ...(this.secrets?.bootDependencies ?? []),
        this.desiredVersion.readerPolicy,
        ...(this.etcdBackupBucket ? [this.etcdBackupBucket.writerPolicy] : []),
        ...(this.restoreReadPolicy ? [this.restoreReadPolicy] : []),
      ];

      for (let slot = 0; slot < cluster.controlPlane.replicas; slot++) {
        const nodeName = controlPlaneNodeName(name, slot);
        const role: NodeRole = { kind: "control-plane", slot };
        const template = this.launchTemplate(`control-plane-${slot}`, nodeName, resolved.controlPlane, role, this.controlPlaneIam, [this.controlPlaneSecurityGroup.id], {
          "cdktf-kubeadm/node-role": "control-plane",
          "cdktf-kubeadm/control-plane-slot": String(slot),
        });
        const group = new ControlPlaneGroup(this, `control-plane-${slot}`, {
          name: fitName(nodeName, NAME_LIMITS.autoscalingGroup),
          subnetId: this.privateSubnetIds[slot % this.privateSubnetIds.length],
          launchTemplate: template,
          targetGroupArn: this.targetGroup.arn,
          tags: resourceTags(name, nodeName, userTags, { "cdktf-kubeadm/node-role": "control-plane" }),
          dependsOn: bootDependencies,
        });
        this.controlPlaneLaunchTemplates.push(template);
        this.controlPlaneGroups.push(group.group);
      }

      const pools: Record<string, AwsNodePoolResources> = {};
      for (const pool of resolved.nodePools) {
        const poolName = pool.pool.name;
        const groupName = `${name}-pool-${poolName}`;
        const iam = poolIams[poolName];
        const role: NodeRole = { kind: "worker", pool: poolName };
        const template = this.launchTemplate(`pool-${poolName}`, groupName, pool, role, iam, [this.workerSecurityGroup.id], {
          "cdktf-kubeadm/node-role": "worker",
          "cdktf-kubeadm/node-pool": poolName,
        });
        const group = new WorkerPoolGroup(this, `pool-${poolName}`, {
          name: workerGroupName(name, poolName),
          clusterName: name,
          pool,
          subnetIds: this.privateSubnetIds,
          launchTemplate: template,
          tags: resourceTags(name, groupName, userTags, { "cdktf-kubeadm/node-role": "worker", "cdktf-kubeadm/node-pool": poolName }),
          dependsOn: bootDependencies,
          joinedHookRole: this.secrets ? iam.role.name : undefined,
        });
        if (group.skippedAutoscalerTags.length > 0) {
          Annotations.of(this).addWarning(
            `cdktf-kubeadm: node pool "${poolName}": cluster-autoscaler node-template tags left out (over AWS's 128-character key limit): ${group.skippedAutoscalerTags.join(", ")}`,
          );
        }
        pools[poolName] = { group: group.group, launchTemplate: template, role: iam.role, iam };
      }
      this.nodePools = pools;
      this.roles = roles;
    } finally {
      restoreStacks();
    }
  }

  /** Gzipped user-data bytes per role name ("control-plane-0", "worker-general"), measured at synth. */
  get userDataSizes(): Record<string, number> {
    return this.kubeadm.userDataSizes;
  }

  private launchTemplate(
    id: string,
    templateName: string,
    group: ResolvedMachineGroup,
    role: NodeRole,
    iam: NodeIam,
    securityGroupIds: string[],
    roleTags: Record<string, string>,
  ): LaunchTemplate {
    const name = this.cluster.name;
    const image = this.image(group);
    const instanceName = role.kind === "control-plane" ? controlPlaneNodeName(name, role.slot) : `${name}-${role.pool}`;
    return new NodeLaunchTemplate(this, `${id}-template`, {
      name: templateName,
      description: `${name} ${roleName(role)}`,
      instanceType: group.instanceTypes[0],
      imageId: image.imageId,
      rootDeviceName: image.rootDeviceName,
      rootVolume: group.rootVolume,
      securityGroupIds,
      instanceProfileArn: iam.instanceProfile.arn,
      userDataBase64: this.kubeadm.userDataBase64Gzip(role),
      keyName: this.resolved.keyName,
      tags: resourceTags(name, templateName, this.resolved.tags, roleTags),
      instanceTags: resourceTags(name, instanceName, this.resolved.tags, roleTags),
    }).launchTemplate;
  }

  private image(group: ResolvedMachineGroup): { imageId: string; rootDeviceName: string } {
    if (group.imageId !== undefined) return { imageId: group.imageId, rootDeviceName: this.resolved.image.rootDeviceName };
    const arch = group.architecture;
    const lookup = (this.imageLookups[arch] ??= new ImageLookup(this, `image-${arch}`, {
      architecture: arch,
      owners: this.resolved.image.owners,
      namePattern: this.resolved.image.namePattern,
    }));
    return { imageId: lookup.imageId, rootDeviceName: lookup.rootDeviceName };
  }

  private partition(): DataAwsPartition {
    return (this.partitionData ??= new DataAwsPartition(this, "partition"));
  }

  private annotate(resolved: ResolvedAws): void {
    const a = Annotations.of(this);
    const lb = resolved.apiLoadBalancer;
    if (lb.internetFacing && lb.allowedCidrs.includes("0.0.0.0/0")) {
      a.addInfo(
        "cdktf-kubeadm: the Kubernetes API load balancer is reachable from 0.0.0.0/0 on the API port (TLS client authentication protects it); restrict it with apiLoadBalancer.allowedCidrs",
      );
    }
    if (resolved.network.kind === "existing" && lb.internetFacing && !lb.allowedCidrs.includes("0.0.0.0/0")) {
      a.addWarning(
        "cdktf-kubeadm: the nodes reach the internet-facing API load balancer through your VPC's egress (NAT gateways, proxies): add those public addresses to apiLoadBalancer.allowedCidrs, or nodes cannot join",
      );
    }
    if (resolved.network.kind === "existing" && resolved.secretStore.enabled) {
      a.addInfo("cdktf-kubeadm: nodes fetch their bootstrap secrets from Secrets Manager at boot: the existing VPC needs egress to it (NAT, or a secretsmanager interface endpoint)");
    }
    if (resolved.network.kind === "managed" && resolved.network.natGateways === "none" && !resolved.cluster.proxy.httpProxy && !resolved.cluster.proxy.httpsProxy) {
      a.addWarning(
        'cdktf-kubeadm: network.natGateways is "none" and no proxy is set: nodes need another way to reach the package repository, the image registry and Secrets Manager (VPC endpoints, mirrors via imageRepository/packageRepositoryBaseUrl)',
      );
    }
    for (const pool of resolved.nodePools) {
      if (pool.spot && pool.instanceTypes.length < 3) {
        a.addWarning(
          `cdktf-kubeadm: node pool "${pool.pool.name}" runs on spot with ${pool.instanceTypes.length} instance type(s); give several (instanceTypes) so interruptions in one spot pool do not drain the whole node pool`,
        );
      }
    }
  }
}

/** A worker pool's autoscaling group (its nodes' user data names it for the lifecycle hook). */
function workerGroupName(cluster: string, pool: string): string {
  return fitName(`${cluster}-pool-${pool}`, NAME_LIMITS.autoscalingGroup);
}
