/** User-data size limits per platform and the synth-time check against them. */
import * as zlib from "zlib";

/** Bytes of (decoded) user data a platform accepts. */
export const USER_DATA_LIMITS = {
  /** EC2: 16 KiB before base64. */
  aws: 16384,
  /** GCE: one metadata value. */
  gce: 262144,
  /**
   * NoCloud seed files (an ISO or a directory) and SSH delivery: cloud-init and the installer read
   * any size, so EC2's cap would refuse valid clusters (RSA-2048 keys, 3 control-plane nodes).
   * 1 MiB only catches runaway content.
   */
  baremetal: 1 << 20,
} as const;

/** Warn when user data uses more than this share of its limit. */
export const WARN_RATIO = 0.75;

/** Gzip as Terraform's base64gzip does (Go compress/gzip, default level). */
export function gzipSize(text: string): number {
  return zlib.gzipSync(Buffer.from(text, "utf8"), { level: 6 }).length;
}

export class UserDataTooLargeError extends Error {
  constructor(role: string, bytes: number, limit: number) {
    super(
      `cdktf-kubeadm: user data of node role "${role}" is ${bytes} bytes after gzip, over the platform limit of ${limit} bytes. ` +
        "Fix: shorten labels/extra args/kubelet configuration passthrough, or use ECDSA-P256 keys (pki.keyAlgorithm).",
    );
    this.name = "UserDataTooLargeError";
  }
}

export interface BudgetResult {
  readonly bytes: number;
  readonly limit: number;
  /** Set above WARN_RATIO of the limit. */
  readonly warning?: string;
}

/** Throws above the limit; returns a warning above 75%. */
export function checkUserDataBudget(role: string, gzippedBytes: number, limit: number): BudgetResult {
  if (gzippedBytes > limit) throw new UserDataTooLargeError(role, gzippedBytes, limit);
  const ratio = gzippedBytes / limit;
  return {
    bytes: gzippedBytes,
    limit,
    warning:
      ratio > WARN_RATIO
        ? `cdktf-kubeadm: user data of node role "${role}" is ${gzippedBytes} bytes after gzip, ${Math.round(ratio * 100)}% of the ${limit}-byte limit`
        : undefined,
  };
}
