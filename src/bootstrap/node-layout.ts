/**
 * Where things live on a node. The cloud-init renderer writes these files and the bundled
 * bootstrap script (bootstrap.sh) reads them; keep both sides in sync through this module and
 * the settings the script documents in its header.
 */
export const NODE_LAYOUT = {
  /** The bundled bootstrap script. */
  script: "/usr/local/sbin/cdktf-kubeadm-bootstrap",
  /** Shell-sourceable KEY='value' settings (no secrets). */
  settings: "/etc/cdktf-kubeadm/bootstrap.env",
  /** InitConfiguration + ClusterConfiguration + KubeletConfiguration + KubeProxyConfiguration (control plane). */
  initConfig: "/etc/cdktf-kubeadm/kubeadm-init.yaml",
  /** JoinConfiguration (every node). */
  joinConfig: "/etc/cdktf-kubeadm/kubeadm-join.yaml",
  /** Bootstrap log; also streamed to the console by cloud-init. */
  log: "/var/log/cdktf-kubeadm-bootstrap.log",
  /** Progress: status.json, done sentinel, per-step markers. */
  stateDir: "/var/lib/cdktf-kubeadm",
  /** kubeadm's PKI directory: the shared CA material is pre-placed here on control-plane nodes. */
  pkiDir: "/etc/kubernetes/pki",
} as const;
