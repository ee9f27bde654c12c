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
  /** UpgradeConfiguration (control plane with an upgrade channel): patches and timeouts for `kubeadm upgrade`. */
  upgradeConfig: "/etc/cdktf-kubeadm/kubeadm-upgrade.yaml",
  /** kubeadm patches ("<target>.json"), given to init, join and upgrade when present. */
  patchesDir: "/etc/cdktf-kubeadm/patches",
  /** Bootstrap log; also streamed to the console by cloud-init. */
  log: "/var/log/cdktf-kubeadm-bootstrap.log",
  /** Progress: status.json, done sentinel, per-step markers. */
  stateDir: "/var/lib/cdktf-kubeadm",
  /** kubeadm's PKI directory: the shared CA material is pre-placed here on control-plane nodes. */
  pkiDir: "/etc/kubernetes/pki",
  /**
   * Workers' copy of the cluster CA certificate (what their probes of the API trust). Not in
   * pkiDir: `kubeadm join` of a worker refuses to start when /etc/kubernetes/pki/ca.crt exists
   * (preflight FileAvailable--etc-kubernetes-pki-ca.crt) and writes it itself from discovery.
   */
  workerCaCert: "/etc/cdktf-kubeadm/pki/ca.crt",
  /** Bare metal upgrade channel ("file"): the desired Kubernetes version, written by the SSH provisioner. */
  desiredVersion: "/etc/cdktf-kubeadm/desired-version",
  /** Control-plane nodes: logs of the upgrade agent and the certificate renewal (also in the journal). */
  upgradeLog: "/var/log/cdktf-kubeadm-upgrade.log",
  certsLog: "/var/log/cdktf-kubeadm-certs.log",
  /** The upgrade agent's last status on this node (also key <node> of ConfigMap kube-system/cdktf-kubeadm-upgrade-status). */
  upgradeStatus: "/var/lib/cdktf-kubeadm/upgrade.json",
} as const;
