// Google Compute Engine: managed instance groups behind a regional passthrough load balancer.
// Import this entry point only when @cdktf/provider-google is installed.
export * from "./gce-kubeadm-cluster";
export * from "./props";
export * from "./resolve-gce";
export * from "./names";
export * from "./network";
export * from "./firewall";
export * from "./addresses";
export * from "./api-load-balancer";
export * from "./service-accounts";
export * from "./instance-template";
export * from "./node-group";
export * from "./user-data";
export * from "./secrets";
export * from "./desired-version";
export * from "./etcd-backup-bucket";
