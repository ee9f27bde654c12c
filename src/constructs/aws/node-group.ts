/**
 * Auto Scaling groups of the nodes.
 *
 * Control plane: one group of exactly one instance per slot, pinned to the slot's private subnet,
 * registered in the API target group, EC2 health checks (an ELB health check would replace a node
 * whose API server is merely slow to start, and with it an etcd member). No instance refresh: the
 * control plane is upgraded in place by kubeadm; a replaced instance rejoins as the same slot.
 *
 * Workers: one group per pool across the private subnets, optional mixed instances / spot,
 * cluster-autoscaler discovery tags, rolling instance refresh when the launch template changes.
 */
import { Fn, ITerraformDependable, Token } from "cdktf";
import { Construct } from "constructs";
import { AutoscalingGroup, AutoscalingGroupConfig, AutoscalingGroupTag } from "@cdktf/provider-aws/lib/autoscaling-group";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import type { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
import type { ResolvedNodePool } from "../../bootstrap/spec";
import { AWS_DEFAULTS } from "./props";
import type { ResolvedAwsPool } from "./resolve-aws";

/** ASG tags (instances get theirs from the launch template, so none propagate). */
export function asgTags(tags: Record<string, string>): AutoscalingGroupTag[] {
  return Object.keys(tags)
    .sort()
    .map((key) => ({ key, value: tags[key], propagateAtLaunch: false }));
}

function templateVersion(template: LaunchTemplate): string {
  return Token.asString(template.latestVersion);
}

export interface ControlPlaneGroupProps {
  readonly name: string;
  readonly subnetId: string;
  readonly launchTemplate: LaunchTemplate;
  readonly targetGroupArn: string;
  readonly tags: Record<string, string>;
  readonly dependsOn?: ITerraformDependable[];
}

export class ControlPlaneGroup extends Construct {
  readonly group: AutoscalingGroup;

  constructor(scope: Construct, id: string, props: ControlPlaneGroupProps) {
    super(scope, id);
    this.group = new AutoscalingGroup(this, "asg", {
      name: props.name,
      minSize: 1,
      maxSize: 1,
      desiredCapacity: 1,
      vpcZoneIdentifier: [props.subnetId],
      launchTemplate: { id: props.launchTemplate.id, version: templateVersion(props.launchTemplate) },
      targetGroupArns: [props.targetGroupArn],
      healthCheckType: "EC2",
      healthCheckGracePeriod: AWS_DEFAULTS.controlPlaneHealthCheckGraceSeconds,
      tag: asgTags(props.tags),
      dependsOn: props.dependsOn,
    });
  }
}

/** cluster-autoscaler auto-discovery and scale-from-zero hints (node-template labels and taints). */
export function clusterAutoscalerTags(cluster: string, pool: ResolvedNodePool): { tags: Record<string, string>; skipped: string[] } {
  const tags: Record<string, string> = {
    "k8s.io/cluster-autoscaler/enabled": "true",
    [`k8s.io/cluster-autoscaler/${cluster}`]: "owned",
  };
  const skipped: string[] = [];
  const add = (key: string, value: string) => {
    if (key.length <= 128 && value.length <= 256) tags[key] = value;
    else skipped.push(key);
  };
  for (const key of Object.keys(pool.labels).sort()) add(`k8s.io/cluster-autoscaler/node-template/label/${key}`, pool.labels[key]);
  for (const taint of pool.taints) add(`k8s.io/cluster-autoscaler/node-template/taint/${taint.key}`, `${taint.value ?? ""}:${taint.effect}`);
  return { tags, skipped };
}

export interface WorkerPoolGroupProps {
  readonly name: string;
  readonly clusterName: string;
  readonly pool: ResolvedAwsPool;
  readonly subnetIds: string[];
  readonly launchTemplate: LaunchTemplate;
  readonly tags: Record<string, string>;
  readonly dependsOn?: ITerraformDependable[];
  /**
   * The pool's instance role (its name): with it, a launch lifecycle hook holds each new worker
   * until the worker reports it has joined, a termination lifecycle hook holds a terminating worker
   * while it drains, and the role may complete and heartbeat them for this group only.
   * @default no hooks (workers count as in service once they run and are terminated undrained)
   */
  readonly joinedHookRole?: string;
}

export class WorkerPoolGroup extends Construct {
  readonly group: AutoscalingGroup;
  /** The role's permission to complete (and heartbeat) this group's launch lifecycle action. */
  readonly joinedHookPolicy?: IamRolePolicy;
  /** node-template tags left out because they exceed AWS tag limits. */
  readonly skippedAutoscalerTags: string[] = [];

  constructor(scope: Construct, id: string, props: WorkerPoolGroupProps) {
    super(scope, id);
    const { pool } = props;
    let tags = props.tags;
    if (pool.clusterAutoscaler) {
      const ca = clusterAutoscalerTags(props.clusterName, pool.pool);
      tags = { ...tags, ...ca.tags };
      this.skippedAutoscalerTags = ca.skipped;
    }
    const template = { id: props.launchTemplate.id, version: templateVersion(props.launchTemplate) };
    const placement: Pick<AutoscalingGroupConfig, "launchTemplate" | "mixedInstancesPolicy"> = pool.mixed
      ? {
          mixedInstancesPolicy: {
            instancesDistribution: pool.spot
              ? {
                  onDemandAllocationStrategy: "prioritized",
                  onDemandBaseCapacity: pool.spot.onDemandBaseCapacity,
                  onDemandPercentageAboveBaseCapacity: pool.spot.onDemandPercentageAboveBaseCapacity,
                  spotAllocationStrategy: pool.spot.allocationStrategy,
                  spotMaxPrice: pool.spot.maxPrice,
                }
              : { onDemandAllocationStrategy: "prioritized", onDemandBaseCapacity: 0, onDemandPercentageAboveBaseCapacity: 100 },
            launchTemplate: {
              launchTemplateSpecification: { launchTemplateId: template.id, version: template.version },
              override: pool.instanceTypes.map((instanceType) => ({ instanceType })),
            },
          },
        }
      : { launchTemplate: template };
    this.group = new AutoscalingGroup(this, "asg", {
      name: props.name,
      minSize: pool.pool.minSize,
      maxSize: pool.pool.maxSize,
      desiredCapacity: pool.pool.desiredSize,
      vpcZoneIdentifier: props.subnetIds,
      ...placement,
      healthCheckType: "EC2",
      healthCheckGracePeriod: AWS_DEFAULTS.workerHealthCheckGraceSeconds,
      // Spot: launch a replacement when AWS signals a rebalance recommendation.
      capacityRebalance: pool.spot ? true : undefined,
      instanceRefresh: pool.instanceRefresh
        ? {
            strategy: "Rolling",
            preferences: {
              minHealthyPercentage: AWS_DEFAULTS.instanceRefreshMinHealthyPercentage,
              maxHealthyPercentage: AWS_DEFAULTS.instanceRefreshMaxHealthyPercentage,
              skipMatching: true,
            },
          }
        : undefined,
      // A new worker stays in Pending:Wait until it has joined, so an instance refresh replaces
      // old workers only as fast as new ones join: they wait for the upgraded control plane. One
      // that cannot join abandons (or times out): the group terminates and replaces it.
      // Before a worker is terminated (instance refresh, scale-in), it drains in Terminating:Wait
      // and completes the drain hook (CONTINUE, also when the hook times out).
      initialLifecycleHook: props.joinedHookRole
        ? [
            { name: AWS_DEFAULTS.workerJoinedHookName, lifecycleTransition: "autoscaling:EC2_INSTANCE_LAUNCHING", defaultResult: "ABANDON", heartbeatTimeout: AWS_DEFAULTS.workerJoinedHookHeartbeatSeconds },
            {
              name: AWS_DEFAULTS.workerDrainHookName,
              lifecycleTransition: "autoscaling:EC2_INSTANCE_TERMINATING",
              defaultResult: "CONTINUE",
              heartbeatTimeout: pool.drainTimeoutSeconds + AWS_DEFAULTS.workerDrainHookMarginSeconds,
            },
          ]
        : undefined,
      tag: asgTags(tags),
      // cluster-autoscaler owns the size after creation (Terraform attribute names, snake_case).
      lifecycle: pool.clusterAutoscaler ? { ignoreChanges: ["desired_capacity"] } : undefined,
      dependsOn: props.dependsOn,
    });
    if (props.joinedHookRole) {
      this.joinedHookPolicy = new IamRolePolicy(this, "joined-hook", {
        name: "cdktf-kubeadm-joined-hook",
        role: props.joinedHookRole,
        policy: Fn.jsonencode({
          Version: "2012-10-17",
          Statement: [{ Sid: "WorkerLifecycleHooks", Effect: "Allow", Action: ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"], Resource: this.group.arn }],
        }),
      });
    }
  }
}
