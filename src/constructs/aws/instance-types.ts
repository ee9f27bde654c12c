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
