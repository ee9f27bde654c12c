/**
 * kubeadm patches (kubeadm.k8s.io/v1beta4 `patches.directory`): the spec's strategic merge patches
 * become one file per kubeadm target in NODE_LAYOUT.patchesDir, named the way kubeadm's patch
 * manager reads them: "<target>.json", a strategic merge patch (its default type, so no "+type",
 * which the bare-metal installer's paths do not allow). Init, join and upgrade all get the
 * directory, so an upgrade, which rewrites the static Pod manifests, keeps the patches. Workers
 * always have one: their pool's maxPods.
 */
import type { ClusterSpec, KubeadmPatches, NodeRole, ResolvedCluster } from "./spec";
import { findPool } from "./spec";
import type { Problems } from "./validation-error";
import { NODE_LAYOUT } from "./node-layout";

const PATCHES_DIR = NODE_LAYOUT.patchesDir;

/** Spec key -> kubeadm's target name, in kubeadm's own order (cmd/kubeadm/app/util/patches knownTargets). */
const TARGETS: Readonly<Record<keyof KubeadmPatches, string>> = {
  etcd: "etcd",
  kubeApiServer: "kube-apiserver",
  kubeControllerManager: "kube-controller-manager",
  kubeScheduler: "kube-scheduler",
  kubeletConfiguration: "kubeletconfiguration",
  corednsDeployment: "corednsdeployment",
};
/** The one target a worker's kubeadm applies (`kubeadm join` writes only the kubelet's config there). */
const WORKER_TARGETS = ["kubeletconfiguration"];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/** A value JSON can carry unchanged: no NaN, Infinity, undefined, functions or class instances. */
function jsonProblem(value: unknown, at: string): string | undefined {
  if (value === null || typeof value === "string" || typeof value === "boolean") return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? undefined : `${at} is ${value}, which JSON cannot carry`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = jsonProblem(value[i], `${at}[${i}]`);
      if (problem) return problem;
    }
    return undefined;
  }
  if (isPlainObject(value)) {
    for (const key of Object.keys(value)) {
      const problem = jsonProblem(value[key], `${at}.${key}`);
      if (problem) return problem;
    }
    return undefined;
  }
  return `${at} is a ${typeof value}, which JSON cannot carry`;
}

export function resolveKubeadmPatches(p: Problems, spec: ClusterSpec): ResolvedCluster["kubeadmPatches"] {
  const given = spec.kubeadmPatches ?? {};
  if (!p.check(isPlainObject(given), "kubeadmPatches", given, "is not an object", `use { kubeApiServer: {...} } with keys among ${Object.keys(TARGETS).join(", ")}`)) return {};
  const keys = Object.keys(TARGETS) as (keyof KubeadmPatches)[];
  for (const key of Object.keys(given)) {
    if (!(keys as string[]).includes(key)) p.add(`kubeadmPatches.${key}`, (given as Record<string, unknown>)[key], "is not a kubeadm patch target", `use one of ${keys.join(", ")}`);
  }
  const resolved: Record<string, Record<string, unknown>> = {};
  for (const key of keys.filter((k) => given[k] !== undefined)) {
    const field = `kubeadmPatches.${key}`;
    const patch = given[key];
    if (!p.check(isPlainObject(patch) && Object.keys(patch).length > 0, field, patch, "is not a non-empty object (a strategic merge patch)", `use e.g. { spec: { ... } } for ${TARGETS[key]}, or leave ${key} out`)) continue;
    const problem = jsonProblem(patch, field);
    if (!p.check(problem === undefined, field, patch, problem ?? "", "use only strings, finite numbers, booleans, null, lists and plain objects")) continue;
    if (key === "kubeletConfiguration" && "maxPods" in (patch as Record<string, unknown>)) {
      p.add(`${field}.maxPods`, (patch as Record<string, unknown>).maxPods, "is set per node pool", "use nodePools[].maxPods (control-plane nodes: kubeletConfiguration.maxPods)");
      continue;
    }
    if (key === "etcd" && spec.controlPlane?.externalEtcd) {
      p.add(field, patch, "has no effect with an external etcd (kubeadm runs no etcd Pod)", "configure your etcd cluster directly, or remove externalEtcd");
      continue;
    }
    resolved[TARGETS[key]] = patch as Record<string, unknown>;
  }
  return resolved;
}

/**
 * The patches a node of `role` applies, by target. A worker's kubelet config always gets its pool's
 * maxPods: KubeletConfiguration is one per cluster in kubeadm, a patch is per node.
 */
function patchesOf(cluster: ResolvedCluster, role: NodeRole): Record<string, Record<string, unknown>> {
  if (role.kind === "control-plane") return { ...cluster.kubeadmPatches };
  const kubelet = { ...cluster.kubeadmPatches.kubeletconfiguration, maxPods: findPool(cluster, role.pool).maxPods };
  return Object.fromEntries(WORKER_TARGETS.map((target) => [target, kubelet]));
}

/** The patch files a node of `role` gets: path -> content. Empty when none concerns it. */
export function kubeadmPatchFiles(cluster: ResolvedCluster, role: NodeRole): { path: string; content: string }[] {
  const patches = patchesOf(cluster, role);
  return Object.keys(patches).map((target) => ({ path: `${PATCHES_DIR}/${target}.json`, content: `${JSON.stringify(patches[target])}\n` }));
}

/** `patches` for an Init or JoinConfiguration: only when the node has patch files (kubeadm fails on a missing directory). */
export function patchesField(cluster: ResolvedCluster, role: NodeRole): { patches?: { directory: string } } {
  return kubeadmPatchFiles(cluster, role).length > 0 ? { patches: { directory: PATCHES_DIR } } : {};
}
