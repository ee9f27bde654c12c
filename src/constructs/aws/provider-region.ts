/**
 * The region of the stack's default AWS provider when it is a literal, so zone and KMS ARN
 * regions can be checked at synth. Undefined when there is no such provider, it has an alias
 * only, or its region is a token or comes from the environment.
 */
import { Token, TerraformProvider, TerraformStack } from "cdktf";
import type { IConstruct } from "constructs";

export function literalProviderRegion(scope: IConstruct): string | undefined {
  const defaults = TerraformStack.of(scope)
    .node.findAll()
    .filter((c): c is TerraformProvider => c instanceof TerraformProvider && c.terraformResourceType === "aws" && c.alias === undefined);
  if (defaults.length !== 1) return undefined;
  const region = (defaults[0] as TerraformProvider & { region?: unknown }).region;
  return typeof region === "string" && !Token.isUnresolved(region) ? region : undefined;
}

/** The region a zone name belongs to: "eu-west-1a" and the Local Zone "us-west-2-lax-1a" alike. */
export function regionOfZone(zone: string): string | undefined {
  return /^([a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+)(?=[a-z]$|-)/.exec(zone)?.[1];
}

/** The region in a KMS ARN ("arn:aws:kms:<region>:..."). */
export function regionOfArn(arn: string): string | undefined {
  return arn.split(":")[3] || undefined;
}
