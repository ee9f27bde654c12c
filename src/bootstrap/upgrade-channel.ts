/**
 * How control-plane nodes learn the desired Kubernetes version after the first boot, without SSH:
 * Terraform updates the channel in place and the upgrade agent (`cdktf-kubeadm-bootstrap upgrade`,
 * a systemd timer every 5 minutes, src/bootstrap/bootstrap.sh) reads it and upgrades the node with
 * kubeadm, one control-plane node at a time (Lease kube-system/cdktf-kubeadm-upgrade).
 *
 * The channel holds the exact version, e.g. `1.37.1` (a leading `v` is accepted): the cluster's
 * `kubernetesVersion`.
 */
import { NODE_LAYOUT } from "./node-layout";

export type UpgradeChannel =
  /**
   * An SSM parameter (String) read with the instance role: the role needs `ssm:GetParameter` on
   * it (and `kms:Decrypt` for a SecureString with a customer key). Values may be tokens.
   */
  | { readonly kind: "aws-ssm"; readonly parameterName: string; readonly region: string }
  /** A project metadata key (`computeMetadata/v1/project/attributes/<key>`). May be a token. */
  | { readonly kind: "gce-metadata"; readonly key: string }
  /** Bare metal: the SSH provisioner writes NODE_LAYOUT.desiredVersion and may start the agent. */
  | { readonly kind: "file" };

/**
 * The pack-script features of a control-plane copy with this channel: the agent (`# @only upgrade`)
 * and the channel's reader (`# @only upgrade-<kind>`; "file" needs none).
 */
export function upgradeFeatures(kind: UpgradeChannel["kind"] | undefined): string[] {
  return kind ? ["upgrade", ...(kind === "file" ? [] : [`upgrade-${kind}`])] : [];
}

const TOKEN = /\$\{TfToken\[[^\]]+\]\}/g;
/** SSM parameter names (a path or a plain name), GCE metadata keys, AWS region names. */
const PATTERNS = {
  UPGRADE_PARAMETER: /^[a-zA-Z0-9_.\-/]{1,2048}$/,
  UPGRADE_REGION: /^[a-z]{2}(-[a-z0-9]+)+-\d$/,
  UPGRADE_METADATA_KEY: /^[a-zA-Z0-9_-]{1,128}$/,
};

function checked(setting: keyof typeof PATTERNS, value: string): string {
  // a token resolves at apply time (a whole-token value is Terraform's to check); literal parts
  // around a token must still be safe in a JSON body
  if (value !== "" && value.replace(TOKEN, "") === "") return value;
  const literal = value.replace(TOKEN, "x");
  if (!PATTERNS[setting].test(literal)) {
    throw new Error(`cdktf-kubeadm: upgradeChannel: ${setting} ${JSON.stringify(value)} is not a valid ${setting === "UPGRADE_REGION" ? "AWS region" : setting === "UPGRADE_PARAMETER" ? "SSM parameter name" : "metadata key"}`);
  }
  return value;
}

/** bootstrap.env lines of the channel (control-plane nodes only). */
export function upgradeSettings(channel: UpgradeChannel | undefined): Record<string, string | undefined> {
  if (!channel) return {};
  switch (channel.kind) {
    case "aws-ssm":
      return { UPGRADE_CHANNEL: channel.kind, UPGRADE_PARAMETER: checked("UPGRADE_PARAMETER", channel.parameterName), UPGRADE_REGION: checked("UPGRADE_REGION", channel.region) };
    case "gce-metadata":
      return { UPGRADE_CHANNEL: channel.kind, UPGRADE_METADATA_KEY: checked("UPGRADE_METADATA_KEY", channel.key) };
    case "file":
      return { UPGRADE_CHANNEL: channel.kind };
  }
}

/** Where the "file" channel lives on a node. */
export const DESIRED_VERSION_FILE = NODE_LAYOUT.desiredVersion;
