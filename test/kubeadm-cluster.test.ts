import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AnnotationMetadataEntryType, App, LocalBackend, TerraformOutput, TerraformStack, TerraformVariable, Testing } from "cdktf";
import { KubeadmCluster } from "../src/constructs/kubeadm-cluster";
import { resolveCluster } from "../src/bootstrap/resolve-cluster";
import { USER_DATA_LIMITS } from "../src/bootstrap/user-data-budget";
import { decodeUserData, cloudInitSchema } from "./support/cloud-init-schema";
import { ENGINE_NAME, terraformOk } from "./support/terraform";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "kubeadm-cluster-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const spec = resolveCluster({ name: "neutral", controlPlane: { replicas: 3 }, nodePools: [{ name: "a" }, { name: "b" }] }, { platform: "test", nodeCidrs: ["10.0.0.0/16"] });

/** A stack whose API endpoint is only known at apply time (a variable), with user data as outputs. */
function build(outdir: string) {
  const app = new App({ outdir });
  const stack = new TerraformStack(app, "neutral");
  new LocalBackend(stack, { path: "terraform.tfstate" }); // relative: next to the synthesized stack, not in the working directory
  const host = new TerraformVariable(stack, "api_host", { type: "string", default: "api.neutral.example.com" });
  const cluster = new KubeadmCluster(stack, "cluster", {
    cluster: spec,
    controlPlaneEndpointHost: host.stringValue,
    userDataLimit: USER_DATA_LIMITS.aws,
    pkiDirectory: path.join(tmp, "pki"),
  });
  for (const role of cluster.roles()) {
    const id = role.kind === "control-plane" ? `cp${role.slot}` : `worker_${role.pool}`;
    new TerraformOutput(stack, id, { value: cluster.userDataBase64Gzip(role), sensitive: true });
  }
  return { app, stack, cluster };
}

describe("kube-proxy mode deprecation", () => {
  const warningsFor = (kubernetesVersion: string, kubeProxyMode: "ipvs" | "nftables") => {
    const resolved = resolveCluster({ name: "proxy", kubernetesVersion, kubeProxyMode }, { platform: "test", nodeCidrs: ["10.0.0.0/16"] });
    const stack = new TerraformStack(Testing.app(), "proxy");
    new KubeadmCluster(stack, "cluster", {
      cluster: resolved, controlPlaneEndpointHost: "api.example.com", userDataLimit: USER_DATA_LIMITS.aws,
      pkiDirectory: path.join(tmp, `proxy-${kubernetesVersion}-${kubeProxyMode}`), outputs: false,
    });
    return stack.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === AnnotationMetadataEntryType.WARN).map((m) => String(m.data)));
  };

  test.each([["1.35.4", "ipvs", 1], ["1.37.2", "ipvs", 1], ["1.34.4", "ipvs", 0], ["1.37.2", "nftables", 0]] as const)("%s with %s: %d warning(s)", (version, mode, count) => {
    const warnings = warningsFor(version, mode).filter((w) => /kubeProxyMode/.test(w));
    expect(warnings).toHaveLength(count);
    if (count) expect(warnings[0]).toMatch(/"ipvs" is deprecated since Kubernetes 1\.35.*use "nftables"/);
  });
});

describe("the pinned CNI's support statement", () => {
  const warningsFor = (kubernetesVersion: string, cni: Record<string, unknown>) => {
    const resolved = resolveCluster({ name: "cni", kubernetesVersion, cni }, { platform: "test", nodeCidrs: ["10.0.0.0/16"] });
    const stack = new TerraformStack(Testing.app(), "cni");
    new KubeadmCluster(stack, "cluster", {
      cluster: resolved, controlPlaneEndpointHost: "api.example.com", userDataLimit: USER_DATA_LIMITS.aws,
      pkiDirectory: path.join(tmp, `cni-${kubernetesVersion}-${JSON.stringify(cni).replace(/\W/g, "")}`), outputs: false,
    });
    return stack.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === AnnotationMetadataEntryType.WARN).map((m) => String(m.data)))
      .filter((w) => /cni\.plugin/.test(w));
  };
  const override = { manifestUrl: "https://mirror.corp/calico-3.33.0.yaml", manifestSha256: "1".repeat(63) + "2" };

  test.each([
    ["1.36.3", { plugin: "calico" }, 0],
    ["1.37.2", { plugin: "calico" }, 1],
    ["1.33.5", {}, 1], // calico is the default
    ["1.37.2", { plugin: "calico", ...override }, 0], // the user's own release
    ["1.37.2", { plugin: "flannel" }, 0],
    ["1.35.4", { plugin: "cilium" }, 0],
    ["1.36.3", { plugin: "cilium" }, 1],
    ["1.36.3", { plugin: "none" }, 0],
  ] as const)("Kubernetes %s with cni %j: %d warning(s)", (version, cni, count) => {
    const warnings = warningsFor(version, cni);
    expect(warnings).toHaveLength(count);
    if (count) {
      const minor = version.split(".").slice(0, 2).join(".");
      expect(warnings[0]).toMatch(new RegExp(`pinned \\w+ v?[\\d.]+ is supported on Kubernetes 1\\.\\d+-1\\.\\d+ \\(.+\\), not on ${minor.replace(".", "\\.")}\\..*cni\\.manifestUrl and cni\\.manifestSha256`));
    }
  });
});

describe("KubeadmCluster", () => {
  test("a role per control-plane slot and per pool, with stable node names", () => {
    const { cluster } = build(path.join(tmp, "roles"));
    expect(cluster.roles()).toEqual([
      { kind: "control-plane", slot: 0 },
      { kind: "control-plane", slot: 1 },
      { kind: "control-plane", slot: 2 },
      { kind: "worker", pool: "a" },
      { kind: "worker", pool: "b" },
    ]);
    expect(cluster.controlPlaneNodeName(2)).toBe("neutral-cp-2");
    expect(Object.keys(cluster.userDataSizes)).toEqual(["control-plane-0", "control-plane-1", "control-plane-2", "worker-a", "worker-b"]);
  });

  test("outputs: kubeconfig is sensitive, CA pin and expiry are exposed", () => {
    const { stack, cluster } = build(path.join(tmp, "outputs"));
    const json = JSON.parse(Testing.synth(stack));
    expect(json.output.neutral_admin_kubeconfig.sensitive).toBe(true);
    expect(json.output.neutral_ca_cert_hash.value).toBe(cluster.caCertHash);
    expect(cluster.caCertHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(new Date(cluster.certificateExpiry.ca).getTime()).toBeGreaterThan(Date.now() + 9 * 365 * 86400e3);
    // The admin key must not leak into a non-sensitive output.
    for (const [name, out] of Object.entries<{ value: unknown; sensitive?: boolean }>(json.output)) {
      if (!out.sensitive) expect(JSON.stringify(out.value)).not.toMatch(/PRIVATE KEY|client-key-data/);
      expect(name).toBeTruthy();
    }
  });

  test("too-small platform limit fails at synth naming the role", () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, "small");
    expect(() => new KubeadmCluster(stack, "c", { cluster: spec, controlPlaneEndpointHost: "x", userDataLimit: 1000, pkiDirectory: path.join(tmp, "pki") })).toThrow(/node role "control-plane-0" is \d+ bytes after gzip, over the platform limit of 1000 bytes/);
  });

  test("same inputs synthesize byte-identical output (PKI reused from the store)", () => {
    build(path.join(tmp, "s1")).app.synth();
    build(path.join(tmp, "s2")).app.synth();
    const a = fs.readFileSync(path.join(tmp, "s1/stacks/neutral/cdk.tf.json"), "utf8");
    const b = fs.readFileSync(path.join(tmp, "s2/stacks/neutral/cdk.tf.json"), "utf8");
    expect(a).toEqual(b);
  });

  test(`${ENGINE_NAME} resolves the endpoint into the user data at apply time`, () => {
    const out = path.join(tmp, "apply");
    const { cluster } = build(out);
    (cluster.node.root as App).synth();
    const dir = path.join(out, "stacks/neutral");
    terraformOk(dir, ["init", "-no-color"]);
    terraformOk(dir, ["apply", "-auto-approve", "-no-color", "-var", "api_host=lb-123.elb.example.com"]);
    const outputs = JSON.parse(terraformOk(dir, ["output", "-json"]));
    const cp1 = decodeUserData(outputs.cp1.value);
    expect(cp1).toContain("API_ENDPOINT='lb-123.elb.example.com:6443'");
    expect(cp1).toContain("apiServerEndpoint: lb-123.elb.example.com:6443");
    expect(cp1).not.toMatch(/TfToken|\$\{var\./);
    // The literal script (full of ${...} and quotes) survives Terraform untouched.
    const expected = cluster.cloudConfig({ kind: "control-plane", slot: 1 }).split(/\$\{TfToken\[[^\]]+\]\}/).join("lb-123.elb.example.com");
    expect(cp1).toEqual(expected);
    expect(cloudInitSchema(cp1).ok).toBe(true);
    expect(decodeUserData(outputs.worker_a.value)).not.toMatch(/PRIVATE KEY/);
  });
});

describe("two clusters in one app", () => {
  const add = (stack: TerraformStack, id: string, name: string, pkiDirectory?: string) => new KubeadmCluster(stack, id, {
    cluster: resolveCluster({ name }, { platform: "test", nodeCidrs: ["10.0.0.0/16"] }),
    controlPlaneEndpointHost: "api.example.com", userDataLimit: USER_DATA_LIMITS.aws, pkiDirectory: pkiDirectory ?? path.join(tmp, `twin-${id}`), outputs: false,
  });
  const thrown = (f: () => void): Error => { try { f(); } catch (e) { return e as Error; } throw new Error("did not throw"); };

  test("of one name are refused (even in two stacks), naming both and the fix, before the second writes anything", () => {
    const app = Testing.app();
    add(new TerraformStack(app, "one"), "a", "prod");
    const second = path.join(tmp, "twin-second");
    const e = thrown(() => add(new TerraformStack(app, "two"), "b", "prod", second));
    expect(e.message).toContain('name = "prod": is already the name of the cluster at one/a in this app: the two would share a PKI store and collide on cloud names. Fix: give each cluster its own name.');
    expect(fs.existsSync(second)).toBe(false);
  });

  test("sharing a PKI store are refused", () => {
    const stack = new TerraformStack(Testing.app(), "s");
    const shared = path.join(tmp, "twin-shared");
    add(stack, "a", "blue", shared);
    const e = thrown(() => add(stack, "b", "green", shared));
    expect(e.message).toContain(`pkiDirectory = "${shared}": is already the PKI store of cluster "blue" (s/a): the two would share CAs and join tokens. Fix: give each cluster its own pkiDirectory`);
  });

  test("of different names and stores are fine", () => {
    const stack = new TerraformStack(Testing.app(), "s");
    add(stack, "a", "blue");
    expect(() => add(stack, "b", "green")).not.toThrow();
  });
});

test("a PKI store path with ~ is refused before anything is written (AWS, GCE: the platform-neutral construct checks it)", () => {
  const stack = new TerraformStack(Testing.app(), "s");
  const cwdTilde = path.resolve("~");
  expect(() => new KubeadmCluster(stack, "c", {
    cluster: resolveCluster({ name: "home" }, { platform: "test", nodeCidrs: ["10.0.0.0/16"] }),
    controlPlaneEndpointHost: "api.example.com", userDataLimit: USER_DATA_LIMITS.aws, pkiDirectory: "~/pki", outputs: false,
  })).toThrow(/pkiDirectory = "~\/pki": holds a shell expansion .* Fix: expand it yourself, e\.g\. path\.join\(os\.homedir\(\), \.\.\.\)/);
  expect(fs.existsSync(cwdTilde)).toBe(false);
});

describe("the PKI store: written at synth only, announced when new, required on demand", () => {
  const make = (stack: TerraformStack, pkiDirectory: string, requireExistingPkiStore?: boolean, name = "store") => new KubeadmCluster(stack, "c", {
    cluster: resolveCluster({ name }, { platform: "test", nodeCidrs: ["10.0.0.0/16"] }),
    controlPlaneEndpointHost: "api.example.com", userDataLimit: USER_DATA_LIMITS.aws, pkiDirectory, outputs: false, requireExistingPkiStore,
  });
  const warnings = (stack: TerraformStack) => stack.node.findAll().flatMap((c) => c.node.metadata).filter((m) => m.type === AnnotationMetadataEntryType.WARN).map((m) => String(m.data));
  const withVariable = <T>(value: string | undefined, f: () => T): T => {
    const before = process.env.CDKTF_KUBEADM_REQUIRE_PKI_STORE;
    if (value === undefined) delete process.env.CDKTF_KUBEADM_REQUIRE_PKI_STORE;
    else process.env.CDKTF_KUBEADM_REQUIRE_PKI_STORE = value;
    try {
      return f();
    } finally {
      if (before === undefined) delete process.env.CDKTF_KUBEADM_REQUIRE_PKI_STORE;
      else process.env.CDKTF_KUBEADM_REQUIRE_PKI_STORE = before;
    }
  };

  test("a new store is written at synth, not when constructed, and the synth says where and to back it up", () => {
    const dir = path.join(tmp, "store-new");
    const stack = new TerraformStack(Testing.app(), "s");
    make(stack, dir);
    expect(fs.existsSync(dir)).toBe(false);
    expect(warnings(stack).join("\n")).toContain(`created a new PKI store for cluster "store" in ${dir}: its CAs and keys are the cluster's identity. Keep it and back it up`);
    Testing.synth(stack);
    expect(fs.statSync(path.join(dir, "ca.key")).mode & 0o777).toBe(0o600);
    const again = new TerraformStack(Testing.app(), "s");
    make(again, dir);
    expect(warnings(again).join("\n")).not.toContain("created a new PKI store");
  });

  test("a cluster refused later in the same app leaves the first cluster's new store unwritten", () => {
    const dir = path.join(tmp, "store-refused-app");
    const app = Testing.app();
    make(new TerraformStack(app, "one"), dir, undefined, "first");
    expect(() => make(new TerraformStack(app, "two"), path.join(tmp, "store-refused-other"), undefined, "first")).toThrow(/is already the name of the cluster/);
    expect(fs.existsSync(dir)).toBe(false);
  });

  test.each([
    ["requireExistingPkiStore", true, undefined, /requireExistingPkiStore forbids generating one/],
    ["CDKTF_KUBEADM_REQUIRE_PKI_STORE=1", undefined, "1", /CDKTF_KUBEADM_REQUIRE_PKI_STORE=1 forbids generating one/],
    ["CDKTF_KUBEADM_REQUIRE_PKI_STORE=true", undefined, "true", /CDKTF_KUBEADM_REQUIRE_PKI_STORE=true forbids/],
  ])("a missing store with %s is a ClusterSpecError naming pkiDirectory and the fix; nothing is written", (_, option, variable, message) => {
    const dir = path.join(tmp, `store-required-${String(variable ?? option)}`);
    const stack = new TerraformStack(Testing.app(), "s");
    const e = withVariable(variable, () => { try { make(stack, dir, option); } catch (error) { return error as Error; } throw new Error("accepted"); });
    expect(e.message).toMatch(/pkiDirectory = ".*store-required-.*": holds no PKI store/);
    expect(e.message).toMatch(message);
    expect(e.message).toContain(`Fix: restore the store from your backup into ${dir}`);
    expect(fs.existsSync(dir)).toBe(false);
  });

  test("the guard lets an existing store through; the variable set to 0, false or empty is off", () => {
    const dir = path.join(tmp, "store-existing");
    const first = new TerraformStack(Testing.app(), "s");
    withVariable("0", () => make(first, dir));
    Testing.synth(first);
    for (const value of ["1", "false", ""]) withVariable(value, () => expect(() => make(new TerraformStack(Testing.app(), "s"), dir, true)).not.toThrow());
    withVariable("false", () => expect(() => make(new TerraformStack(Testing.app(), "s"), path.join(tmp, "store-off"))).not.toThrow());
  });
});
