import { DEFAULT_KUBERNETES_VERSION } from "../src/bootstrap/catalog";
import { resolveCluster } from "../src/bootstrap/resolve-cluster";
import type { ClusterSpec, PlatformNetwork } from "../src/bootstrap/spec";
import { ClusterSpecError } from "../src/bootstrap/validation-error";

const NET: PlatformNetwork = { platform: "aws", nodeCidrs: ["10.0.0.0/16"] };

function problems(spec: Partial<ClusterSpec>, net: PlatformNetwork = NET): string {
  try {
    resolveCluster({ name: "prod", ...spec } as ClusterSpec, net);
  } catch (e) {
    expect(e).toBeInstanceOf(ClusterSpecError);
    return (e as Error).message;
  }
  throw new Error("expected the spec to be rejected");
}

describe("resolveCluster defaults", () => {
  const c = resolveCluster({ name: "prod" }, NET);
  test("fills every default", () => {
    expect(c.kubernetesVersion).toBe(DEFAULT_KUBERNETES_VERSION);
    expect(c.networking).toEqual({ podCidr: "10.244.0.0/16", serviceCidr: "10.96.0.0/12", dnsDomain: "cluster.local", nodeCidrMaskSize: 24 });
    expect(c.controlPlane.replicas).toBe(1);
    expect(c.controlPlane.apiServerPort).toBe(6443);
    expect(c.nodePools).toEqual([expect.objectContaining({ name: "default", minSize: 1, desiredSize: 1, maxSize: 3, maxPods: 110 })]);
    expect(c.cni.plugin).toBe("calico");
    expect(c.cni.manifestSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(c.kubeProxyMode).toBe("iptables");
    expect(c.kubeletConfiguration.cgroupDriver).toBe("systemd");
    expect(c.pki.keyAlgorithm).toBe("ECDSA-P256");
    expect(c.bootstrapTokenTtl).toBe("0s");
  });
  test("package repository is per minor version", () => {
    const r = resolveCluster({ name: "prod", kubernetesVersion: "1.35.2" }, NET);
    expect(r.packageRepositoryUrl).toBe("https://pkgs.k8s.io/core:/stable:/v1.35/deb/");
    expect(r.kubernetesMinor).toBe("1.35");
    const mirror = resolveCluster({ name: "prod", kubernetesVersion: "1.35.2", packageRepositoryBaseUrl: "https://mirror.corp/k8s/" }, NET);
    expect(mirror.packageRepositoryUrl).toBe("https://mirror.corp/k8s/v1.35/deb/");
  });
  test("containerd comes from Docker's repository unless a mirror is given", () => {
    expect(resolveCluster({ name: "prod" }, NET).containerdRepositoryUrl).toBe("https://download.docker.com/linux");
    const mirror = resolveCluster({ name: "prod", containerdRepositoryUrl: "https://mirror.corp/docker/linux//" }, NET);
    expect(mirror.containerdRepositoryUrl).toBe("https://mirror.corp/docker/linux");
  });
  test("NO_PROXY always covers the cluster's own ranges and domain", () => {
    const r = resolveCluster({ name: "prod", proxy: { httpsProxy: "http://proxy.corp:3128", noProxy: [".corp"] } }, NET);
    expect(r.proxy.noProxy).toEqual(expect.arrayContaining(["10.244.0.0/16", "10.96.0.0/12", "10.0.0.0/16", "cluster.local", ".cluster.local", ".svc", "localhost", "127.0.0.1", ".corp"]));
  });
  test("passthrough merges user fields and keeps owned ones", () => {
    const r = resolveCluster({ name: "prod", kubeProxyMode: "ipvs", kubeletConfiguration: { serializeImagePulls: false }, kubeProxyConfiguration: { ipvs: { scheduler: "lc" } } }, NET);
    expect(r.kubeletConfiguration).toEqual({ serializeImagePulls: false, cgroupDriver: "systemd" });
    expect(r.kubeProxyConfiguration).toEqual({ ipvs: { scheduler: "lc" }, mode: "ipvs" });
  });
  test("a valid external etcd and a CNI override are accepted", () => {
    const r = resolveCluster({
      name: "prod",
      controlPlane: { replicas: 3, externalEtcd: { endpoints: ["https://10.0.0.10:2379"], caFile: "/etc/etcd/ca.crt", certFile: "/etc/etcd/c.crt", keyFile: "/etc/etcd/c.key" } },
      cni: { plugin: "flannel", manifestUrl: "https://mirror.corp/flannel.yml", manifestSha256: "a".repeat(64) },
    }, NET);
    expect(r.cni.manifestUrl).toBe("https://mirror.corp/flannel.yml");
    const lab = resolveCluster({ name: "lab", cni: { plugin: "flannel", manifestUrl: "http://10.0.0.1:8080/kube-flannel.yml", manifestSha256: "a".repeat(64), allowPlainHttp: true } }, NET);
    expect(lab.cni.manifestUrl).toBe("http://10.0.0.1:8080/kube-flannel.yml");
    expect(r.controlPlane.externalEtcd?.endpoints).toHaveLength(1);
  });
});

// Each row: a bad spec, the field the error must name, and words of the explanation.
const BAD: Array<[string, Partial<ClusterSpec>, string, RegExp]> = [
  ["uppercase name", { name: "Prod" }, "name", /DNS label/],
  ["name too long", { name: "a".repeat(41) }, "name", /at most 40/],
  ["name starting with a digit", { name: "1prod" }, "name", /starting with a letter/],
  ["minor version only", { kubernetesVersion: "1.36" }, "kubernetesVersion", /full patch version/],
  ["too old", { kubernetesVersion: "1.30.4" }, "kubernetesVersion", /supported range/],
  ["too new", { kubernetesVersion: "1.40.0" }, "kubernetesVersion", /supported range/],
  ["pod CIDR not a CIDR", { networking: { podCidr: "10.244.0.0" } }, "networking.podCidr", /a\.b\.c\.d\/n/],
  ["pod CIDR host bits", { networking: { podCidr: "10.244.1.0/16" } }, "networking.podCidr", /host bits set \(the network is 10\.244\.0\.0\/16\)/],
  ["pod CIDR bad octet", { networking: { podCidr: "10.300.0.0/16" } }, "networking.podCidr", /invalid IPv4/],
  ["prefix above 32", { networking: { serviceCidr: "10.96.0.0/33" } }, "networking.serviceCidr", /above 32/],
  ["service CIDR too large", { networking: { serviceCidr: "10.96.0.0/11" } }, "networking.serviceCidr", /at most \/12/],
  ["pod and service overlap", { networking: { podCidr: "10.96.0.0/16", serviceCidr: "10.96.0.0/12" } }, "networking.serviceCidr", /overlaps the pod CIDR/],
  ["pod overlaps node network", { networking: { podCidr: "10.0.0.0/16" } }, "networking.podCidr", /overlaps the aws node network 10\.0\.0\.0\/16/],
  ["bad dns domain", { networking: { dnsDomain: "Cluster_Local" } }, "networking.dnsDomain", /not a DNS name/],
  ["node mask out of range", { networking: { nodeCidrMaskSize: 30 } }, "networking.nodeCidrMaskSize", /16 to 28/],
  ["node mask shorter than pod prefix", { networking: { podCidr: "10.244.0.0/24", nodeCidrMaskSize: 24 } }, "networking.nodeCidrMaskSize", /longer than the pod CIDR prefix/],
  ["not enough node ranges", { networking: { podCidr: "10.244.0.0/22" }, nodePools: [{ name: "big", maxSize: 10 }] }, "networking.podCidr", /4 node ranges of \/24 but the cluster can grow to 11 nodes/],
  ["max pods over node range", { networking: { nodeCidrMaskSize: 26 }, nodePools: [{ name: "dense", maxPods: 110 }] }, "nodePools[0].maxPods", /62 pod addresses/],
  ["even replicas", { controlPlane: { replicas: 2 } }, "controlPlane.replicas", /1, 3 or 5/],
  ["API port collides with etcd", { controlPlane: { apiServerPort: 2379 } }, "controlPlane.apiServerPort", /collides/],
  ["API port out of range", { controlPlane: { apiServerPort: 70000 } }, "controlPlane.apiServerPort", /not a TCP port/],
  ["bad cert SAN", { controlPlane: { certSans: ["api example.com"] } }, "controlPlane.certSans[0]", /neither an IPv4 address nor a DNS name/],
  ["external etcd over http", { controlPlane: { externalEtcd: { endpoints: ["http://10.0.0.10:2379"], caFile: "/a", certFile: "/b", keyFile: "/c" } } }, "controlPlane.externalEtcd.endpoints[0]", /https/],
  ["external etcd relative path", { controlPlane: { externalEtcd: { endpoints: ["https://10.0.0.10:2379"], caFile: "ca.crt", certFile: "/b", keyFile: "/c" } } }, "controlPlane.externalEtcd.caFile", /absolute path/],
  ["external etcd without endpoints", { controlPlane: { externalEtcd: { endpoints: [], caFile: "/a", certFile: "/b", keyFile: "/c" } } }, "controlPlane.externalEtcd.endpoints", /is empty/],
  ["etcd args with external etcd", { controlPlane: { etcdExtraArgs: { "quota-backend-bytes": "1" }, externalEtcd: { endpoints: ["https://10.0.0.10:2379"], caFile: "/a", certFile: "/b", keyFile: "/c" } } }, "controlPlane.etcdExtraArgs", /no effect/],
  ["extra arg with dashes", { controlPlane: { apiServerExtraArgs: { "--audit-log-maxage": "30" } } }, 'controlPlane.apiServerExtraArgs["--audit-log-maxage"]', /without leading dashes/],
  ["duplicate pool", { nodePools: [{ name: "a" }, { name: "a" }] }, "nodePools[1].name", /unique/],
  ["bad pool name", { nodePools: [{ name: "GPU_pool" }] }, "nodePools[0].name", /DNS label/],
  ["min above max", { nodePools: [{ name: "a", minSize: 5, maxSize: 2 }] }, "nodePools[0].minSize", /larger than maxSize 2/],
  ["desired outside range", { nodePools: [{ name: "a", minSize: 1, maxSize: 3, desiredSize: 4 }] }, "nodePools[0].desiredSize", /outside minSize\.\.maxSize/],
  ["negative min", { nodePools: [{ name: "a", minSize: -1 }] }, "nodePools[0].minSize", /whole number >= 0/],
  ["max pods too small", { nodePools: [{ name: "a", maxPods: 5 }] }, "nodePools[0].maxPods", /10 to 1000/],
  ["node-role label", { nodePools: [{ name: "a", labels: { "node-role.kubernetes.io/worker": "" } }] }, 'nodePools[0].labels["node-role.kubernetes.io/worker"]', /kubelet may not set/],
  ["bad label value", { nodePools: [{ name: "a", labels: { team: "a b" } }] }, 'nodePools[0].labels["team"]', /not a valid label value/],
  ["bad taint effect", { nodePools: [{ name: "a", taints: [{ key: "gpu", effect: "NoWay" as never }] }] }, "nodePools[0].taints[0].effect", /NoSchedule, PreferNoSchedule or NoExecute/],
  ["bad taint key", { nodePools: [{ name: "a", taints: [{ key: "-gpu", effect: "NoSchedule" }] }] }, "nodePools[0].taints[0].key", /not a valid taint key/],
  ["pool flag owned by a field", { nodePools: [{ name: "a", kubeletExtraArgs: { "max-pods": "50" } }] }, 'nodePools[0].kubeletExtraArgs["max-pods"]', /maxPods field/],
  ["unknown CNI", { cni: { plugin: "weave" as never } }, "cni.plugin", /calico.*flannel.*cilium.*none/],
  ["CNI URL without checksum", { cni: { plugin: "calico", manifestUrl: "https://mirror/calico.yaml" } }, "cni.manifestSha256", /64 lowercase hex/],
  ["CNI URL over http", { cni: { plugin: "calico", manifestUrl: "http://mirror/calico.yaml", manifestSha256: "b".repeat(64) } }, "cni.manifestUrl", /https URL.*cni\.allowPlainHttp: true/],
  ["CNI URL of another scheme, even with allowPlainHttp", { cni: { plugin: "calico", manifestUrl: "ftp://mirror/calico.yaml", manifestSha256: "b".repeat(64), allowPlainHttp: true } }, "cni.manifestUrl", /http\(s\) URL/],
  ["unknown kubeadm timeout", { kubeadmTimeouts: { imagePull: "5m" } as never }, "kubeadmTimeouts.imagePull", /not a kubeadm timeout.*kubernetesAPICall.*upgradeManifests/],
  ["kubeadm timeout not a duration", { kubeadmTimeouts: { kubernetesAPICall: "5 minutes" } }, "kubeadmTimeouts.kubernetesAPICall", /Go duration from 1s to 2h/],
  ["kubeadm timeout too long", { kubeadmTimeouts: { discovery: "3h" } }, "kubeadmTimeouts.discovery", /from 1s to 2h/],
  ["kubeadm timeout zero", { kubeadmTimeouts: { tlsBootstrap: "0s" } }, "kubeadmTimeouts.tlsBootstrap", /from 1s to 2h/],
  ["unknown kubeadm patch target", { kubeadmPatches: { kubeProxy: { spec: {} } } as never }, "kubeadmPatches.kubeProxy", /not a kubeadm patch target.*kubeApiServer/],
  ["kubeadm patch that is a list", { kubeadmPatches: { kubeApiServer: [{ op: "add" }] as never } }, "kubeadmPatches.kubeApiServer", /non-empty object \(a strategic merge patch\)/],
  ["kubeadm patch that is empty", { kubeadmPatches: { kubeScheduler: {} } }, "kubeadmPatches.kubeScheduler", /non-empty object/],
  ["kubeadm patch with NaN", { kubeadmPatches: { kubeApiServer: { spec: { priority: NaN } } } }, "kubeadmPatches.kubeApiServer", /kubeadmPatches\.kubeApiServer\.spec\.priority is NaN, which JSON cannot carry/],
  ["kubeadm patch with a function", { kubeadmPatches: { etcd: { spec: { f: () => 1 } } } }, "kubeadmPatches.etcd", /spec\.f is a function/],
  ["maxPods in the kubelet patch", { kubeadmPatches: { kubeletConfiguration: { maxPods: 50 } } }, "kubeadmPatches.kubeletConfiguration.maxPods", /set per node pool.*nodePools\[\]\.maxPods/],
  ["kubeadm patches not an object", { kubeadmPatches: "kube-apiserver.yaml" as never }, "kubeadmPatches", /not an object/],
  ["etcd patch with external etcd", { controlPlane: { externalEtcd: { endpoints: ["https://10.0.0.5:2379"], caFile: "/etc/etcd/ca.crt", certFile: "/etc/etcd/c.crt", keyFile: "/etc/etcd/c.key" } }, kubeadmPatches: { etcd: { spec: { priority: 1 } } } }, "kubeadmPatches.etcd", /no effect with an external etcd/],
  ["CNI allowPlainHttp without a manifest", { cni: { plugin: "calico", allowPlainHttp: true } }, "cni.allowPlainHttp", /no effect without cni\.manifestUrl/],
  ["CNI override with none", { cni: { plugin: "none", manifestUrl: "https://x/y.yaml" } }, "cni.manifestUrl", /plugin is "none"/],
  ["unknown proxy mode", { kubeProxyMode: "userspace" as never }, "kubeProxyMode", /iptables.*ipvs.*nftables/],
  ["proxy mode contradiction", { kubeProxyMode: "ipvs", kubeProxyConfiguration: { mode: "iptables" } }, "kubeProxyConfiguration.mode", /must be "ipvs"/],
  ["cgroupfs driver", { kubeletConfiguration: { cgroupDriver: "cgroupfs" } }, "kubeletConfiguration.cgroupDriver", /systemd cgroups/],
  ["kind in passthrough", { kubeletConfiguration: { kind: "KubeletConfiguration" } }, "kubeletConfiguration.kind", /set by the library/],
  ["image repository with scheme", { imageRepository: "https://registry.corp" }, "imageRepository", /no scheme/],
  ["package repository not a URL", { packageRepositoryBaseUrl: "pkgs.k8s.io" }, "packageRepositoryBaseUrl", /http\(s\) URL/],
  ["containerd repository not a URL", { containerdRepositoryUrl: "download.docker.com/linux" }, "containerdRepositoryUrl", /http\(s\) URL/],
  ["containerd repository with a quote", { containerdRepositoryUrl: "https://mirror.corp/it's" }, "containerdRepositoryUrl", /http\(s\) URL/],
  ["containerd repository over ftp", { containerdRepositoryUrl: "ftp://mirror.corp/docker" }, "containerdRepositoryUrl", /http\(s\) URL/],
  ["proxy not a URL", { proxy: { httpProxy: "proxy:3128" } }, "proxy.httpProxy", /http\(s\) URL/],
  ["no-proxy entry with comma", { proxy: { noProxy: ["a,b"] } }, "proxy.noProxy[0]", /comma/],
  ["CA validity too short", { pki: { caValidityHours: 100 } }, "pki.caValidityHours", /at least one year/],
  ["leaf outlives CA", { pki: { caValidityHours: 8760, certificateValidityHours: 9000 } }, "pki.certificateValidityHours", /CA validity/],
  ["unknown key algorithm", { pki: { keyAlgorithm: "DSA" as never } }, "pki.keyAlgorithm", /ECDSA-P256/],
  ["token TTL not a duration", { bootstrapTokenTtl: "1 day" }, "bootstrapTokenTtl", /Go duration/],
];

describe("resolveCluster rejects bad input with the field, the value and the fix", () => {
  test.each(BAD)("%s", (_label, spec, field, explanation) => {
    const message = problems(spec);
    const line = message.split("\n").find((l) => l.startsWith(`  - ${field} = `));
    expect(line).toBeDefined();
    expect(line).toMatch(explanation);
    expect(line).toMatch(/ Fix: .+\.$/);
  });

  test("an invalid node network from the platform is named", () => {
    expect(problems({}, { platform: "gce", nodeCidrs: ["10.0.0.0/99"] })).toContain("gce node network [0]");
  });

  test("all problems are reported at once", () => {
    const message = problems({ name: "Bad", controlPlane: { replicas: 4 }, kubeProxyMode: "x" as never });
    expect(message).toMatch(/\(3 problems\)/);
  });
});
