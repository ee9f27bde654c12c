// Bare metal: machines you already have, delivered by NoCloud seed files and/or SSH.
export * from "./baremetal-kubeadm-cluster";
export * from "./hosts";
export * from "./kube-vip";
export * from "./host-payload";
export * from "./seed-files";
export * from "./ssh";
export * from "./upgrade";
