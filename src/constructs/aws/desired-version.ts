/**
 * The desired-version channel of in-place control-plane upgrades: an SSM parameter holding the
 * cluster's Kubernetes version, updated in place by `cdktf deploy`, read by the control-plane
 * nodes' upgrade agent with their instance role (SigV4-signed curl, no SSH). Only the control
 * plane reads it: workers are replaced (instance refresh) with the new version in their user data.
 */
import { Fn } from "cdktf";
import { Construct } from "constructs";
import type { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region";
import type { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import type { UpgradeChannel } from "../../bootstrap/upgrade-channel";
import { resourceTags } from "./names";

export interface DesiredVersionProps {
  readonly clusterName: string;
  readonly kubernetesVersion: string;
  /** The control-plane instance role: the only reader. */
  readonly reader: IamRole;
  readonly region: DataAwsRegion;
  readonly tags: Record<string, string>;
}

/** SSM parameter name of a cluster's desired version. */
export function desiredVersionParameterName(cluster: string): string {
  return `/cdktf-kubeadm/${cluster}/kubernetes-version`;
}

export class DesiredVersion extends Construct {
  readonly parameter: SsmParameter;
  readonly readerPolicy: IamRolePolicy;
  /** What the control-plane user data refers to. */
  readonly channel: UpgradeChannel;

  constructor(scope: Construct, id: string, props: DesiredVersionProps) {
    super(scope, id);
    const name = desiredVersionParameterName(props.clusterName);
    this.parameter = new SsmParameter(this, "parameter", {
      name,
      description: `cdktf-kubeadm ${props.clusterName}: Kubernetes version the control plane upgrades itself to`,
      type: "String",
      value: props.kubernetesVersion,
      allowedPattern: "^v?\\d+\\.\\d+\\.\\d+$",
      tags: resourceTags(props.clusterName, `${props.clusterName}-kubernetes-version`, props.tags),
    });
    this.readerPolicy = new IamRolePolicy(this, "reader", {
      name: "cdktf-kubeadm-desired-version",
      role: props.reader.name,
      policy: Fn.jsonencode({
        Version: "2012-10-17",
        Statement: [{ Sid: "ReadDesiredVersion", Effect: "Allow", Action: "ssm:GetParameter", Resource: this.parameter.arn }],
      }),
    });
    this.channel = { kind: "aws-ssm", parameterName: name, region: props.region.name };
  }
}
