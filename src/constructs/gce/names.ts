/** GCE resource names, network tags and labels derived from the cluster name: bounded, deterministic. */
import * as crypto from "crypto";

/** RFC 1035 label, as most GCE resource names must be. */
export const GCE_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** Limits of the name fields used (Compute Engine and IAM API references). */
export const GCE_NAME_LIMITS = {
  /** Networks, subnetworks, firewalls, addresses, groups, health checks, backend services, forwarding rules. */
  resource: 63,
  /** google_compute_instance_template name_prefix: longer prefixes get a shortened suffix. */
  templatePrefix: 37,
  /** Service account ids: 6-30 characters. */
  serviceAccountId: 30,
  label: 63,
  /** Project metadata keys: [a-zA-Z0-9_-], at most 128 characters. */
  metadataKey: 128,
} as const;

/**
 * `full` if it fits in `max` characters, otherwise a prefix plus an 8-hex digest of the full name,
 * so long cluster and pool names still give unique, stable, valid names.
 */
export function fitName(full: string, max: number = GCE_NAME_LIMITS.resource): string {
  if (full.length <= max) return full;
  const digest = crypto.createHash("sha256").update(full).digest("hex").slice(0, 8);
  return `${full.slice(0, max - 9).replace(/-+$/, "")}-${digest}`;
}

/** Network tags that firewall rules target. */
export function nodeTags(cluster: string): { readonly controlPlane: string; readonly workers: string } {
  return { controlPlane: fitName(`${cluster}-control-plane`), workers: fitName(`${cluster}-worker`) };
}

/** GCE labels of one resource: the user's, then ownership labels (never overridden). */
export function resourceLabels(cluster: string, userLabels: Record<string, string>, extra: Record<string, string> = {}): Record<string, string> {
  return { ...userLabels, "cdktf-kubeadm-cluster": cluster, ...extra };
}

/** A label value: lowercase letters, digits, '-' and '_', at most 63 characters. */
export function labelValue(text: string): string {
  return fitName(text.toLowerCase().replace(/[^a-z0-9_-]/g, "-"), GCE_NAME_LIMITS.label);
}
