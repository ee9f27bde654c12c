/** Kubernetes label, taint and flag syntax, and what kubelet may set on its own node. */
import type { Taint } from "./spec";
import { Problems } from "./validation-error";

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * kubelet refuses to start with self-set labels in the kubernetes.io / k8s.io namespaces, except
 * these (NodeRestriction admission; `kubelet --node-labels` validation).
 */
const KUBELET_ALLOWED_PREFIXES = ["kubelet.kubernetes.io/", "node.kubernetes.io/"];
const KUBELET_ALLOWED_LABELS = new Set([
  "kubernetes.io/hostname",
  "kubernetes.io/arch",
  "kubernetes.io/os",
  "topology.kubernetes.io/region",
  "topology.kubernetes.io/zone",
  "node.kubernetes.io/instance-type",
  "failure-domain.beta.kubernetes.io/region",
  "failure-domain.beta.kubernetes.io/zone",
  "beta.kubernetes.io/instance-type",
  "beta.kubernetes.io/arch",
  "beta.kubernetes.io/os",
]);

export function isQualifiedName(key: string): boolean {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return false;
  return NAME.test(name);
}

function isRestrictedNamespace(key: string): boolean {
  const slash = key.indexOf("/");
  if (slash < 0) return false;
  const prefix = key.slice(0, slash);
  return /(^|\.)kubernetes\.io$|(^|\.)k8s\.io$/.test(prefix);
}

export function checkLabels(problems: Problems, field: string, labels: Record<string, string>): void {
  for (const [key, value] of Object.entries(labels)) {
    if (!problems.check(isQualifiedName(key), `${field}["${key}"]`, key, "is not a valid label key", "use [prefix/]name with name of at most 63 alphanumerics, '-', '_' or '.'")) continue;
    problems.check(value === "" || NAME.test(value), `${field}["${key}"]`, value, "is not a valid label value", "use at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric");
    const allowed = KUBELET_ALLOWED_LABELS.has(key) || KUBELET_ALLOWED_PREFIXES.some((p) => key.startsWith(p));
    problems.check(
      !isRestrictedNamespace(key) || allowed,
      `${field}["${key}"]`,
      key,
      "is in the kubernetes.io/k8s.io namespace, which kubelet may not set on its own node (it would refuse to start)",
      "use your own prefix (e.g. example.com/role) or node.kubernetes.io/<name>; set node-role.kubernetes.io labels later with kubectl",
    );
  }
}

export function checkTaints(problems: Problems, field: string, taints: Taint[]): void {
  taints.forEach((taint, i) => {
    const f = `${field}[${i}]`;
    problems.check(isQualifiedName(taint.key), `${f}.key`, taint.key, "is not a valid taint key", "use [prefix/]name, e.g. example.com/dedicated");
    problems.check(taint.value === undefined || taint.value === "" || NAME.test(taint.value), `${f}.value`, taint.value, "is not a valid taint value", "use at most 63 alphanumerics, '-', '_' or '.'");
    problems.check(["NoSchedule", "PreferNoSchedule", "NoExecute"].includes(taint.effect), `${f}.effect`, taint.effect, "is not a taint effect", "use NoSchedule, PreferNoSchedule or NoExecute");
  });
}

/** Flags are given without dashes (kubeadm v1beta4 extraArgs take `name`, not `--name`). */
export function checkExtraArgs(problems: Problems, field: string, args: Record<string, string>): void {
  for (const [name, value] of Object.entries(args)) {
    problems.check(/^[a-z0-9][a-z0-9-]*$/.test(name), `${field}["${name}"]`, name, "is not a flag name", "give the flag without leading dashes, e.g. { \"audit-log-maxage\": \"30\" }");
    problems.check(typeof value === "string", `${field}["${name}"]`, value, "is not a string", "quote the value, e.g. \"30\"");
  }
}
