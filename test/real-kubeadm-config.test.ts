/**
 * Real kubeadm judges every kubeadm config the examples and the reference cluster synthesize, for
 * every role, on AWS, GCE and bare metal: `kubeadm config validate` (strict decoding: an unknown
 * or misspelled field is an error) with the oldest, the default and the newest minor built here,
 * and `kubeadm init --dry-run` on each platform's first control-plane node, which defaults,
 * validates and renders everything init would write. A warning counts as a failure.
 */
import * as fs from "fs";
import * as path from "path";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import { resolveCluster } from "../src/bootstrap/resolve-cluster";
import { KubeadmCluster } from "../src/constructs/kubeadm-cluster";
import {
  exampleRoles, KUBERNETES_NEXT_VERSION, KUBERNETES_OLDEST_VERSION, KUBERNETES_TEST_VERSION, kubernetesCommand,
  outcome, RESOLVED_ENDPOINT_HOST, resolveTokens, RoleConfigs, roleConfigs, run, stackFor,
} from "./support/kubernetes";
import { NodeNamespace } from "./support/node-namespace";
import { tempDir } from "./support/stack-json";

/** Patches for every static Pod kubeadm writes, the kubelet's config and CoreDNS: each leaves a mark to look for. */
const REFERENCE_PATCHES = {
  etcd: { metadata: { annotations: { "example.com/patched": "etcd" } } },
  kubeApiServer: { spec: { containers: [{ name: "kube-apiserver", livenessProbe: { failureThreshold: 23, timeoutSeconds: 37 } }] } },
  kubeControllerManager: { metadata: { annotations: { "example.com/patched": "kube-controller-manager" } } },
  kubeScheduler: { metadata: { annotations: { "example.com/patched": "kube-scheduler" } } },
  kubeletConfiguration: { imageGCHighThresholdPercent: 83 },
  corednsDeployment: { metadata: { annotations: { "example.com/patched": "coredns" } } },
};

/** A cluster that uses every knob that reaches a kubeadm config. */
function referenceRoles(version: string, workDir: string): RoleConfigs[] {
  let cluster!: KubeadmCluster;
  stackFor(workDir, (stack) => {
    const resolved = resolveCluster(
      {
        name: "reference",
        kubernetesVersion: version,
        networking: { podCidr: "10.32.0.0/13", serviceCidr: "10.100.0.0/16", dnsDomain: "k8s.internal", nodeCidrMaskSize: 25 },
        controlPlane: {
          replicas: 3,
          certSans: ["k8s.example.com", "10.0.0.100"],
          apiServerExtraArgs: { "audit-log-maxage": "30", "profiling": "false" },
          controllerManagerExtraArgs: { "terminated-pod-gc-threshold": "100" },
          schedulerExtraArgs: { "profiling": "false" },
          etcdExtraArgs: { "quota-backend-bytes": "8589934592" },
          labels: { "example.com/role": "control-plane" },
          taints: [{ key: "example.com/dedicated", value: "control-plane", effect: "NoExecute" }],
        },
        nodePools: [
          { name: "general", minSize: 2, maxSize: 20, labels: { "example.com/tier": "general" }, kubeletExtraArgs: { "v": "2" } },
          { name: "gpu", maxSize: 4, maxPods: 32, taints: [{ key: "nvidia.com/gpu", effect: "NoSchedule" }] },
        ],
        kubeProxyMode: "nftables",
        kubeletConfiguration: { serializeImagePulls: false, maxPods: 64 },
        pki: { keyAlgorithm: "RSA-2048", certificateValidityHours: 4380 },
        bootstrapTokenTtl: "48h",
        kubeadmTimeouts: { controlPlaneComponentHealthCheck: "8m", kubeletHealthCheck: "6m", kubernetesAPICall: "5m", etcdAPICall: "3m", tlsBootstrap: "10m", discovery: "7m30s", upgradeManifests: "20m" },
        kubeadmPatches: REFERENCE_PATCHES,
      },
      { platform: "test", nodeCidrs: ["10.0.0.0/16"] },
    );
    cluster = new KubeadmCluster(stack, "reference", {
      cluster: resolved,
      controlPlaneEndpointHost: RESOLVED_ENDPOINT_HOST,
      userDataLimit: 1 << 20,
      upgradeChannel: { kind: "file" },
      pkiDirectory: path.join(workDir, "pki-reference"),
      outputs: false,
    });
  });
  return cluster.roles().map((role) => roleConfigs("reference", cluster, role));
}

interface ConfigFile {
  readonly label: string;
  readonly file: string;
}

function writeConfigs(roles: RoleConfigs[], dir: string): ConfigFile[] {
  fs.mkdirSync(dir, { recursive: true });
  return roles.flatMap((r) => {
    const configs: [string, string | undefined][] = [["init", r.initConfig], ["join", r.joinConfig], ["upgrade", r.upgradeConfig]];
    return configs.filter((c): c is [string, string] => c[1] !== undefined).map(([kind, content]) => {
      const label = `${r.platform} ${r.name} ${kind}`;
      const file = path.join(dir, `${label.replace(/ /g, "-")}.yaml`);
      fs.writeFileSync(file, content, { mode: 0o600 });
      return { label, file };
    });
  });
}

/** kubeadm's verdict, as one line per config: "ok" or what it said. */
function validate(version: string, configs: ConfigFile[]): string[] {
  const kubeadm = kubernetesCommand(version, "kubeadm");
  return configs.map(({ label, file }) => {
    const r = run(kubeadm, ["config", "validate", "--config", file]);
    const said = r.output.trim().replace(/\s+/g, " ");
    return `${label}: ${r.code === 0 && said === "ok" ? "ok" : `exit ${r.code}: ${said}`}`;
  });
}

const work = tempDir("real-kubeadm-config-");
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe.each([KUBERNETES_TEST_VERSION, KUBERNETES_OLDEST_VERSION, KUBERNETES_NEXT_VERSION])("kubeadm %s config validate", (version) => {
  const roles = [...exampleRoles(version, path.join(work, version)), ...referenceRoles(version, path.join(work, version))];
  const configs = writeConfigs(roles, path.join(work, version, "configs"));

  test("accepts every config of every role on AWS, GCE, bare metal and the reference cluster", () => {
    // 3 examples x (3 control-plane slots x 3 configs + 1 pool) + reference (3 x 3 + 2 pools)
    expect(configs).toHaveLength(3 * 10 + 11);
    expect(configs.filter((c) => c.label.endsWith(" upgrade"))).toHaveLength(12);
    const verdicts = validate(version, configs);
    expect(verdicts.filter((v) => !v.endsWith(": ok"))).toEqual([]);
  });

  test("containerd's sandbox image (SANDBOX_IMAGE) is the pause image kubeadm uses", () => {
    const controlPlane = roles.filter((r) => r.initConfig);
    const mismatches = controlPlane.flatMap((r) => {
      const file = configs.find((c) => c.label === `${r.platform} ${r.name} init`)!.file;
      const images = run(kubernetesCommand(version, "kubeadm"), ["config", "images", "list", "--config", file]);
      expect(outcome(images)).toBe("exit 0");
      const pause = images.stdout.split("\n").find((l) => /\/pause:/.test(l));
      const sandbox = /^SANDBOX_IMAGE='([^']*)'$/m.exec(r.files[NODE_LAYOUT.settings])?.[1];
      return pause === sandbox ? [] : [`${r.platform} ${r.name}: SANDBOX_IMAGE ${sandbox}, kubeadm ${pause}`];
    });
    expect(mismatches).toEqual([]);
  });
});

describe("kubeadm init --dry-run", () => {
  const version = KUBERNETES_TEST_VERSION;
  /** Platform -> what the dry run printed. */
  const dryRunOutput: Record<string, string> = {};
  const roles = [...exampleRoles(version, path.join(work, "dry-run")), ...referenceRoles(version, path.join(work, "dry-run"))]
    .filter((r) => r.role.kind === "control-plane" && r.role.slot === 0);
  let node: NodeNamespace;
  beforeAll(() => {
    node = NodeNamespace.create({ hosts: { [RESOLVED_ENDPOINT_HOST]: "10.0.0.10" } });
  });
  afterAll(() => {
    node?.stop();
    node?.remove();
  });

  test.each(roles.map((r) => [r.platform, r] as const))("%s control-plane-0: renders the whole init without a warning", (_platform, role) => {
    const config = "/etc/cdktf-kubeadm/kubeadm-init.yaml";
    node.writeFile(config, role.initConfig!, 0o600);
    node.clear("/etc/kubernetes");
    fs.rmSync(node.hostPath(NODE_LAYOUT.patchesDir), { recursive: true, force: true });
    for (const [file, content] of Object.entries(role.files)) if (file.startsWith(`${NODE_LAYOUT.patchesDir}/`)) node.writeFile(file, content, 0o644);
    for (const [file, { content, mode }] of Object.entries(role.pki)) node.writeFile(file, content, mode);
    // Preflight checks this machine (no kubelet, no containerd), not the config: skipped.
    const r = node.exec(kubernetesCommand(version, "kubeadm"), ["init", "--dry-run", "--skip-phases=preflight", "--config", config], { timeoutMs: 120_000 });
    expect(outcome(r)).toBe("exit 0");
    const warnings = r.output.split("\n").filter((l) => /^W\d{4} |\[WARNING/.test(l) && !/Using dry-run directory/.test(l));
    expect(warnings).toEqual([]);
    expect(r.stdout).toContain("Your Kubernetes control-plane has initialized successfully!");
    // What the nodes will join with is what we synthesized.
    expect(r.stdout).toContain(`--discovery-token-ca-cert-hash ${role.cluster.caCertHash}`);
    const endpoint = resolveTokens(role.cluster.apiEndpoint).replace("https://", "");
    expect(r.stdout).toContain(`kubeadm join ${endpoint} --token ${role.cluster.pki.bootstrapToken}`);
    dryRunOutput[role.platform] = r.stdout;
  });

  test("the reference cluster's kubeadm patches reach every manifest and config kubeadm writes", () => {
    const applied = (output: string) =>
      [...new Set([...output.matchAll(/\[patches\] Applied patch of type "application\/strategic-merge-patch\+json" to target "([a-z-]+)"/g)].map((m) => m[1]))].sort();
    const output = dryRunOutput.reference;
    expect(output).toBeDefined();
    expect(applied(output)).toEqual(["corednsdeployment", "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubeletconfiguration"]);
    expect(output).toMatch(/failureThreshold: 23\n/);
    expect(output).toMatch(/timeoutSeconds: 37\n/);
    expect(output).toMatch(/imageGCHighThresholdPercent: 83\n/);
    for (const target of ["etcd", "kube-controller-manager", "kube-scheduler", "coredns"]) expect(output).toContain(`example.com/patched: ${target}\n`);
    // The examples set no patches: kubeadm applies only its own per-node kubelet patch (instance config).
    for (const platform of Object.keys(dryRunOutput).filter((p) => p !== "reference")) {
      expect({ platform, applied: applied(dryRunOutput[platform]) }).toEqual({ platform, applied: ["kubeletconfiguration"] });
      expect(dryRunOutput[platform]).not.toContain("example.com/patched");
    }
  });
});

describe("a deliberately broken config", () => {
  const version = KUBERNETES_TEST_VERSION;
  const [init] = exampleRoles(version, path.join(work, "broken"));

  test("an unknown field fails validation, naming the field", () => {
    const broken = init.initConfig!.replace(/^clusterName: (.*)$/m, "clusterName: $1\napiServerExtraArgs: {}");
    expect(broken).not.toBe(init.initConfig);
    const [verdict] = validate(version, writeConfigs([{ ...init, initConfig: broken, joinConfig: undefined as unknown as string }], path.join(work, "broken", "configs")));
    expect(verdict).toMatch(/exit 1: .*strict decoding error: unknown field "apiServerExtraArgs"/);
  });

  test("a map where v1beta4 wants a list of {name, value} (v1beta3's extraArgs) fails validation", () => {
    const broken = init.initConfig!.replace(/^controllerManager:\n  extraArgs:\n(    .*\n)+/m, "controllerManager:\n  extraArgs:\n    node-cidr-mask-size: '24'\n");
    expect(broken).not.toBe(init.initConfig);
    const [verdict] = validate(version, writeConfigs([{ ...init, initConfig: broken, joinConfig: undefined as unknown as string }], path.join(work, "broken", "configs-map")));
    expect(verdict).toMatch(/exit 1: .*extraArgs/);
  });
});
