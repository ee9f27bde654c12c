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
