/**
 * User data for GCE: the plain `#cloud-config` text under the `user-data` metadata key. Metadata
 * values are text (cloud-init's GCE datasource decodes no gzip from them), so the limit that
 * matters is the uncompressed size: 262,144 bytes per metadata value. Checked here per role;
 * KubeadmCluster's own check only measures the gzipped size.
 */
import type { NodeRole } from "../../bootstrap/spec";
import { roleName } from "../../bootstrap/spec";
import { USER_DATA_LIMITS, WARN_RATIO } from "../../bootstrap/user-data-budget";
import type { KubeadmCluster } from "../kubeadm-cluster";
import { toTerraformString, withTokensAs } from "../terraform-string";

/** Stand-in for a token when measuring: longer than any address or self link in the text. */
const TOKEN_MEASURE_WIDTH = 255;

export class GceUserDataTooLargeError extends Error {
  constructor(role: string, bytes: number, limit: number) {
    super(
      `cdktf-kubeadm: user data of node role "${role}" is ${bytes} bytes, over GCE's limit of ${limit} bytes for one metadata value (the user-data key is not compressed). ` +
        "Fix: shorten labels/extra args/kubelet configuration passthrough or extra files, or use ECDSA-P256 keys (pki.keyAlgorithm).",
    );
    this.name = "GceUserDataTooLargeError";
  }
}

export interface GceUserData {
  /**
   * The metadata value as a Terraform string expression: literal parts as base64decode("...") (the
   * bootstrap script is full of `${...}` that Terraform would otherwise interpolate), references as is.
   */
  readonly value: string;
  /** Uncompressed bytes (references counted as TOKEN_MEASURE_WIDTH characters). */
  readonly bytes: number;
  /** Set above WARN_RATIO of the limit. */
  readonly warning?: string;
}

/** The role's user data for the `user-data` metadata key; throws above the limit. */
export function gceUserData(kubeadm: KubeadmCluster, role: NodeRole, limit: number = USER_DATA_LIMITS.gce): GceUserData {
  const text = kubeadm.cloudConfig(role);
  const bytes = Buffer.byteLength(withTokensAs(text, TOKEN_MEASURE_WIDTH), "utf8");
  const name = roleName(role);
  if (bytes > limit) throw new GceUserDataTooLargeError(name, bytes, limit);
  const ratio = bytes / limit;
  return {
    value: toTerraformString(text),
    bytes,
    warning: ratio > WARN_RATIO ? `cdktf-kubeadm: user data of node role "${name}" is ${bytes} bytes, ${Math.round(ratio * 100)}% of GCE's ${limit}-byte metadata value limit` : undefined,
  };
}
