import * as crypto from "crypto";
import { TerraformStack } from "cdktf";
import type { IConstruct } from "constructs";

/** Terraform release that introduced write-only arguments (the secrets are written with them). */
export const MIN_TERRAFORM_VERSION = "1.11.0";
/** OpenTofu release that introduced them. */
export const MIN_OPENTOFU_VERSION = "1.11.0";

/**
 * cdktn's context key for the engines a project targets (cdktf.json `targetVersions`): cdktn
 * refuses a write-only argument unless every declared target supports it, and a project that
 * declares none targets Terraform >=1.5.7 and OpenTofu >=1.6.0. cdktf has no such check.
 */
export const TARGET_VERSIONS_CONTEXT = "targetVersions";
export const WRITE_ONLY_TARGET_VERSIONS = { terraform: `>=${MIN_TERRAFORM_VERSION}`, opentofu: `>=${MIN_OPENTOFU_VERSION}` } as const;

/**
 * Makes the stack require a Terraform that keeps write-only values out of the state: an older one
 * would fail on `secret_string_wo` with a confusing schema error, or worse, with a provider that
 * silently ignores it. Call it before `scope` has children.
 *
 * On cdktn, an app that declares no targets would fail synth on cdktn's generic check, so the
 * scope declares ours (which `required_version` enforces anyway). Targets the app declares itself
 * stay: cdktn's message then names what write-only arguments need.
 */
export function requireWriteOnlyArguments(scope: IConstruct): void {
  TerraformStack.of(scope).addOverride("terraform.required_version", `>= ${MIN_TERRAFORM_VERSION}`);
  if (scope.node.tryGetContext(TARGET_VERSIONS_CONTEXT) === undefined) scope.node.setContext(TARGET_VERSIONS_CONTEXT, WRITE_ONLY_TARGET_VERSIONS);
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
