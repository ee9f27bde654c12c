// AWS: EC2 Auto Scaling groups behind a network load balancer. Import this entry point (or the
// package root) only when @cdktf/provider-aws is installed.
export * from "./aws-kubeadm-cluster";
export * from "./props";
export * from "./resolve-aws";
export * from "./instance-types";
export * from "./names";
export * from "./network";
export * from "./security-groups";
export * from "./api-load-balancer";
export * from "./node-iam";
export * from "./ubuntu-ami";
export * from "./launch-template";
export * from "./node-group";
export * from "./node-secrets";
export * from "./desired-version";
export * from "./etcd-backup-bucket";
