/**
 * The Kubernetes API endpoint: a network load balancer with one TCP listener on the API port,
 * forwarding to the control-plane instances (the control-plane ASGs register them). Its DNS name
 * is the cluster's controlPlaneEndpoint and is in the API server certificate.
 */
import { Construct } from "constructs";
import { Lb } from "@cdktf/provider-aws/lib/lb";
import { LbListener } from "@cdktf/provider-aws/lib/lb-listener";
import { LbTargetGroup } from "@cdktf/provider-aws/lib/lb-target-group";
import { AWS_DEFAULTS } from "./props";
import { fitName, NAME_LIMITS, resourceTags } from "./names";

export interface ApiLoadBalancerProps {
  readonly clusterName: string;
  readonly vpcId: string;
  readonly internetFacing: boolean;
  /** Public subnets when internet-facing, private ones otherwise. */
  readonly subnetIds: string[];
  readonly securityGroupId: string;
  readonly apiServerPort: number;
  readonly deletionProtection: boolean;
  readonly tags: Record<string, string>;
}

export class ApiLoadBalancer extends Construct {
  readonly loadBalancer: Lb;
  readonly targetGroup: LbTargetGroup;
  readonly listener: LbListener;
  /** The load balancer's DNS name (a token): the API endpoint host. */
  readonly dnsName: string;

  constructor(scope: Construct, id: string, props: ApiLoadBalancerProps) {
    super(scope, id);
    const name = props.clusterName;
    const lbName = fitName(`${name}-api`, NAME_LIMITS.loadBalancer);
    this.loadBalancer = new Lb(this, "nlb", {
      name: lbName,
      loadBalancerType: "network",
      internal: !props.internetFacing,
      subnets: props.subnetIds,
      securityGroups: [props.securityGroupId],
      // A single control-plane node must be reachable from every zone.
      enableCrossZoneLoadBalancing: true,
      enableDeletionProtection: props.deletionProtection,
      tags: resourceTags(name, lbName, props.tags),
    });
    const tgName = fitName(`${name}-api`, NAME_LIMITS.targetGroup);
    this.targetGroup = new LbTargetGroup(this, "control-plane", {
      name: tgName,
      vpcId: props.vpcId,
      port: props.apiServerPort,
      protocol: "TCP",
      targetType: "instance",
      // Client-IP preservation breaks a control-plane node reaching itself through the NLB (hairpin).
      preserveClientIp: "false",
      deregistrationDelay: String(AWS_DEFAULTS.deregistrationDelaySeconds),
      connectionTermination: true,
      healthCheck: {
        enabled: true,
        // /livez is readable anonymously (system:public-info-viewer) and stays up while etcd elects.
        protocol: "HTTPS",
        path: "/livez",
        port: "traffic-port",
        matcher: "200-399",
        interval: 10,
        timeout: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 2,
      },
      tags: resourceTags(name, tgName, props.tags),
    });
    this.listener = new LbListener(this, "api", {
      loadBalancerArn: this.loadBalancer.arn,
      port: props.apiServerPort,
      protocol: "TCP",
      defaultAction: [{ type: "forward", targetGroupArn: this.targetGroup.arn }],
      tags: resourceTags(name, `${name}-api`, props.tags),
    });
    this.dnsName = this.loadBalancer.dnsName;
  }
}
