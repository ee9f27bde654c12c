/**
 * SSH delivery with Terraform built-ins only: per host a `terraform_data` resource whose
 * provisioners upload the host's payload installer and run it and the bootstrap entry. No
 * provider is needed, so `terraform init` works offline.
 */
import { DataResource, ITerraformDependable, SSHProvisionerConnection } from "cdktf";
import { Construct } from "constructs";
import { roleName } from "../../bootstrap/spec";
import { toTerraformString } from "../terraform-string";
import type { HostPayload } from "./host-payload";
import type { ResolvedSsh } from "./hosts";
import { NODE_LAYOUT } from "../../bootstrap/node-layout";
import { startUpgradeCommand } from "./upgrade";

/**
 * Upload directory, relative to the SSH user's home, made 0700 before the upload: Terraform's scp
 * creates files with mode 0644, so the payload (it holds keys) must not land in a shared directory.
 */
export const UPLOAD_DIRECTORY = ".cdktf-kubeadm";

export interface HostProvisionerInput {
  readonly clusterName: string;
  readonly payload: HostPayload;
  readonly installer: string;
  readonly ssh: ResolvedSsh;
  readonly dependsOn: ITerraformDependable[];
}

/**
 * The commands remote-exec runs after the upload (also used by tests and docs). Control-plane
 * hosts then start the upgrade agent: after a version bump their payload carries the new desired
 * version, and the agent (a no-op when the node already runs it) upgrades the node in turn.
 */
export function remoteCommands(payload: HostPayload, ssh: ResolvedSsh): { upload: string; commands: string[] } {
  const upload = `${UPLOAD_DIRECTORY}/payload-${payload.host.name}.sh`;
  const prefix = ssh.commandPrefix(payload.host.ssh.user);
  const root = ssh.remoteRoot;
  const run = (command: string) => [prefix, root ? `env BOOTSTRAP_ROOT="${root}"` : "", command].filter((s) => s !== "").join(" ");
  return {
    upload,
    commands: [
      "set -e",
      // Writes the files (never prints them) and deletes itself.
      run(`bash ${upload}`),
      // The bootstrap redacts the join token from everything it prints.
      run(`"${root}${payload.entry}"`),
      ...(payload.host.role.kind === "control-plane"
        ? [
            // The join token of the payload registered in the cluster (after bootstrapTokenRotation), the one it replaced deleted.
            run(`"${root}${NODE_LAYOUT.script}" token`),
            // systemd starts the unit with its own environment: no BOOTSTRAP_ROOT.
            startUpgradeCommand(prefix, payload.host.name),
          ]
        : []),
    ],
  };
}

export function createHostProvisioner(scope: Construct, input: HostProvisionerInput): DataResource {
  const { payload, ssh } = input;
  const host = payload.host;
  const connection: SSHProvisionerConnection = {
    type: "ssh",
    host: host.address,
    port: host.ssh.port,
    user: host.ssh.user,
    timeout: ssh.timeout,
    targetPlatform: "unix",
    ...(ssh.privateKey !== undefined ? { privateKey: ssh.privateKey, agent: "false" } : {}),
    ...(host.ssh.hostKey !== undefined ? { hostKey: host.ssh.hostKey } : {}),
  };
  const { upload, commands } = remoteCommands(payload, ssh);
  const resource = new DataResource(scope, `bootstrap-${host.name}`, {
    // Only the hash: plan output and state show it, never the payload. Workers' leaves out the
    // Kubernetes version (a version bump re-runs the control-plane hosts only).
    triggersReplace: { payload_sha256: payload.triggerSha256 },
    input: { host: host.name, role: roleName(host.role), node_name: payload.nodeName },
    ...(input.dependsOn.length > 0 ? { dependsOn: input.dependsOn } : {}),
    connection,
    provisioners: [
      { type: "remote-exec", inline: [`umask 077 && mkdir -p ${UPLOAD_DIRECTORY} && chmod 700 ${UPLOAD_DIRECTORY}`] },
      // The literal script travels as base64decode("..."): no Terraform template escaping issues.
      { type: "file", content: toTerraformString(input.installer), destination: upload },
      { type: "remote-exec", inline: commands },
    ],
  });
  resource.overrideLogicalId(`${input.clusterName}_bootstrap_${host.name}`);
  return resource;
}
