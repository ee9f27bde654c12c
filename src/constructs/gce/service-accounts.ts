/**
 * A dedicated service account per node group (control plane, each pool), never the project's
 * default compute account (Editor on the project). Nodes call no Google API of their own (no cloud
 * controller manager), so the account only writes logs and metrics: roles/logging.logWriter and
 * roles/monitoring.metricWriter, plus roles the user adds. Reading its group's bootstrap secret is
 * granted on that secret alone (secrets.ts), not on the project.
 */
import { Construct } from "constructs";
import { ProjectIamMember } from "@cdktf/provider-google/lib/project-iam-member";
import { ServiceAccount } from "@cdktf/provider-google/lib/service-account";
import { fitName, GCE_NAME_LIMITS } from "./names";
import { GCE_DEFAULTS } from "./props";
import type { ResolvedGceMachineGroup } from "./resolve-gce";

export interface NodeServiceAccountProps {
  readonly clusterName: string;
  readonly project: string;
  /** "control-plane" or "pool-<name>". */
  readonly groupName: string;
  readonly serviceAccount: ResolvedGceMachineGroup["serviceAccount"];
}

export class NodeServiceAccount extends Construct {
  /** Undefined when an existing account's email was given. */
  readonly account?: ServiceAccount;
  readonly email: string;
  /** IAM member: `serviceAccount:<email>`. */
  readonly member: string;
  /** Project role bindings by role. */
  readonly roleBindings: Record<string, ProjectIamMember> = {};

  constructor(scope: Construct, id: string, props: NodeServiceAccountProps) {
    super(scope, id);
    if (props.serviceAccount.email !== undefined) {
      this.email = props.serviceAccount.email;
      this.member = `serviceAccount:${this.email}`;
      return;
    }
    const name = props.clusterName;
    this.account = new ServiceAccount(this, "account", {
      project: props.project,
      accountId: fitName(`${name}-${props.groupName}`, GCE_NAME_LIMITS.serviceAccountId),
      displayName: `${name} ${props.groupName} nodes`,
      description: `Kubernetes ${props.groupName} nodes of cluster ${name} (cdktf-kubeadm): logs and metrics only`,
    });
    this.email = this.account.email;
    this.member = this.account.member;
    const roles = [...new Set([...GCE_DEFAULTS.nodeRoles, ...props.serviceAccount.roles])];
    for (const role of roles) {
      const key = role.replace(/^.*roles\//, "").replace(/[^A-Za-z0-9]+/g, "-").toLowerCase();
      this.roleBindings[role] = new ProjectIamMember(this, `role-${key}`, {
        project: props.project,
        role,
        member: this.account.member,
      });
    }
  }
}
