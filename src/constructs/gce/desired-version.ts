/**
 * The desired-version channel of in-place control-plane upgrades on GCE: a project metadata key
 * (`cdktf-kubeadm-<cluster>-kubernetes-version`) holding the cluster's Kubernetes version, updated
 * in place by `cdktf deploy`. The control-plane nodes' upgrade agent reads it from the metadata
 * server (`computeMetadata/v1/project/attributes/<key>`): no SSH, no IAM binding, no API call.
 *
 * Project metadata is readable by every VM in the project (and by anyone who may read the
 * project's metadata): the value is a version number and not secret. Whoever may write project
 * metadata (`compute.projects.setCommonInstanceMetadata`, e.g. Editor) can also set this key, which
 * makes the control plane upgrade itself (the agent accepts only a patch or the next minor, from
 * the pinned package repository); treat that permission like the cluster's own deploy rights.
 *
 * The key is a literal in the control-plane user data (derived from the cluster name, like the
 * secret ids), so a version bump changes the item's value in place and nothing refers to it.
 */
import { Construct } from "constructs";
import { ComputeProjectMetadataItem } from "@cdktf/provider-google/lib/compute-project-metadata-item";
import type { UpgradeChannel } from "../../bootstrap/upgrade-channel";
import { fitName, GCE_NAME_LIMITS } from "./names";

const PREFIX = "cdktf-kubeadm-";
const SUFFIX = "-kubernetes-version";

/** Metadata keys: 1-128 of [a-zA-Z0-9_-]. */
const METADATA_KEY = /^[a-zA-Z0-9_-]{1,128}$/;

/**
 * `cdktf-kubeadm-<cluster>-kubernetes-version`; a cluster name too long for the 128-character
 * limit is shortened with a digest of the full name (deterministic, still unique per cluster).
 */
export function desiredVersionMetadataKey(clusterName: string): string {
  const key = `${PREFIX}${fitName(clusterName, GCE_NAME_LIMITS.metadataKey - PREFIX.length - SUFFIX.length)}${SUFFIX}`;
  if (!METADATA_KEY.test(key)) throw new Error(`cdktf-kubeadm: ${JSON.stringify(key)} is not a GCE metadata key`);
  return key;
}

export interface GceDesiredVersionProps {
  readonly clusterName: string;
  /** May be a token. */
  readonly project: string;
  readonly kubernetesVersion: string;
}

export class GceDesiredVersion extends Construct {
  /** The project metadata item (value: the cluster's `kubernetesVersion`). */
  readonly item: ComputeProjectMetadataItem;
  readonly key: string;
  /** What the control-plane user data refers to (workers carry no channel: their groups roll). */
  readonly channel: UpgradeChannel;

  constructor(scope: Construct, id: string, props: GceDesiredVersionProps) {
    super(scope, id);
    this.key = desiredVersionMetadataKey(props.clusterName);
    this.item = new ComputeProjectMetadataItem(this, "item", {
      project: props.project,
      key: this.key,
      value: props.kubernetesVersion,
    });
    this.channel = { kind: "gce-metadata", key: this.key };
  }
}
