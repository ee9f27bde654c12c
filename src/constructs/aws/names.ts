/** AWS resource names and tags derived from the cluster name: bounded lengths, deterministic. */
import * as crypto from "crypto";

/**
 * `full` if it fits in `max` characters, otherwise a prefix plus an 8-hex digest of the full
 * name, so long cluster names still give unique, stable names (NLB and target group: 32).
 */
export function fitName(full: string, max: number): string {
  if (full.length <= max) return full;
  const digest = crypto.createHash("sha256").update(full).digest("hex").slice(0, 8);
  return `${full.slice(0, max - 9).replace(/-+$/, "")}-${digest}`;
}

/** Limits of the name fields used (AWS API references). */
export const NAME_LIMITS = {
  loadBalancer: 32,
  targetGroup: 32,
  iamRole: 64,
  instanceProfile: 128,
  launchTemplate: 128,
  autoscalingGroup: 255,
  securityGroup: 255,
} as const;

/** The tag Kubernetes tooling (AWS load balancer controller, CCM, CA) uses to find cluster resources. */
export function clusterOwnershipTag(cluster: string): Record<string, string> {
  return { [`kubernetes.io/cluster/${cluster}`]: "owned" };
}

/** Tags of one resource: Name, cluster ownership, the user's tags (user tags never override ownership). */
export function resourceTags(cluster: string, name: string, userTags: Record<string, string>, extra: Record<string, string> = {}): Record<string, string> {
  return { ...userTags, Name: name, ...clusterOwnershipTag(cluster), ...extra };
}
