// The platform-neutral core. Platforms are separate entry points so an application only loads the
// provider bindings it uses: `cdktf-kubeadm/aws`, `cdktf-kubeadm/gce`, `cdktf-kubeadm/baremetal`.
export * from "./bootstrap";
export * from "./constructs/kubeadm-cluster";
export * from "./constructs/terraform-string";
