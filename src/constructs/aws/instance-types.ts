/** EC2 instance type names: syntax and CPU architecture (for the AMI lookup). */

export type Architecture = "amd64" | "arm64";

/** family.size, e.g. "m7i.large", "c7gn.16xlarge", "u-6tb1.metal". */
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;

export function isInstanceTypeName(text: unknown): text is string {
  return typeof text === "string" && INSTANCE_TYPE.test(text);
}

/**
 * Graviton (arm64) families: a1, and families whose generation digit is followed by "g"
 * (m7g, c7gn, r8gd, t4g, g5g, im4gn, x2gd, ...). Everything else is x86_64.
 */
export function architectureOf(instanceType: string): Architecture {
  const family = instanceType.split(".")[0];
  return family === "a1" || /^[a-z]+\d+g[a-z]*$/.test(family) ? "arm64" : "amd64";
}

/** The EC2 API's name for an architecture (DescribeImages `architecture` filter). */
export function ec2Architecture(arch: Architecture): "x86_64" | "arm64" {
  return arch === "amd64" ? "x86_64" : "arm64";
}

/**
 * Whether a type has fewer than kubeadm's control-plane minimum of 2 vCPU and 1700 MB (its
 * preflight NumCPU and Mem checks fail on it). Sizes from EC2's type tables: every nano and micro
 * (at most 1 GiB); small is 1 vCPU except in t3, t3a and t4g (2 vCPU, 2 GiB); medium is 1 vCPU
 * except in the burstable t families (a1, Graviton *g families, m3, m1, c1). large and up have
 * at least 2 vCPU and 4 GiB.
 */
export function belowControlPlaneMinimum(instanceType: string): boolean {
  const [family, size] = instanceType.split(".");
  if (size === "nano" || size === "micro") return true;
  if (size === "small") return !["t3", "t3a", "t4g"].includes(family);
  if (size === "medium") return !/^t\d/.test(family);
  return false;
}
