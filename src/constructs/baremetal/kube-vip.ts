/**
 * kube-vip as a static pod on the control-plane hosts (ARP mode, Kubernetes lease leader election),
 * and the entry script that runs the bootstrap around it.
 *
 * kubeadm >= 1.29 binds admin.conf's group (kubeadm:cluster-admins) to cluster-admin only at the
 * end of `kubeadm init`, through super-admin.conf (system:masters), which exists only on the node
 * that ran init. kube-vip must hold its lease (and so announce the VIP that controlPlaneEndpoint
 * points at) before that, so the node that may init (slot 0) starts kube-vip with
 * super-admin.conf; every node switches to admin.conf once its bootstrap succeeded. See
 * docs/baremetal.md ("kube-vip and kubeadm >= 1.29").
 */
import * as yaml from "js-yaml";
import { NODE_LAYOUT } from "../../bootstrap/node-layout";
import { nodeFile, NodeFile } from "../../bootstrap/cloud-init";
import type { NodeRole } from "../../bootstrap/spec";

/**
 * Pinned kube-vip release: the last v0.8 patch (ghcr.io/kube-vip/kube-vip, tag v0.8.9). Override
 * with `apiEndpoint.image` (a mirror, a digest, a newer release you have tested).
 */
export const KUBE_VIP_IMAGE = "ghcr.io/kube-vip/kube-vip:v0.8.9";

export const KUBE_VIP_LAYOUT = {
  /** The manifest as rendered for this node (slot 0: super-admin.conf); the entry installs it. */
  source: "/etc/cdktf-kubeadm/kube-vip.yaml",
  /** Where kubelet reads static pods. */
  manifest: "/etc/kubernetes/manifests/kube-vip.yaml",
  /** Entry command of control-plane hosts with kube-vip: places the pod, runs the bootstrap, switches. */
  entry: "/usr/local/sbin/cdktf-kubeadm-kube-vip",
  superAdminConf: "/etc/kubernetes/super-admin.conf",
  adminConf: "/etc/kubernetes/admin.conf",
} as const;

/** kubeadm join's preflight check that refuses a non-empty /etc/kubernetes/manifests. */
export const MANIFESTS_DIR_PREFLIGHT = "DirAvailable--etc-kubernetes-manifests";

export interface KubeVipOptions {
  readonly address: string;
  readonly port: number;
  /** @default kube-vip's own choice: the interface of the default route */
  readonly interface?: string;
  readonly image: string;
}

/** The kubeconfig the static pod mounts on a control-plane slot before its bootstrap succeeded. */
export function kubeVipKubeconfig(slot: number): string {
  return slot === 0 ? KUBE_VIP_LAYOUT.superAdminConf : KUBE_VIP_LAYOUT.adminConf;
}

/** The static pod, shaped like `kube-vip manifest pod --arp --controlplane --leaderElection` output. */
export function renderKubeVipManifest(options: KubeVipOptions, kubeconfigHostPath: string): string {
  const env: Record<string, unknown>[] = [
    { name: "vip_arp", value: "true" },
    { name: "port", value: String(options.port) },
    { name: "vip_nodename", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
    ...(options.interface ? [{ name: "vip_interface", value: options.interface }] : []),
    { name: "vip_cidr", value: "32" },
    { name: "dns_mode", value: "first" },
    { name: "cp_enable", value: "true" },
    { name: "cp_namespace", value: "kube-system" },
    { name: "svc_enable", value: "false" },
    { name: "vip_leaderelection", value: "true" },
    { name: "vip_leasename", value: "plndr-cp-lock" },
    { name: "vip_leaseduration", value: "5" },
    { name: "vip_renewdeadline", value: "3" },
    { name: "vip_retryperiod", value: "1" },
    { name: "address", value: options.address },
  ];
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "kube-vip", namespace: "kube-system", labels: { "app.kubernetes.io/name": "kube-vip", "app.kubernetes.io/managed-by": "cdktf-kubeadm" } },
    spec: {
      containers: [
        {
          name: "kube-vip",
          image: options.image,
          imagePullPolicy: "IfNotPresent",
          args: ["manager"],
          env,
          securityContext: { capabilities: { add: ["NET_ADMIN", "NET_RAW"] } },
          // kube-vip reads /etc/kubernetes/admin.conf in the container whatever the host file is.
          volumeMounts: [{ name: "kubeconfig", mountPath: KUBE_VIP_LAYOUT.adminConf, readOnly: true }],
        },
      ],
      // In control-plane mode kube-vip talks to https://kubernetes:<port>, the local API server.
      hostAliases: [{ ip: "127.0.0.1", hostnames: ["kubernetes"] }],
      hostNetwork: true,
      // type File: a missing kubeconfig (super-admin.conf on a slot 0 that joins) makes the pod wait
      // instead of kubelet creating an empty directory in its place.
      volumes: [{ name: "kubeconfig", hostPath: { path: kubeconfigHostPath, type: "File" } }],
    },
  };
  return yaml.dump(pod, { lineWidth: -1, noRefs: true });
}

/** Entry of control-plane hosts with kube-vip (bash; honours BOOTSTRAP_ROOT like the bootstrap). */
export function kubeVipEntryScript(): string {
  const L = KUBE_VIP_LAYOUT;
  return `#!/usr/bin/env bash
# cdktf-kubeadm entry for control-plane hosts with a kube-vip virtual IP (see docs/baremetal.md).
# kubeadm >= 1.29 grants admin.conf its rights only at the end of \`kubeadm init\`, but kube-vip must
# hold its lease (and announce the VIP the cluster endpoint points at) before that: slot 0, the
# node that may init, renders the static pod with super-admin.conf.
#  1. Until the node is bootstrapped, place the static pod as rendered.
#  2. Run the bootstrap (it decides between init and join).
#  3. After it succeeded, mount admin.conf instead (super-admin.conf is a break-glass credential
#     that only the node that ran init has; a slot 0 that joined has none).
# Honours BOOTSTRAP_ROOT like the bootstrap. Prints no file contents.
set -Eeuo pipefail
R=\${BOOTSTRAP_ROOT:-}
SRC=$R${L.source}
DST=$R${L.manifest}
DONE=$R${NODE_LAYOUT.stateDir}/done

# place SED-EXPRESSION: installs SRC, rewritten, as DST unless DST already has that content.
place() {
  local tmp
  mkdir -p "\${DST%/*}"
  # kubelet ignores dot files in its manifest directory: no half-written pod is ever read.
  tmp=$(mktemp "\${DST%/*}/.kube-vip.XXXXXX")
  sed -e "$1" "$SRC" >"$tmp"
  chmod 0600 "$tmp"
  if cmp -s "$tmp" "$DST"; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$DST"
    echo "cdktf-kubeadm: kube-vip static pod placed, mounting $(sed -n -E 's|^ *path: (/.*\\.conf)$|\\1|p' "$DST")"
  fi
}

[[ -f $SRC ]] || { echo "cdktf-kubeadm: $SRC is missing: check the user data or the SSH payload" >&2; exit 1; }
[[ -e $DONE ]] || place 's|^||'
"$R${NODE_LAYOUT.script}"
place 's|${L.superAdminConf}|${L.adminConf}|'
`;
}

/** Files a role gets for kube-vip: the rendered static pod and the entry (control plane only). */
export function kubeVipFiles(role: NodeRole, options: KubeVipOptions): NodeFile[] {
  if (role.kind !== "control-plane") return [];
  return [
    nodeFile(KUBE_VIP_LAYOUT.source, "0600", renderKubeVipManifest(options, kubeVipKubeconfig(role.slot))),
    nodeFile(KUBE_VIP_LAYOUT.entry, "0755", kubeVipEntryScript()),
  ];
}
