/**
 * Instance template of a node group: image, machine type, the role's `#cloud-config` under the
 * `user-data` metadata key (cloud-init's GCE datasource reads it as text), Shielded VM (Secure
 * Boot, vTPM, integrity monitoring), the group's dedicated service account, no external address
 * (Cloud NAT gives egress), project-wide SSH keys blocked and OS Login on, boot disk auto-deleted.
 * Templates are immutable: a change makes a new one (name prefix, created before the old one is
 * destroyed) and the group rolls to it.
 */
import { Construct } from "constructs";
import { ComputeInstanceTemplate } from "@cdktf/provider-google/lib/compute-instance-template";
import { fitName, GCE_NAME_LIMITS } from "./names";
import type { ResolvedGceMachineGroup, ResolvedGcePool } from "./resolve-gce";

/** Metadata every node gets, besides its user data. */
export const NODE_METADATA = {
  "block-project-ssh-keys": "TRUE",
  "enable-oslogin": "TRUE",
} as const;

export const SHIELDED_VM = { enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true } as const;

/** The metadata map of a node: user data plus NODE_METADATA (and a worker's shutdown script). */
export function nodeMetadata(userData: string, shutdownScript?: string): Record<string, string> {
  return { "user-data": userData, ...NODE_METADATA, ...(shutdownScript ? { "shutdown-script": shutdownScript } : {}) };
}

/**
 * A worker's shutdown script (the guest agent runs it as root when the VM is stopped or deleted):
 * the bootstrap's drain. On a VM whose bootstrap has not finished it does nothing.
 */
export const WORKER_SHUTDOWN_SCRIPT = "#!/bin/bash\nexec /usr/local/sbin/cdktf-kubeadm-bootstrap drain\n";

/** The scheduling fields shared by instance templates and instances. */
export interface NodeScheduling {
  readonly provisioningModel: "SPOT" | "STANDARD";
  readonly preemptible: boolean;
  readonly automaticRestart: boolean;
  readonly onHostMaintenance: "MIGRATE" | "TERMINATE";
  readonly instanceTerminationAction?: "DELETE" | "STOP";
}

/** Spot (reclaimable, deleted on reclaim) or standard (live-migrated, restarted after a crash). */
export function nodeScheduling(spot: ResolvedGcePool["spot"]): NodeScheduling {
  if (spot) {
    return { provisioningModel: "SPOT", preemptible: true, automaticRestart: false, onHostMaintenance: "TERMINATE", instanceTerminationAction: spot.terminationAction };
  }
  return { provisioningModel: "STANDARD", preemptible: false, automaticRestart: true, onHostMaintenance: "MIGRATE" };
}

export interface NodeInstanceTemplateProps {
  readonly project: string;
  readonly region: string;
  /** Name prefix, e.g. "prod-cp-0" (a random suffix is appended per version). */
  readonly namePrefix: string;
  readonly description: string;
  readonly group: ResolvedGceMachineGroup;
  readonly subnetworkId: string;
  readonly serviceAccountEmail: string;
  /** The `#cloud-config` text or a Terraform string expression of it. */
  readonly userData: string;
  readonly networkTags: string[];
  readonly labels: Record<string, string>;
  readonly spot?: ResolvedGcePool["spot"];
  /** The `shutdown-script` metadata value. @default none */
  readonly shutdownScript?: string;
}

export class NodeInstanceTemplate extends Construct {
  readonly template: ComputeInstanceTemplate;

  constructor(scope: Construct, id: string, props: NodeInstanceTemplateProps) {
    super(scope, id);
    const g = props.group;
    this.template = new ComputeInstanceTemplate(this, "template", {
      project: props.project,
      region: props.region,
      namePrefix: `${fitName(props.namePrefix, GCE_NAME_LIMITS.templatePrefix - 1)}-`,
      description: props.description,
      machineType: g.machineType,
      canIpForward: false,
      tags: props.networkTags,
      labels: props.labels,
      metadata: nodeMetadata(props.userData, props.shutdownScript),
      disk: [
        {
          boot: true,
          autoDelete: true,
          sourceImage: g.image,
          diskSizeGb: g.bootDisk.sizeGb,
          diskType: g.bootDisk.type,
          labels: props.labels,
        },
      ],
      networkInterface: [{ subnetwork: props.subnetworkId }],
      serviceAccount: { email: props.serviceAccountEmail, scopes: g.serviceAccount.scopes },
      shieldedInstanceConfig: { ...SHIELDED_VM },
      scheduling: nodeScheduling(props.spot),
      lifecycle: { createBeforeDestroy: true },
    });
  }
}
