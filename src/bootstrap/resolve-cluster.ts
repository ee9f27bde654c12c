/**
 * Applies defaults to a ClusterSpec and validates it, collecting every problem into one
 * ClusterSpecError. Platforms call this before creating anything, so a bad spec never leaves a
 * half-created cluster.
 */
import {
  DEFAULT_CONTAINERD_REPOSITORY_BASE,
  DEFAULT_IMAGE_REPOSITORY,
  DEFAULT_KUBERNETES_VERSION,
  DEFAULT_PACKAGE_REPOSITORY_BASE,
  MAX_KUBERNETES_MINOR,
  MIN_KUBERNETES_MINOR,
  PINNED_CNI,
} from "./catalog";
import { cidrSize, cidrsOverlap, Ipv4Cidr, parseCidr, parseIpv4 } from "./cidr";
import { resolveKubeadmPatches } from "./kubeadm-patches";
import { checkExtraArgs, checkLabels, checkTaints } from "./labels";
import { resolveSources } from "./mirrors";
import type {
  RestoreSpec,
  ClusterSpec,
  CniPlugin,
  KubeadmTimeouts,
  KubeProxyMode,
  PlatformNetwork,
  ResolvedCluster,
  ResolvedCni,
  ResolvedNodePool,
} from "./spec";
import { ClusterSpecError, Problems } from "./validation-error";

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
const MAX_CLUSTER_NAME = 40;
const GO_DURATION = /^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$/;

const UNIT_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, "µs": 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
/** Whole seconds of a Go duration ("1h30m" -> 5400); 0 for "0" and "0s". */
export function goDurationSeconds(duration: string): number {
  let total = 0;
  for (const m of duration.matchAll(/([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * UNIT_SECONDS[m[2]];
  return Math.floor(total);
}
/** Ports kubeadm's control plane binds; the API port must not collide with them. */
const RESERVED_PORTS = [2379, 2380, 2381, 10250, 10256, 10257, 10259];

export function resolveCluster(spec: ClusterSpec, platformNetwork: PlatformNetwork): ResolvedCluster {
  const p = new Problems();
  const name = spec.name;
  p.check(
    typeof name === "string" && DNS_LABEL.test(name) && name.length <= MAX_CLUSTER_NAME,
    "name",
    name,
    `must be a DNS label of at most ${MAX_CLUSTER_NAME} characters (lowercase letters, digits, '-', starting with a letter) because node, group and load balancer names derive from it`,
    'use something like "prod" or "team-a-dev"',
  );

  const { version, minor } = resolveVersion(p, spec.kubernetesVersion ?? DEFAULT_KUBERNETES_VERSION);
  const networking = resolveNetworking(p, spec, platformNetwork);
  const controlPlane = resolveControlPlane(p, spec);
  const nodePools = resolveNodePools(p, spec);
  checkAddressCapacity(p, networking, controlPlane.replicas, nodePools);
  const cni = resolveCni(p, spec);
  const kubeProxyMode = resolveKubeProxyMode(p, spec);

  const imageRepository = spec.imageRepository ?? DEFAULT_IMAGE_REPOSITORY;
  p.check(
    /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]+)?(\/[a-z0-9._-]+)*$/.test(imageRepository),
    "imageRepository",
    imageRepository,
    "is not a registry host with an optional path",
    'use e.g. "registry.example.com/k8s" (no scheme, no trailing slash)',
  );
  const repoBase = (spec.packageRepositoryBaseUrl ?? DEFAULT_PACKAGE_REPOSITORY_BASE).replace(/\/+$/, "");
  p.check(
    isHttpUrl(repoBase),
    "packageRepositoryBaseUrl",
    spec.packageRepositoryBaseUrl,
    "is not an http(s) URL",
    'use the base under which /v1.NN/deb/ lives, e.g. "https://pkgs.k8s.io/core:/stable:" or your mirror',
  );
  const containerdRepositoryUrl = (spec.containerdRepositoryUrl ?? DEFAULT_CONTAINERD_REPOSITORY_BASE).replace(/\/+$/, "");
  p.check(
    isHttpUrl(containerdRepositoryUrl) && !/[\s'"]/.test(containerdRepositoryUrl),
    "containerdRepositoryUrl",
    spec.containerdRepositoryUrl,
    "is not an http(s) URL",
    'use the base under which ubuntu/ and debian/ live, e.g. "https://download.docker.com/linux" or your mirror of it',
  );

  const sources = resolveSources(p, spec);
  const proxy = resolveProxy(p, spec, networking, platformNetwork);
  const kubeletConfiguration = resolvePassthrough(p, "kubeletConfiguration", spec.kubeletConfiguration, {
    cgroupDriver: { value: "systemd", because: "containerd is configured with systemd cgroups" },
  });
  const kubeProxyConfiguration = resolvePassthrough(p, "kubeProxyConfiguration", spec.kubeProxyConfiguration, {
    mode: { value: kubeProxyMode, because: "the mode is set through kubeProxyMode" },
  });
  const pki = resolvePki(p, spec);
  const bootstrapTokenTtl = spec.bootstrapTokenTtl ?? "0s";
  p.check(GO_DURATION.test(bootstrapTokenTtl), "bootstrapTokenTtl", bootstrapTokenTtl, "is not a Go duration", 'use e.g. "24h", or "0s" for a token that never expires');
  const bootstrapTokenRotation = spec.bootstrapTokenRotation ?? "";
  p.check(/^[A-Za-z0-9._-]{0,63}$/.test(bootstrapTokenRotation), "bootstrapTokenRotation", bootstrapTokenRotation, "is not a label of at most 63 letters, digits, '.', '_' or '-'", 'use e.g. "2026-12"');

  const kubeadmTimeouts = resolveKubeadmTimeouts(p, spec);
  const kubeadmPatches = resolveKubeadmPatches(p, spec);
  const restore = resolveRestore(p, spec, platformNetwork.platform);

  if (p.list.length > 0) throw new ClusterSpecError(String(name), p.list);
  return {
    name,
    kubernetesVersion: version,
    kubernetesMinor: `1.${minor}`,
    networking,
    controlPlane,
    nodePools,
    cni,
    kubeProxyMode,
    imageRepository,
    packageRepositoryUrl: `${repoBase}/v1.${minor}/deb/`,
    containerdRepositoryUrl,
    sources,
    proxy,
    kubeletConfiguration,
    kubeProxyConfiguration,
    pki,
    bootstrapTokenTtl,
    bootstrapTokenRotation,
    kubeadmTimeouts,
    kubeadmPatches,
    platformNetwork,
    ...(restore ? { restore } : {}),
  };
}

/** The snapshot's form each platform reads (the node's restore step fetches it so). */
const RESTORE_SNAPSHOT: Record<string, { pattern: RegExp; example: string }> = {
  aws: { pattern: /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/[A-Za-z0-9._\/-]+$/, example: "s3://<bucket>/<prefix>daily/etcd-20261207.db" },
  gce: { pattern: /^gs:\/\/[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]\/[A-Za-z0-9._\/-]+$/, example: "gs://<bucket>/<prefix>daily/etcd-20261207.db" },
  baremetal: { pattern: /^\/[A-Za-z0-9._\/-]+$/, example: "/var/lib/cdktf-kubeadm/etcd-backups/daily/etcd-20261207.db (on control-plane host 0)" },
};

function resolveRestore(p: Problems, spec: ClusterSpec, platform: string): RestoreSpec | undefined {
  if (spec.restore === undefined) return undefined;
  const snapshot = spec.restore?.snapshot;
  const form = RESTORE_SNAPSHOT[platform] ?? RESTORE_SNAPSHOT.baremetal;
  if (typeof snapshot !== "string" || !form.pattern.test(snapshot) || snapshot.split("/").includes("..")) {
    p.add("restore.snapshot", snapshot, `is not a snapshot this platform's control plane can read (${platform})`, `use ${form.example}`);
    return undefined;
  }
  p.check(spec.controlPlane?.externalEtcd === undefined, "restore", spec.restore, "restores the local etcd kubeadm runs, but this cluster uses an external etcd", "restore the external etcd with its own tools, and remove restore");
  return { snapshot };
}

const KUBEADM_TIMEOUTS: readonly (keyof KubeadmTimeouts)[] = [
  "controlPlaneComponentHealthCheck", "kubeletHealthCheck", "kubernetesAPICall", "etcdAPICall", "tlsBootstrap", "discovery", "upgradeManifests",
];

function resolveKubeadmTimeouts(p: Problems, spec: ClusterSpec): KubeadmTimeouts {
  const given = (spec.kubeadmTimeouts ?? {}) as Record<string, unknown>;
  const resolved: Record<string, string> = {};
  for (const key of Object.keys(given)) {
    const field = `kubeadmTimeouts.${key}`;
    if (!p.check((KUBEADM_TIMEOUTS as readonly string[]).includes(key), field, given[key], "is not a kubeadm timeout", `use one of ${KUBEADM_TIMEOUTS.join(", ")}`)) continue;
    const value = given[key];
    const seconds = typeof value === "string" && GO_DURATION.test(value) ? goDurationSeconds(value) : NaN;
    if (p.check(seconds >= 1 && seconds <= 7200, field, value, "is not a Go duration from 1s to 2h", 'use e.g. "5m" or "90s"')) resolved[key] = value as string;
  }
  return Object.fromEntries(KUBEADM_TIMEOUTS.filter((k) => k in resolved).map((k) => [k, resolved[k]]));
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === "https:" || url.protocol === "http:";
  } catch {
    return false;
  }
}

function resolveVersion(p: Problems, version: string): { version: string; minor: number } {
  const match = /^v?1\.(\d+)\.(\d+)$/.exec(String(version));
  if (!p.check(match !== null, "kubernetesVersion", version, "is not a full patch version", `use e.g. "${DEFAULT_KUBERNETES_VERSION}" (packages are pinned to an exact release)`)) {
    return { version: DEFAULT_KUBERNETES_VERSION, minor: MIN_KUBERNETES_MINOR };
  }
  const minor = Number(match![1]);
  p.check(
    minor >= MIN_KUBERNETES_MINOR && minor <= MAX_KUBERNETES_MINOR,
    "kubernetesVersion",
    version,
    `is outside the supported range 1.${MIN_KUBERNETES_MINOR}-1.${MAX_KUBERNETES_MINOR}`,
    `use a release from 1.${MIN_KUBERNETES_MINOR}.0 to 1.${MAX_KUBERNETES_MINOR}.x (upgrade one minor at a time)`,
  );
  return { version: `1.${minor}.${match![2]}`, minor };
}

function cidrField(p: Problems, field: string, text: string, example: string): Ipv4Cidr | undefined {
  const parsed = parseCidr(String(text));
  if (typeof parsed === "string") {
    p.add(field, text, parsed, `use a network CIDR such as ${example}`);
    return undefined;
  }
  return parsed;
}

function resolveNetworking(p: Problems, spec: ClusterSpec, platform: PlatformNetwork): ResolvedCluster["networking"] {
  const n = spec.networking ?? {};
  const podCidr = n.podCidr ?? "10.244.0.0/16";
  const serviceCidr = n.serviceCidr ?? "10.96.0.0/12";
  const dnsDomain = n.dnsDomain ?? "cluster.local";
  const nodeCidrMaskSize = n.nodeCidrMaskSize ?? 24;
  const pod = cidrField(p, "networking.podCidr", podCidr, "10.244.0.0/16");
  const svc = cidrField(p, "networking.serviceCidr", serviceCidr, "10.96.0.0/12");
  p.check(DNS_NAME.test(dnsDomain), "networking.dnsDomain", dnsDomain, "is not a DNS name", 'use e.g. "cluster.local"');
  if (svc) {
    // kube-apiserver rejects IPv4 service ranges with more than 20 host bits.
    p.check(svc.prefix >= 12, "networking.serviceCidr", serviceCidr, "is larger than kube-apiserver accepts (at most /12)", "use a /12 to /24, e.g. 10.96.0.0/12");
    p.check(svc.prefix <= 28, "networking.serviceCidr", serviceCidr, "is too small for the cluster's own services", "use at least a /24, e.g. 10.96.0.0/12");
  }
  if (p.check(Number.isInteger(nodeCidrMaskSize) && nodeCidrMaskSize >= 16 && nodeCidrMaskSize <= 28, "networking.nodeCidrMaskSize", nodeCidrMaskSize, "must be an integer from 16 to 28", "use 24 (254 pod addresses per node) unless you need denser nodes") && pod) {
    p.check(nodeCidrMaskSize > pod.prefix, "networking.nodeCidrMaskSize", nodeCidrMaskSize, `must be longer than the pod CIDR prefix /${pod.prefix}`, `use a pod CIDR larger than /${nodeCidrMaskSize} or a larger mask size`);
  }
  if (pod && svc) {
    p.check(!cidrsOverlap(pod, svc), "networking.serviceCidr", serviceCidr, `overlaps the pod CIDR ${pod.text}`, "choose disjoint ranges, e.g. pods 10.244.0.0/16 and services 10.96.0.0/12");
  }
  platform.nodeCidrs.forEach((text, i) => {
    const node = cidrField(p, `${platform.platform} node network [${i}]`, text, "10.0.0.0/16");
    if (!node) return;
    if (pod) p.check(!cidrsOverlap(pod, node), "networking.podCidr", podCidr, `overlaps the ${platform.platform} node network ${node.text}`, "choose a pod CIDR outside the node network (or move the node network)");
    if (svc) p.check(!cidrsOverlap(svc, node), "networking.serviceCidr", serviceCidr, `overlaps the ${platform.platform} node network ${node.text}`, "choose a service CIDR outside the node network (or move the node network)");
  });
  return { podCidr: pod?.text ?? podCidr, serviceCidr: svc?.text ?? serviceCidr, dnsDomain, nodeCidrMaskSize };
}

function resolveControlPlane(p: Problems, spec: ClusterSpec): ResolvedCluster["controlPlane"] {
  const cp = spec.controlPlane ?? {};
  const replicas = cp.replicas ?? 1;
  p.check([1, 3, 5].includes(replicas), "controlPlane.replicas", replicas, "must be 1, 3 or 5 (an odd etcd quorum)", "use 3 for a highly available control plane, 1 for development");
  const apiServerPort = cp.apiServerPort ?? 6443;
  p.check(Number.isInteger(apiServerPort) && apiServerPort >= 1 && apiServerPort <= 65535, "controlPlane.apiServerPort", apiServerPort, "is not a TCP port", "use 6443");
  p.check(!RESERVED_PORTS.includes(apiServerPort), "controlPlane.apiServerPort", apiServerPort, "collides with a port etcd, kubelet or a control-plane component binds", "use 6443");
  const certSans = cp.certSans ?? [];
  certSans.forEach((san, i) =>
    p.check(parseIpv4(san) !== undefined || DNS_NAME.test(san) || /^\*\.[a-z0-9.-]+$/.test(san), `controlPlane.certSans[${i}]`, san, "is neither an IPv4 address nor a DNS name", 'use e.g. "api.example.com" or "203.0.113.10"'),
  );
  if (cp.externalEtcd) checkExternalEtcd(p, cp.externalEtcd);
  const args = {
    apiServerExtraArgs: cp.apiServerExtraArgs ?? {},
    controllerManagerExtraArgs: cp.controllerManagerExtraArgs ?? {},
    schedulerExtraArgs: cp.schedulerExtraArgs ?? {},
    etcdExtraArgs: cp.etcdExtraArgs ?? {},
  };
  for (const [key, value] of Object.entries(args)) checkExtraArgs(p, `controlPlane.${key}`, value);
  if (cp.externalEtcd && Object.keys(args.etcdExtraArgs).length > 0) {
    p.add("controlPlane.etcdExtraArgs", args.etcdExtraArgs, "has no effect with an external etcd", "configure your etcd cluster directly, or remove externalEtcd");
  }
  const labels = cp.labels ?? {};
  const taints = cp.taints ?? [];
  checkLabels(p, "controlPlane.labels", labels);
  checkTaints(p, "controlPlane.taints", taints);
  return { replicas, apiServerPort, certSans, externalEtcd: cp.externalEtcd, ...args, labels, taints };
}

function checkExternalEtcd(p: Problems, etcd: NonNullable<NonNullable<ClusterSpec["controlPlane"]>["externalEtcd"]>): void {
  p.check(etcd.endpoints.length > 0, "controlPlane.externalEtcd.endpoints", etcd.endpoints, "is empty", 'list the client URLs, e.g. ["https://10.0.0.10:2379"]');
  etcd.endpoints.forEach((url, i) =>
    p.check(/^https:\/\/[^/\s]+:\d+$/.test(url), `controlPlane.externalEtcd.endpoints[${i}]`, url, "is not an https://host:port client URL", 'use e.g. "https://10.0.0.10:2379" (TLS is required)'),
  );
  for (const key of ["caFile", "certFile", "keyFile"] as const) {
    p.check(typeof etcd[key] === "string" && etcd[key].startsWith("/"), `controlPlane.externalEtcd.${key}`, etcd[key], "is not an absolute path on the control-plane nodes", 'use e.g. "/etc/kubernetes/pki/etcd/ca.crt"');
  }
}

function resolveNodePools(p: Problems, spec: ClusterSpec): ResolvedNodePool[] {
  const pools = spec.nodePools ?? [{ name: "default" }];
  const seen = new Set<string>();
  return pools.map((pool, i) => {
    const f = `nodePools[${i}]`;
    p.check(typeof pool.name === "string" && DNS_LABEL.test(pool.name) && pool.name.length <= 20, `${f}.name`, pool.name, "must be a DNS label of at most 20 characters", 'use e.g. "general" or "gpu"');
    p.check(!seen.has(pool.name), `${f}.name`, pool.name, "is used by another node pool", "give each pool a unique name");
    seen.add(pool.name);
    const minSize = pool.minSize ?? 1;
    const desiredSize = pool.desiredSize ?? minSize;
    const maxSize = pool.maxSize ?? Math.max(minSize, desiredSize, 3);
    p.check(Number.isInteger(minSize) && minSize >= 0, `${f}.minSize`, minSize, "must be a whole number >= 0", "use e.g. 1");
    p.check(Number.isInteger(maxSize) && maxSize >= 1 && maxSize <= 1000, `${f}.maxSize`, maxSize, "must be a whole number from 1 to 1000", "use e.g. 10");
    p.check(minSize <= maxSize, `${f}.minSize`, minSize, `is larger than maxSize ${maxSize}`, "make minSize <= desiredSize <= maxSize");
    p.check(desiredSize >= minSize && desiredSize <= maxSize, `${f}.desiredSize`, desiredSize, `is outside minSize..maxSize (${minSize}..${maxSize})`, "make minSize <= desiredSize <= maxSize");
    const maxPods = pool.maxPods ?? 110;
    p.check(Number.isInteger(maxPods) && maxPods >= 10 && maxPods <= 1000, `${f}.maxPods`, maxPods, "must be a whole number from 10 to 1000", "use 110 (the Kubernetes default)");
    const labels = pool.labels ?? {};
    const taints = pool.taints ?? [];
    const kubeletExtraArgs = pool.kubeletExtraArgs ?? {};
    checkLabels(p, `${f}.labels`, labels);
    checkTaints(p, `${f}.taints`, taints);
    checkExtraArgs(p, `${f}.kubeletExtraArgs`, kubeletExtraArgs);
    for (const owned of ["node-labels", "register-with-taints", "max-pods"]) {
      p.check(!(owned in kubeletExtraArgs), `${f}.kubeletExtraArgs["${owned}"]`, kubeletExtraArgs[owned], "is set from the pool's own fields", `use the pool's ${owned === "max-pods" ? "maxPods" : owned === "node-labels" ? "labels" : "taints"} field instead`);
    }
    return { name: pool.name, minSize, maxSize, desiredSize, labels, taints, kubeletExtraArgs, maxPods };
  });
}

/** Every node gets one node CIDR from the pod range; each must hold the node's max pods. */
function checkAddressCapacity(p: Problems, n: ResolvedCluster["networking"], replicas: number, pools: ResolvedNodePool[]): void {
  const pod = parseCidr(n.podCidr);
  if (typeof pod === "string" || n.nodeCidrMaskSize <= pod.prefix) return;
  const maxNodes = replicas + pools.reduce((sum, pool) => sum + pool.maxSize, 0);
  const nodeCidrs = cidrSize(pod) / 2 ** (32 - n.nodeCidrMaskSize);
  p.check(
    maxNodes <= nodeCidrs,
    "networking.podCidr",
    n.podCidr,
    `gives ${nodeCidrs} node ranges of /${n.nodeCidrMaskSize} but the cluster can grow to ${maxNodes} nodes (control plane + every pool's maxSize)`,
    "use a larger pod CIDR, a longer nodeCidrMaskSize, or smaller pool maxSize",
  );
  const perNode = 2 ** (32 - n.nodeCidrMaskSize) - 2;
  pools.forEach((pool, i) =>
    p.check(pool.maxPods <= perNode, `nodePools[${i}].maxPods`, pool.maxPods, `exceeds the ${perNode} pod addresses of a /${n.nodeCidrMaskSize} node range`, "lower maxPods or use a shorter networking.nodeCidrMaskSize"),
  );
}

function resolveCni(p: Problems, spec: ClusterSpec): ResolvedCni {
  const c = spec.cni ?? {};
  const plugin: CniPlugin = c.plugin ?? "calico";
  if (!p.check(["calico", "flannel", "cilium", "none"].includes(plugin), "cni.plugin", plugin, "is not a supported CNI", 'use "calico", "flannel", "cilium" or "none" (bring your own)')) {
    return { plugin: "none", version: "", manifestUrl: "", manifestSha256: "" };
  }
  if (plugin === "none") {
    p.check(c.manifestUrl === undefined && c.manifestSha256 === undefined, "cni.manifestUrl", c.manifestUrl, 'is set but cni.plugin is "none"', "remove the manifest override or choose a plugin");
    return { plugin, version: "", manifestUrl: "", manifestSha256: "" };
  }
  const pinned = PINNED_CNI[plugin];
  p.check(c.allowPlainHttp === undefined || c.manifestUrl !== undefined, "cni.allowPlainHttp", c.allowPlainHttp,
    "has no effect without cni.manifestUrl (the pinned manifests are https)", "remove it, or give the mirror's cni.manifestUrl and cni.manifestSha256");
  if (c.manifestUrl !== undefined || c.manifestSha256 !== undefined) {
    const scheme = c.allowPlainHttp === true ? /^https?:\/\/\S+$/ : /^https:\/\/\S+$/;
    p.check(c.manifestUrl !== undefined && scheme.test(c.manifestUrl), "cni.manifestUrl", c.manifestUrl,
      c.allowPlainHttp === true ? "must be an http(s) URL when overriding the pinned manifest" : "must be an https URL when overriding the pinned manifest",
      c.allowPlainHttp === true || !/^http:\/\//.test(c.manifestUrl ?? "")
        ? "give both cni.manifestUrl (https) and cni.manifestSha256"
        : "serve the manifest over https, or set cni.allowPlainHttp: true for a mirror without TLS (the checksum still pins it)");
    p.check(c.manifestSha256 !== undefined && /^[0-9a-f]{64}$/.test(c.manifestSha256), "cni.manifestSha256", c.manifestSha256, "must be the 64 lowercase hex digits of the manifest's sha256", "run `sha256sum` on the exact file the URL serves");
  }
  return {
    plugin,
    version: pinned.version,
    manifestUrl: c.manifestUrl ?? pinned.url,
    manifestSha256: c.manifestSha256 ?? pinned.sha256,
  };
}

function resolveKubeProxyMode(p: Problems, spec: ClusterSpec): KubeProxyMode {
  const mode = spec.kubeProxyMode ?? "iptables";
  p.check(["iptables", "ipvs", "nftables"].includes(mode), "kubeProxyMode", mode, "is not a kube-proxy mode", 'use "iptables", "ipvs" or "nftables"');
  return mode;
}

function resolveProxy(p: Problems, spec: ClusterSpec, n: ResolvedCluster["networking"], platform: PlatformNetwork): ResolvedCluster["proxy"] {
  const proxy = spec.proxy ?? {};
  for (const key of ["httpProxy", "httpsProxy"] as const) {
    const value = proxy[key];
    if (value !== undefined) p.check(isHttpUrl(value), `proxy.${key}`, value, "is not an http(s) URL", 'use e.g. "http://proxy.corp.example:3128"');
  }
  (proxy.noProxy ?? []).forEach((entry, i) =>
    p.check(/^[^\s,]+$/.test(entry), `proxy.noProxy[${i}]`, entry, "contains a space or comma", "give one host, domain or CIDR per entry"),
  );
  // The cluster's own traffic must never go through the proxy.
  const noProxy = [
    ...new Set([
      "localhost",
      "127.0.0.1",
      n.podCidr,
      n.serviceCidr,
      ...platform.nodeCidrs,
      n.dnsDomain,
      `.${n.dnsDomain}`,
      ".svc",
      ...(proxy.noProxy ?? []),
    ]),
  ];
  return { httpProxy: proxy.httpProxy, httpsProxy: proxy.httpsProxy, noProxy };
}

const RESERVED_PASSTHROUGH_KEYS = ["apiVersion", "kind"];

/** User fields pass through; fields the library owns may only repeat the library's value. */
function resolvePassthrough(
  p: Problems,
  field: string,
  given: Record<string, unknown> | undefined,
  owned: Record<string, { value: unknown; because: string }>,
): Record<string, unknown> {
  const value = given ?? {};
  for (const key of RESERVED_PASSTHROUGH_KEYS) {
    p.check(!(key in value), `${field}.${key}`, value[key], "is set by the library", `remove ${key}; only give the configuration's fields`);
  }
  const result: Record<string, unknown> = { ...value };
  for (const [key, { value: required, because }] of Object.entries(owned)) {
    if (key in value) {
      p.check(value[key] === required, `${field}.${key}`, value[key], `must be ${JSON.stringify(required)} because ${because}`, `remove ${key}`);
    }
    result[key] = required;
  }
  return result;
}

function resolvePki(p: Problems, spec: ClusterSpec): ResolvedCluster["pki"] {
  const pki = spec.pki ?? {};
  const keyAlgorithm = pki.keyAlgorithm ?? "ECDSA-P256";
  const caValidityHours = pki.caValidityHours ?? 87600;
  const certificateValidityHours = pki.certificateValidityHours ?? 8760;
  p.check(["ECDSA-P256", "RSA-2048"].includes(keyAlgorithm), "pki.keyAlgorithm", keyAlgorithm, "is not supported", 'use "ECDSA-P256" or "RSA-2048"');
  p.check(Number.isInteger(caValidityHours) && caValidityHours >= 24 * 365, "pki.caValidityHours", caValidityHours, "must be a whole number of hours, at least one year", "use 87600 (10 years)");
  p.check(Number.isInteger(certificateValidityHours) && certificateValidityHours >= 24 && certificateValidityHours < caValidityHours, "pki.certificateValidityHours", certificateValidityHours, "must be a whole number of hours from 24 up to (not including) the CA validity", "use 8760 (1 year)");
  return { keyAlgorithm, caValidityHours, certificateValidityHours };
}
