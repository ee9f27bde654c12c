/**
 * In-place upgrades on bare metal (channel "file"): the desired Kubernetes version travels in the
 * control-plane hosts' payload as /etc/cdktf-kubeadm/desired-version (under the SSH remote root
 * when one is set), so a version bump changes their payloads and the SSH provisioner re-runs on
 * them: the installer writes the new version, the bootstrap finds its `done` marker and does
 * nothing, and `systemctl start --no-block cdktf-kubeadm-upgrade.service` runs the upgrade agent
 * at once instead of at its next timer run (every 5 minutes). The agent upgrades one control-plane
 * node at a time (Lease kube-system/cdktf-kubeadm-upgrade) and reports to ConfigMap
 * kube-system/cdktf-kubeadm-upgrade-status.
 *
 * Workers carry no agent (bootstrap.sh leaves it out of workers' copies): their provisioners'
 * triggers leave the Kubernetes version out (host-payload.ts), so a version bump does not touch
 * them; upgrade a worker by re-provisioning it after the control plane (docs/baremetal.md).
 */
import { NodeFile, nodeFile } from "../../bootstrap/cloud-init";
import type { NodeRole } from "../../bootstrap/spec";
import { DESIRED_VERSION_FILE, UpgradeChannel } from "../../bootstrap/upgrade-channel";

/** What KubeadmCluster gets on bare metal. */
export const BAREMETAL_UPGRADE_CHANNEL: UpgradeChannel = { kind: "file" };

/** The agent's oneshot unit (installed by the bootstrap's timers step on control-plane nodes). */
export const UPGRADE_SERVICE = "cdktf-kubeadm-upgrade.service";

/** The desired-version file of a control-plane role (none for workers). */
export function desiredVersionFiles(role: NodeRole, kubernetesVersion: string): NodeFile[] {
  return role.kind === "control-plane" ? [nodeFile(DESIRED_VERSION_FILE, "0644", `${kubernetesVersion}\n`)] : [];
}

/**
 * The remote command that starts the agent now, without waiting for it (`--no-block`); it fails
 * the provisioner with an explanation when the unit is missing (a host bootstrapped without it).
 */
export function startUpgradeCommand(prefix: string, hostName: string): string {
  const start = [prefix, `systemctl start --no-block ${UPGRADE_SERVICE}`].filter((s) => s !== "").join(" ");
  return `${start} || { echo "cdktf-kubeadm: cannot start ${UPGRADE_SERVICE} on ${hostName} (the bootstrap installs it)" >&2; exit 1; }`;
}
