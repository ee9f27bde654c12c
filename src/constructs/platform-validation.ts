/**
 * Validation pieces every platform's resolver shares: CIDR fields, tokens, and taking the
 * platform-only fields out of the control-plane and pool specs before the cluster model sees them.
 */
import { Token } from "cdktf";
import { Ipv4Cidr, parseCidr } from "../bootstrap/cidr";
import { resolveCluster } from "../bootstrap/resolve-cluster";
import type { ClusterSpec, ControlPlaneSpec, NodePoolSpec, PlatformNetwork, ResolvedCluster } from "../bootstrap/spec";
import { ClusterSpecError, Problems, SpecProblem } from "../bootstrap/validation-error";

export function isToken(value: unknown): boolean {
  return typeof value === "string" ? Token.isUnresolved(value) : Array.isArray(value) && Token.isUnresolved(value);
}

export function cidr(p: Problems, field: string, text: unknown): Ipv4Cidr | undefined {
  if (typeof text !== "string") {
    p.add(field, text, "is not a CIDR string", 'use e.g. "203.0.113.0/24"');
    return undefined;
  }
  const parsed = parseCidr(text);
  if (typeof parsed === "string") {
    p.add(field, text, parsed, 'use a network CIDR such as "203.0.113.0/24" (a single address is "203.0.113.10/32")');
    return undefined;
  }
  return parsed;
}

export function cidrList(p: Problems, field: string, list: string[]): string[] {
  if (!Array.isArray(list)) {
    p.add(field, list, "is not a list of CIDRs", 'use e.g. ["203.0.113.0/24"]');
    return [];
  }
  return list.map((text, i) => cidr(p, `${field}[${i}]`, text)?.text ?? text);
}

/** The control-plane and pool specs without the platform's own fields (machine types, IAM, ...). */
export function withoutPlatformFields(
  controlPlane: object | undefined,
  nodePools: readonly object[] | undefined,
  controlPlaneKeys: readonly string[],
  poolKeys: readonly string[],
): { controlPlane?: ControlPlaneSpec; nodePools?: NodePoolSpec[] } {
  const strip = (spec: object, keys: readonly string[]) => {
    const copy: Record<string, unknown> = { ...spec };
    for (const key of keys) delete copy[key];
    return copy;
  };
  return {
    controlPlane: controlPlane ? (strip(controlPlane, controlPlaneKeys) as ControlPlaneSpec) : undefined,
    nodePools: nodePools?.map((pool) => strip(pool, poolKeys) as unknown as NodePoolSpec),
  };
}

/**
 * The cluster model for the platform's network, or undefined with its problems added to
 * `problems` (all of them reported together with the platform's own).
 */
export function resolveClusterModel(spec: ClusterSpec, network: PlatformNetwork, problems: SpecProblem[]): ResolvedCluster | undefined {
  try {
    return resolveCluster(spec, network);
  } catch (error) {
    if (!(error instanceof ClusterSpecError)) throw error;
    // One problem per mistake: the cluster model re-checks the name the construct id gave it.
    const reported = new Set(problems.map((x) => x.field));
    problems.push(...error.problems.filter((x) => !reported.has(x.field)));
    return undefined;
  }
}

/**
 * Who may reach the API port through the load balancer (AWS and GCE alike): `allowedCidrs`,
 * by default everyone on a public load balancer and nobody on an internal one. An internal one
 * open to every address is refused, and so is a public one nobody may reach unless
 * `closedToClients` says the user opens it himself.
 */
export function apiClientCidrs(
  p: Problems,
  lb: { readonly allowedCidrs?: string[]; readonly closedToClients?: boolean },
  isPublic: boolean,
  publicSetting: { readonly field: string; readonly word: string },
): string[] {
  const closed = lb.closedToClients === true;
  const allowedCidrs = cidrList(p, "apiLoadBalancer.allowedCidrs", lb.allowedCidrs ?? (isPublic && !closed ? ["0.0.0.0/0"] : []));
  if (!isPublic) {
    allowedCidrs.forEach((c, i) => {
      const parsed = parseCidr(c);
      p.check(typeof parsed === "string" || parsed.prefix > 0, `apiLoadBalancer.allowedCidrs[${i}]`, c, "opens an internal load balancer to every address", "list the networks that reach the VPC (VPN, peering), e.g. 10.100.0.0/16");
    });
    p.check(lb.closedToClients === undefined, "apiLoadBalancer.closedToClients", lb.closedToClients, "is set for an internal load balancer (it is closed to all but allowedCidrs already)", "remove it");
    return allowedCidrs;
  }
  const closedOk = p.check(lb.closedToClients === undefined || typeof lb.closedToClients === "boolean", "apiLoadBalancer.closedToClients", lb.closedToClients, "is not a boolean", "use true or false");
  p.check(
    !closedOk || closed || !Array.isArray(lb.allowedCidrs) || isToken(lb.allowedCidrs) || lb.allowedCidrs.length > 0,
    "apiLoadBalancer.allowedCidrs",
    lb.allowedCidrs,
    `is empty on an ${publicSetting.word} load balancer: no client (kubectl, CI) could reach the API`,
    `list the networks of your clients, e.g. ["203.0.113.0/24"]; or set ${publicSetting.field} to false for a VPC-only API; or set apiLoadBalancer.closedToClients to true if you open it yourself`,
  );
  p.check(!closed || !Array.isArray(lb.allowedCidrs) || lb.allowedCidrs.length === 0, "apiLoadBalancer.closedToClients", lb.closedToClients, "is true, but allowedCidrs lets clients in", "remove closedToClients, or give allowedCidrs []");
  return allowedCidrs;
}
