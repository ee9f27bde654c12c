import * as crypto from "crypto";
import { TerraformStack } from "cdktf";
import type { IConstruct } from "constructs";

/** Terraform release that introduced write-only arguments (the secrets are written with them). */
export const MIN_TERRAFORM_VERSION = "1.11.0";

/**
 * Makes the stack require a Terraform that keeps write-only values out of the state: an older one
 * would fail on `secret_string_wo` with a confusing schema error, or worse, with a provider that
 * silently ignores it.
 */
export function requireWriteOnlyArguments(scope: IConstruct): void {
  TerraformStack.of(scope).addOverride("terraform.required_version", `>= ${MIN_TERRAFORM_VERSION}`);
}

/**
 * The `*_wo_version` of a write-only value: changes exactly when the value does (Terraform only
 * sends a write-only value when its version changes). The first 48 bits of its SHA-256: exact in a
 * JavaScript number and in the providers' int64, collisions (a skipped update) improbable, and
 * nothing usable revealed about 256+ bits of key material.
 */
export function writeOnlyVersion(content: string): number {
  return parseInt(crypto.createHash("sha256").update(content, "utf8").digest("hex").slice(0, 12), 16);
}
