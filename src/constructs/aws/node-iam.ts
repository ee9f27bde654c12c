/**
 * Instance role + instance profile of a node group, with what the user's `iam` options add. The
 * permissions the bootstrap needs are attached by the constructs that own the resource, scoped to
 * it: the bootstrap secret, the desired-version parameter, the group's lifecycle hooks.
 */
import { Construct } from "constructs";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { IamInstanceProfile } from "@cdktf/provider-aws/lib/iam-instance-profile";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { fitName, NAME_LIMITS, resourceTags } from "./names";
import type { ResolvedNodeIam } from "./resolve-aws";

export const EC2_ASSUME_ROLE_POLICY = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
});

export interface NodeIamProps {
  readonly clusterName: string;
  /** "control-plane" or "pool-<name>". */
  readonly groupName: string;
  readonly iam: ResolvedNodeIam;
  readonly tags: Record<string, string>;
  /** Shared partition data source (for the SSM managed policy ARN); needed when iam.ssmSessionManager. */
  readonly partition?: () => DataAwsPartition;
}

export class NodeIam extends Construct {
  readonly role: IamRole;
  readonly instanceProfile: IamInstanceProfile;
  readonly inlinePolicy?: IamRolePolicy;
  readonly attachments: IamRolePolicyAttachment[] = [];

  constructor(scope: Construct, id: string, props: NodeIamProps) {
    super(scope, id);
    const name = fitName(`${props.clusterName}-${props.groupName}`, NAME_LIMITS.iamRole);
    const tags = resourceTags(props.clusterName, name, props.tags);
    this.role = new IamRole(this, "role", {
      name,
      path: props.iam.path,
      description: `Nodes of ${props.clusterName} (${props.groupName})`,
      assumeRolePolicy: EC2_ASSUME_ROLE_POLICY,
      permissionsBoundary: props.iam.permissionsBoundary,
      forceDetachPolicies: true,
      tags,
    });
    this.instanceProfile = new IamInstanceProfile(this, "profile", { name, path: props.iam.path, role: this.role.name, tags });

    const arns = [...props.iam.managedPolicyArns];
    if (props.iam.ssmSessionManager) {
      if (!props.partition) throw new Error("cdktf-kubeadm: NodeIam needs a partition data source for ssmSessionManager");
      arns.unshift(`arn:${props.partition().partition}:iam::aws:policy/AmazonSSMManagedInstanceCore`);
    }
    arns.forEach((policyArn, i) => {
      this.attachments.push(new IamRolePolicyAttachment(this, `policy-${i}`, { role: this.role.name, policyArn }));
    });
    if (props.iam.statements.length > 0) {
      this.inlinePolicy = new IamRolePolicy(this, "inline", {
        name: `${name}-inline`,
        role: this.role.name,
        policy: JSON.stringify({ Version: "2012-10-17", Statement: props.iam.statements }),
      });
    }
  }
}
