/**
 * The node groups.
 *
 * Control plane, per slot, one of:
 *   - auto-healing (default): a zonal managed instance group of one. A per-instance config gives
 *     its VM the slot's stable name (`<cluster>-cp-<n>`) and reserved internal address, so a
 *     recreated VM finds its predecessor's etcd member (the bootstrap removes it and rejoins) and
 *     peers find it at the same address. Auto-healing probes the kubelet port with a long delay
 *     and many retries: a restart of kubelet or the static pods during `kubeadm upgrade` never
 *     triggers a recreate. Template changes apply only when the VM is recreated anyway
 *     (OPPORTUNISTIC): the control plane is upgraded in place by kubeadm, like on AWS.
 *   - plain instances (autoHealing false): the same name and address, nobody recreates them;
 *     an unmanaged instance group per slot is the load balancer backend.
 *
 * Workers: a regional managed instance group per pool with rolling PROACTIVE updates (surge of at
 * least one VM per zone, zero unavailable), auto-healing on the kubelet port, optional Spot VMs,
 * and either cluster-autoscaler (Terraform ignores target_size) or Compute Engine's autoscaler.
 */
import { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { ComputeAddress } from "@cdktf/provider-google/lib/compute-address";
import { ComputeHealthCheck } from "@cdktf/provider-google/lib/compute-health-check";
import { ComputeInstance } from "@cdktf/provider-google/lib/compute-instance";
import { ComputeInstanceGroup } from "@cdktf/provider-google/lib/compute-instance-group";
import { ComputeInstanceGroupManager } from "@cdktf/provider-google/lib/compute-instance-group-manager";
import type { ComputeInstanceTemplate } from "@cdktf/provider-google/lib/compute-instance-template";
import { ComputePerInstanceConfig } from "@cdktf/provider-google/lib/compute-per-instance-config";
import { ComputeRegionAutoscaler } from "@cdktf/provider-google/lib/compute-region-autoscaler";
import { ComputeRegionInstanceGroupManager } from "@cdktf/provider-google/lib/compute-region-instance-group-manager";
import { KUBELET_PORT } from "./firewall";
import { nodeMetadata, nodeScheduling, SHIELDED_VM } from "./instance-template";
import { fitName } from "./names";
import { GCE_DEFAULTS } from "./props";
import type { ResolvedGceMachineGroup, ResolvedGcePool } from "./resolve-gce";

/** The network interface the stateful address is bound to. */
const NIC = "nic0";
/** GCE appends "-xxxx" to a base instance name of at most 58 characters. */
const BASE_INSTANCE_NAME_MAX = 58;

export interface ControlPlaneSlotGroupProps {
  readonly project: string;
  /** `<cluster>-cp-<n>`: group, VM and Kubernetes node name. */
  readonly nodeName: string;
  readonly zone: string;
  readonly template: ComputeInstanceTemplate;
  readonly healthCheckId: string;
}

/**
 * Auto-healing control-plane slot: a zonal managed instance group of one with a stateful name and
 * address. The group is created first (the API backend service refers to it); `createInstance`
 * then adds the per-instance config that creates its VM, once the rest of its boot path exists.
 */
export class ControlPlaneSlotGroup extends Construct {
  readonly group: ComputeInstanceGroupManager;
  /** The group's instance group (load balancer backend). */
  readonly instanceGroup: string;
  private readonly props: ControlPlaneSlotGroupProps;

  constructor(scope: Construct, id: string, props: ControlPlaneSlotGroupProps) {
    super(scope, id);
    this.props = props;
    this.group = new ComputeInstanceGroupManager(this, "group", {
      project: props.project,
      zone: props.zone,
      name: fitName(props.nodeName),
      description: `Control-plane slot ${props.nodeName}: a managed group of one for auto-healing`,
      baseInstanceName: fitName(props.nodeName, BASE_INSTANCE_NAME_MAX),
      version: [{ name: "control-plane", instanceTemplate: props.template.selfLink }],
      autoHealingPolicies: { healthCheck: props.healthCheckId, initialDelaySec: GCE_DEFAULTS.controlPlaneInitialDelaySeconds },
      statefulInternalIp: [{ interfaceName: NIC, deleteRule: "NEVER" }],
      // Upgraded in place by kubeadm: a new template reaches the slot only when its VM is recreated.
      updatePolicy: { type: "OPPORTUNISTIC", minimalAction: "REPLACE", replacementMethod: "RECREATE", maxSurgeFixed: 0, maxUnavailableFixed: 1 },
      instanceLifecyclePolicy: { defaultActionOnFailure: "REPAIR", forceUpdateOnRepair: "YES" },
      waitForInstances: false,
      // The per-instance config creates the one VM (createInstances raises target_size to 1).
      lifecycle: { ignoreChanges: ["target_size"] },
    });
    this.instanceGroup = this.group.instanceGroup;
  }

  /** The slot's VM: named `nodeName`, on the reserved address; boots after `dependsOn`. */
  createInstance(address: ComputeAddress, dependsOn: ITerraformDependable[]): ComputePerInstanceConfig {
    return new ComputePerInstanceConfig(this, "instance", {
      project: this.props.project,
      zone: this.props.zone,
      instanceGroupManager: this.group.name,
      name: this.props.nodeName,
      preservedState: {
        internalIp: [{ interfaceName: NIC, autoDelete: "NEVER", ipAddress: { address: address.selfLink } }],
      },
      minimalAction: "NONE",
      mostDisruptiveAllowedAction: "REPLACE",
      removeInstanceOnDestroy: true,
      dependsOn,
    });
  }
}

export interface ControlPlaneSlotInstanceProps {
  readonly project: string;
  readonly nodeName: string;
  readonly zone: string;
  readonly group: ResolvedGceMachineGroup;
  readonly subnetworkId: string;
  readonly networkId: string;
  readonly address: string;
  readonly serviceAccountEmail: string;
  readonly userData: string;
  readonly networkTags: string[];
  readonly labels: Record<string, string>;
  readonly dependsOn: ITerraformDependable[];
}

/** Control-plane slot without auto-healing: a plain instance and an unmanaged group as LB backend. */
export class ControlPlaneSlotInstance extends Construct {
  readonly instance: ComputeInstance;
  readonly unmanagedGroup: ComputeInstanceGroup;
  readonly instanceGroup: string;

  constructor(scope: Construct, id: string, props: ControlPlaneSlotInstanceProps) {
    super(scope, id);
    const g = props.group;
    this.instance = new ComputeInstance(this, "instance", {
      project: props.project,
      zone: props.zone,
      name: props.nodeName,
      description: `Control-plane slot ${props.nodeName}`,
      machineType: g.machineType,
      canIpForward: false,
      tags: props.networkTags,
      labels: props.labels,
      metadata: nodeMetadata(props.userData),
      bootDisk: { autoDelete: true, initializeParams: { image: g.image, size: g.bootDisk.sizeGb, type: g.bootDisk.type, labels: props.labels } },
      networkInterface: [{ subnetwork: props.subnetworkId, networkIp: props.address }],
      serviceAccount: { email: props.serviceAccountEmail, scopes: g.serviceAccount.scopes },
      shieldedInstanceConfig: { ...SHIELDED_VM },
      scheduling: nodeScheduling(undefined),
      allowStoppingForUpdate: true,
      // cloud-init runs once per VM: a changed user data only matters to a replacement
      // (terraform apply -replace=...), and a newer image in the family must not recreate etcd members.
      lifecycle: { ignoreChanges: ['metadata["user-data"]', "boot_disk[0].initialize_params[0].image"] },
      dependsOn: props.dependsOn,
    });
    this.unmanagedGroup = new ComputeInstanceGroup(this, "group", {
      project: props.project,
      zone: props.zone,
      name: fitName(props.nodeName),
      description: `Control-plane slot ${props.nodeName} (load balancer backend)`,
      network: props.networkId,
      instances: [this.instance.selfLink],
    });
    this.instanceGroup = this.unmanagedGroup.selfLink;
  }
}

export interface WorkerPoolGroupProps {
  readonly project: string;
  readonly region: string;
  readonly name: string;
  readonly baseInstanceName: string;
  readonly pool: ResolvedGcePool;
  /** Zone names (literal or a token list). */
  readonly zones: string[];
  readonly template: ComputeInstanceTemplate;
  readonly healthCheckId: string;
  readonly dependsOn: ITerraformDependable[];
}

export class WorkerPoolGroup extends Construct {
  readonly group: ComputeRegionInstanceGroupManager;
  /** Compute Engine's autoscaler, when the pool asked for it. */
  readonly autoscaler?: ComputeRegionAutoscaler;

  constructor(scope: Construct, id: string, props: WorkerPoolGroupProps) {
    super(scope, id);
    const { pool } = props;
    const sizedElsewhere = pool.clusterAutoscaler || pool.autoscaling !== undefined;
    this.group = new ComputeRegionInstanceGroupManager(this, "group", {
      project: props.project,
      region: props.region,
      name: fitName(props.name),
      description: `Worker pool ${pool.pool.name}`,
      baseInstanceName: fitName(props.baseInstanceName, BASE_INSTANCE_NAME_MAX),
      distributionPolicyZones: props.zones,
      version: [{ name: "pool", instanceTemplate: props.template.selfLink }],
      // An autoscaler owns the size; cluster-autoscaler changes it after creation.
      targetSize: pool.autoscaling ? undefined : pool.pool.desiredSize,
      autoHealingPolicies: { healthCheck: props.healthCheckId, initialDelaySec: GCE_DEFAULTS.workerInitialDelaySeconds },
      updatePolicy: {
        type: "PROACTIVE",
        minimalAction: "REPLACE",
        mostDisruptiveAllowedAction: "REPLACE",
        replacementMethod: "SUBSTITUTE",
        instanceRedistributionType: "PROACTIVE",
        maxSurgeFixed: pool.maxSurge,
        maxUnavailableFixed: 0,
      },
      instanceLifecyclePolicy: { defaultActionOnFailure: "REPAIR", forceUpdateOnRepair: "YES" },
      waitForInstances: false,
      lifecycle: sizedElsewhere ? { ignoreChanges: ["target_size"] } : undefined,
      dependsOn: props.dependsOn,
    });
    if (pool.autoscaling) {
      this.autoscaler = new ComputeRegionAutoscaler(this, "autoscaler", {
        project: props.project,
        region: props.region,
        name: fitName(props.name),
        target: this.group.id,
        autoscalingPolicy: {
          minReplicas: pool.pool.minSize,
          maxReplicas: pool.pool.maxSize,
          cooldownPeriod: pool.autoscaling.cooldownSeconds,
          mode: "ON",
          cpuUtilization: { target: pool.autoscaling.cpuTarget },
        },
      });
    }
  }
}

export interface NodeHealthCheckProps {
  readonly project: string;
  readonly name: string;
  readonly description: string;
  readonly checkIntervalSec: number;
  readonly unhealthyThreshold: number;
}

/**
 * Auto-healing health check: TCP on the kubelet port (10250), which every node serves on its own
 * address once it has joined, independent of the CNI and of the API server (kubelet's /healthz on
 * 10248 listens on localhost only; kube-proxy's 10256 is absent with some CNIs). A global health
 * check, probed from 35.191.0.0/16 and 130.211.0.0/22.
 */
export class NodeHealthCheck extends Construct {
  readonly healthCheck: ComputeHealthCheck;

  constructor(scope: Construct, id: string, props: NodeHealthCheckProps) {
    super(scope, id);
    this.healthCheck = new ComputeHealthCheck(this, "health-check", {
      project: props.project,
      name: fitName(props.name),
      description: props.description,
      checkIntervalSec: props.checkIntervalSec,
      timeoutSec: 10,
      healthyThreshold: 1,
      unhealthyThreshold: props.unhealthyThreshold,
      tcpHealthCheck: { port: KUBELET_PORT },
    });
  }
}
