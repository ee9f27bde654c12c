// Platform constructs import their provider by deep path; importing this root pulls in only
// the providers of the platforms you use (each platform is a separate entry point too).
export * from "./bootstrap";
export * from "./constructs/kubeadm-cluster";
export * from "./constructs/terraform-string";
