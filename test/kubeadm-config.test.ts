import * as yaml from "js-yaml";
import { renderInitConfig, renderJoinConfig, renderUpgradeConfig, KubeadmContext, POOL_LABEL, findPool } from "../src/bootstrap/kubeadm-config";
import { kubeadmPatchFiles } from "../src/bootstrap/kubeadm-patches";
import { resolveCluster } from "../src/bootstrap/resolve-cluster";
import fields from "./fixtures/kubeadm-v1beta4-fields.json";

type Types = Record<string, Record<string, string>>;
const V1BETA4 = (fields as unknown as { v1beta4: Types }).v1beta4;

/** Every key of `value` must be a json field of kubeadm's Go type `type` (recursively). */
function unknownKeys(value: unknown, type: string, at: string): string[] {
  const name = type.replace(/^(\[\])?\*?/, "").split(" ")[0];
  const spec = V1BETA4[name];
  if (!spec) return [];
  if (Array.isArray(value)) return value.flatMap((v, i) => unknownKeys(v, name, `${at}[${i}]`));
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) =>
    key in spec ? unknownKeys(child, spec[key], `${at}.${key}`) : [`${at}.${key} (not a field of ${name})`],
  );
}

const CTX: KubeadmContext = {
  controlPlaneEndpointHost: "api.prod.example.com",
  bootstrapToken: "abcdef.0123456789abcdef",
  caCertHash: `sha256:${"a".repeat(64)}`,
};

const cluster = resolveCluster(
  {
    name: "prod",
    kubernetesVersion: "1.36.4",
    controlPlane: {
      replicas: 3,
      certSans: ["10.0.0.100"],
      apiServerExtraArgs: { "audit-log-maxage": "30", "anonymous-auth": "true" },
      etcdExtraArgs: { "quota-backend-bytes": "8589934592" },
      taints: [{ key: "example.com/cp", effect: "NoExecute" }],
      labels: { "example.com/tier": "control" },
    },
    nodePools: [
      { name: "general", minSize: 2, maxSize: 10 },
      { name: "gpu", maxPods: 60, labels: { "example.com/gpu": "a100" }, taints: [{ key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" }], kubeletExtraArgs: { "image-gc-high-threshold": "70" } },
    ],
    kubeProxyMode: "nftables",
    imageRepository: "registry.corp.example/k8s",
    kubeletConfiguration: { serializeImagePulls: false },
  },
  { platform: "aws", nodeCidrs: ["10.0.0.0/16"] },
);

function docs(text: string): Array<Record<string, any>> {
  return yaml.loadAll(text) as Array<Record<string, any>>;
}

describe("InitConfiguration for control-plane slot 0", () => {
  const [init, clusterCfg, kubelet, proxy] = docs(renderInitConfig(cluster, 0, CTX));

  test("emits the four kinds with their API versions", () => {
    expect([init.kind, clusterCfg.kind, kubelet.kind, proxy.kind]).toEqual(["InitConfiguration", "ClusterConfiguration", "KubeletConfiguration", "KubeProxyConfiguration"]);
    expect(init.apiVersion).toBe("kubeadm.k8s.io/v1beta4");
    expect(clusterCfg.apiVersion).toBe("kubeadm.k8s.io/v1beta4");
    expect(kubelet.apiVersion).toBe("kubelet.config.k8s.io/v1beta1");
    expect(proxy.apiVersion).toBe("kubeproxy.config.k8s.io/v1alpha1");
  });

  test("every key is a field of kubeadm's v1beta4 types", () => {
    expect(unknownKeys(init, "InitConfiguration", "InitConfiguration")).toEqual([]);
    expect(unknownKeys(clusterCfg, "ClusterConfiguration", "ClusterConfiguration")).toEqual([]);
  });

  test("the key checker itself catches an unknown or v1beta3-shaped key", () => {
    expect(unknownKeys({ apiServer: { extraArgs: [{ name: "a", value: "b", bogus: 1 }] }, timeoutForControlPlane: "4m" }, "ClusterConfiguration", "C")).toEqual([
      "C.apiServer.extraArgs[0].bogus (not a field of Arg)",
      "C.timeoutForControlPlane (not a field of ClusterConfiguration)",
    ]);
  });

  test("cluster-wide settings", () => {
    expect(clusterCfg.kubernetesVersion).toBe("v1.36.4");
    expect(clusterCfg.controlPlaneEndpoint).toBe("api.prod.example.com:6443");
    expect(clusterCfg.imageRepository).toBe("registry.corp.example/k8s");
    expect(clusterCfg.encryptionAlgorithm).toBe("ECDSA-P256");
    expect(clusterCfg.networking).toEqual({ podSubnet: "10.244.0.0/16", serviceSubnet: "10.96.0.0/12", dnsDomain: "cluster.local" });
    expect(clusterCfg.apiServer.certSANs).toEqual(["api.prod.example.com", "10.0.0.100"]);
    expect(clusterCfg.etcd.local.extraArgs).toEqual([{ name: "quota-backend-bytes", value: "8589934592" }]);
    expect(clusterCfg.caCertificateValidityPeriod).toBe("87600h0m0s");
    expect(clusterCfg.certificateValidityPeriod).toBe("8760h0m0s");
  });

  test("extraArgs are v1beta4 lists of {name, value}, sorted for stable output", () => {
    expect(clusterCfg.apiServer.extraArgs).toEqual([
      { name: "anonymous-auth", value: "true" },
      { name: "audit-log-maxage", value: "30" },
    ]);
    expect(clusterCfg.controllerManager.extraArgs).toEqual([{ name: "node-cidr-mask-size", value: "24" }]);
  });

  test("bootstrap token and node registration", () => {
    expect(init.bootstrapTokens[0]).toMatchObject({ token: CTX.bootstrapToken, ttl: "0s", usages: ["signing", "authentication"], groups: ["system:bootstrappers:kubeadm:default-node-token"] });
    expect(init.nodeRegistration.name).toBe("prod-cp-0");
    expect(init.nodeRegistration.criSocket).toBe("unix:///var/run/containerd/containerd.sock");
    expect(init.nodeRegistration.taints).toEqual([
      { key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" },
      { key: "example.com/cp", effect: "NoExecute" },
    ]);
    expect(init.nodeRegistration.kubeletExtraArgs).toEqual([{ name: "node-labels", value: "example.com/tier=control" }]);
  });

  test("kubelet and kube-proxy configuration", () => {
    expect(kubelet).toMatchObject({ cgroupDriver: "systemd", serializeImagePulls: false });
    expect(proxy).toMatchObject({ mode: "nftables", clusterCIDR: "10.244.0.0/16" });
  });

  test("external etcd replaces the local block", () => {
    const ext = resolveCluster(
      { name: "prod", controlPlane: { externalEtcd: { endpoints: ["https://10.0.0.10:2379"], caFile: "/etc/etcd/ca.crt", certFile: "/etc/etcd/c.crt", keyFile: "/etc/etcd/c.key" } } },
      { platform: "aws", nodeCidrs: [] },
    );
    const c = docs(renderInitConfig(ext, 0, CTX))[1];
    expect(c.etcd).toEqual({ external: { endpoints: ["https://10.0.0.10:2379"], caFile: "/etc/etcd/ca.crt", certFile: "/etc/etcd/c.crt", keyFile: "/etc/etcd/c.key" } });
    expect(unknownKeys(c, "ClusterConfiguration", "C")).toEqual([]);
  });

  test("an endpoint that is a cdktf token survives YAML verbatim", () => {
    const token = "${TfToken[TOKEN.42]}";
    const text = renderInitConfig(cluster, 0, { ...CTX, controlPlaneEndpointHost: token });
    expect(text).toContain(`${token}:6443`);
    expect(docs(text)[1].controlPlaneEndpoint).toBe(`${token}:6443`);
  });
});

describe("JoinConfiguration", () => {
  test("other control-plane slots: controlPlane set, stable name, CA pinned, no certificate key", () => {
    const [join] = docs(renderJoinConfig(cluster, { kind: "control-plane", slot: 2 }, CTX));
    expect(unknownKeys(join, "JoinConfiguration", "JoinConfiguration")).toEqual([]);
    expect(join.controlPlane).toEqual({ localAPIEndpoint: { bindPort: 6443 } });
    expect(join.nodeRegistration.name).toBe("prod-cp-2");
    expect(join.discovery.bootstrapToken).toEqual({ apiServerEndpoint: "api.prod.example.com:6443", token: CTX.bootstrapToken, caCertHashes: [CTX.caCertHash] });
    expect(JSON.stringify(join)).not.toMatch(/certificateKey|unsafeSkipCAVerification/);
  });

  test("workers: pool labels, taints and kubelet flags, their kubelet patch; no controlPlane, no fixed name", () => {
    const [join] = docs(renderJoinConfig(cluster, { kind: "worker", pool: "gpu" }, CTX));
    expect(unknownKeys(join, "JoinConfiguration", "JoinConfiguration")).toEqual([]);
    expect(join.controlPlane).toBeUndefined();
    expect(join.nodeRegistration.name).toBeUndefined();
    expect(join.nodeRegistration.taints).toEqual([{ key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" }]);
    expect(join.nodeRegistration.kubeletExtraArgs).toEqual([
      { name: "image-gc-high-threshold", value: "70" },
      { name: "node-labels", value: `${POOL_LABEL}=gpu,example.com/gpu=a100` },
    ]);
    expect(join.patches).toEqual({ directory: "/etc/cdktf-kubeadm/patches" });
  });

  test("a pool's maxPods is a KubeletConfiguration field in the worker's kubelet patch, not the deprecated --max-pods flag", () => {
    expect(kubeadmPatchFiles(cluster, { kind: "worker", pool: "gpu" })).toEqual([
      { path: "/etc/cdktf-kubeadm/patches/kubeletconfiguration.json", content: '{"maxPods":60}\n' },
    ]);
    expect(kubeadmPatchFiles(cluster, { kind: "worker", pool: "general" })[0].content).toBe('{"maxPods":110}\n');
    // Control-plane nodes keep the cluster's KubeletConfiguration (and no patch directory unless patches are set).
    expect(kubeadmPatchFiles(cluster, { kind: "control-plane", slot: 0 })).toEqual([]);
    expect(renderJoinConfig(cluster, { kind: "worker", pool: "gpu" }, CTX)).not.toContain("max-pods");
  });

  test("the apiServerEndpoint stays on one line so the bootstrap can point it at a peer", () => {
    const text = renderJoinConfig(cluster, { kind: "control-plane", slot: 1 }, CTX);
    expect(text).toMatch(/^ {4}apiServerEndpoint: api\.prod\.example\.com:6443$/m);
  });

  test("unknown pool is a clear error", () => {
    expect(() => findPool(cluster, "nope")).toThrow('no node pool named "nope" (pools: general, gpu)');
  });
});

describe("kubeadmTimeouts", () => {
  const slow = resolveCluster({ name: "slow", kubeadmTimeouts: { tlsBootstrap: "10m", kubernetesAPICall: "5m" } }, { platform: "aws", nodeCidrs: ["10.0.0.0/16"] });

  test("go into InitConfiguration and every JoinConfiguration, in kubeadm's field order", () => {
    const [init] = docs(renderInitConfig(slow, 0, CTX));
    const [join] = docs(renderJoinConfig(slow, { kind: "worker", pool: "default" }, CTX));
    for (const [doc, kind] of [[init, "InitConfiguration"], [join, "JoinConfiguration"]] as const) {
      expect(unknownKeys(doc, kind, kind)).toEqual([]);
      expect(JSON.stringify(doc.timeouts)).toBe('{"kubernetesAPICall":"5m","tlsBootstrap":"10m"}');
    }
  });

  test("are left to kubeadm when none is set (no timeouts key at all)", () => {
    expect(renderInitConfig(cluster, 0, CTX)).not.toContain("timeouts");
    expect(renderJoinConfig(cluster, { kind: "worker", pool: "gpu" }, CTX)).not.toContain("timeouts");
    expect(renderUpgradeConfig(cluster, 0)).not.toContain("timeouts");
  });

  test("upgradeManifests goes only into the UpgradeConfiguration, with the others", () => {
    const upgrading = resolveCluster({ name: "slow", kubeadmTimeouts: { upgradeManifests: "20m", kubernetesAPICall: "5m" } }, { platform: "aws", nodeCidrs: ["10.0.0.0/16"] });
    const [upgrade] = docs(renderUpgradeConfig(upgrading, 1));
    expect(unknownKeys(upgrade, "UpgradeConfiguration", "UpgradeConfiguration")).toEqual([]);
    expect(upgrade).toEqual({ apiVersion: "kubeadm.k8s.io/v1beta4", kind: "UpgradeConfiguration", timeouts: { kubernetesAPICall: "5m", upgradeManifests: "20m" } });
    const [init] = docs(renderInitConfig(upgrading, 0, CTX));
    const [join] = docs(renderJoinConfig(upgrading, { kind: "control-plane", slot: 1 }, CTX));
    expect(init.timeouts).toEqual({ kubernetesAPICall: "5m" });
    expect(join.timeouts).toEqual({ kubernetesAPICall: "5m" });
  });
});

describe("kubeadmPatches", () => {
  const livenessPatch = { spec: { containers: [{ name: "kube-apiserver", livenessProbe: { failureThreshold: 16, timeoutSeconds: 30 } }] } };
  const patched = resolveCluster(
    { name: "patched", kubeadmPatches: { kubeletConfiguration: { imageGCHighThresholdPercent: 90 }, kubeApiServer: livenessPatch } },
    { platform: "aws", nodeCidrs: ["10.0.0.0/16"] },
  );
  const controlPlaneOnly = resolveCluster({ name: "cp-only", kubeadmPatches: { kubeScheduler: { spec: { priority: 1 } } } }, { platform: "aws", nodeCidrs: ["10.0.0.0/16"] });

  test("are kept in kubeadm's target order under kubeadm's target names", () => {
    expect(Object.keys(patched.kubeadmPatches)).toEqual(["kube-apiserver", "kubeletconfiguration"]);
    expect(patched.kubeadmPatches["kube-apiserver"]).toEqual(livenessPatch);
  });

  test("put patches.directory into InitConfiguration and every JoinConfiguration that has a patch file", () => {
    const [init] = docs(renderInitConfig(patched, 0, CTX));
    const [controlPlaneJoin] = docs(renderJoinConfig(patched, { kind: "control-plane", slot: 1 }, CTX));
    const [workerJoin] = docs(renderJoinConfig(patched, { kind: "worker", pool: "default" }, CTX));
    for (const [doc, kind] of [[init, "InitConfiguration"], [controlPlaneJoin, "JoinConfiguration"], [workerJoin, "JoinConfiguration"]] as const) {
      expect(unknownKeys(doc, kind, kind)).toEqual([]);
      expect(doc.patches).toEqual({ directory: "/etc/cdktf-kubeadm/patches" });
    }
  });

  test("reach both upgrade commands through the UpgradeConfiguration (kubeadm rewrites the static Pod manifests)", () => {
    const [upgrade] = docs(renderUpgradeConfig(patched, 0));
    expect(unknownKeys(upgrade, "UpgradeConfiguration", "UpgradeConfiguration")).toEqual([]);
    expect(upgrade.apply).toEqual({ patches: { directory: "/etc/cdktf-kubeadm/patches" } });
    expect(upgrade.node).toEqual({ patches: { directory: "/etc/cdktf-kubeadm/patches" } });
  });

  test("control-plane targets stay on control-plane nodes; a worker's kubelet patch adds its pool's maxPods to the user's", () => {
    expect(kubeadmPatchFiles(controlPlaneOnly, { kind: "worker", pool: "default" }).map((f) => f.content)).toEqual(['{"maxPods":110}\n']);
    expect(kubeadmPatchFiles(controlPlaneOnly, { kind: "control-plane", slot: 2 }).map((f) => f.path)).toEqual(["/etc/cdktf-kubeadm/patches/kube-scheduler.json"]);
    expect(kubeadmPatchFiles(patched, { kind: "worker", pool: "default" }).map((f) => f.content)).toEqual(['{"imageGCHighThresholdPercent":90,"maxPods":110}\n']);
  });

  test("control-plane nodes get no patches field when none is set (kubeadm fails on a missing directory)", () => {
    expect(renderInitConfig(cluster, 0, CTX)).not.toContain("patches");
    expect(renderJoinConfig(cluster, { kind: "control-plane", slot: 1 }, CTX)).not.toContain("patches");
    expect(renderUpgradeConfig(cluster, 1)).not.toContain("patches");
  });
});
