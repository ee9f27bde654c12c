/**
 * The bad-input corpus: specs a user might write from JSON, YAML, environment variables or
 * loops, on all three platforms. Each case runs twice where JSON can carry it: as a JavaScript
 * object and as the same spec parsed from JSON text (untyped). Each one must be refused with a
 * ClusterSpecError whose problem names the field path, carries the bad value and names a fix, and
 * nothing may have been created or written (no construct, no PKI store, no seed file).
 */
import * as fs from "fs";
import * as path from "path";
import type { SpecProblem } from "../src/bootstrap/validation-error";
import { AwsKubeadmCluster } from "../src/constructs/aws";
import { BaremetalKubeadmCluster } from "../src/constructs/baremetal";
import { GceKubeadmCluster } from "../src/constructs/gce";
import { nearestKey } from "../src/constructs/props-shape";
import { hosts3x2, NODE_CIDR, VIP } from "./support/baremetal-fixtures";
import { problemsWhenCreating, tempDir } from "./support/stack-json";

type Platform = "aws" | "gce" | "baremetal";
type Spec = Record<string, unknown>;

const work = tempDir("bad-input-");
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** A valid spec of each platform; cases change one thing. */
function base(platform: Platform): Spec {
  switch (platform) {
    case "aws":
      return { kubernetesVersion: "1.36.4", controlPlane: { replicas: 3, instanceType: "m7i.large" }, nodePools: [{ name: "general", instanceType: "m7i.xlarge", minSize: 2, maxSize: 10 }] };
    case "gce":
      return { project: "my-project-123", region: "europe-west4", kubernetesVersion: "1.36.4", controlPlane: { replicas: 3, machineType: "n2-standard-2" }, nodePools: [{ name: "general", machineType: "n2-standard-4", minSize: 2, maxSize: 10 }] };
    case "baremetal":
      return { name: "metal", kubernetesVersion: "1.36.4", hosts: hosts3x2(), nodeCidr: NODE_CIDR, apiEndpoint: { type: "kube-vip", address: VIP, interface: "eno1" }, ssh: { user: "ubuntu", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\n" } };
  }
}

/** Merges `change` into `spec`: objects merge, anything else (lists too) replaces; a key set to DELETE is removed. */
const DELETE = Symbol("delete");
function merge(spec: Spec, change: Spec): Spec {
  const result: Spec = { ...spec };
  for (const [key, value] of Object.entries(change)) {
    if (value === DELETE) delete result[key];
    else if (isObject(value) && isObject(result[key])) result[key] = merge(result[key] as Spec, value as Spec);
    else result[key] = value;
  }
  return result;
}
const isObject = (v: unknown): v is Spec => typeof v === "object" && v !== null && !Array.isArray(v);

/** [platform, what, change, field, bad value, fix pattern] */
type Case = [Platform, string, Spec, string, unknown, RegExp];

const every = (change: Spec, field: string, value: unknown, fix: RegExp, what: string): Case[] =>
  (["aws", "gce", "baremetal"] as const).map((platform) => [platform, what, change, field, value, fix]);

const host0 = (patch: Spec): Spec => ({ hosts: hosts3x2().map((h, i) => (i === 0 ? merge(h as unknown as Spec, patch) : h)) });
const worker = (patch: Spec): Spec => ({ hosts: hosts3x2().map((h, i) => (i === 3 ? merge(h as unknown as Spec, patch) : h)) });
const cloud = (change: Spec, field: string, value: unknown, fix: RegExp, what: string): Case[] => every(change, field, value, fix, what).filter(([platform]) => platform !== "baremetal");

const CASES: Case[] = [
  // --- unknown keys, with "did you mean" -------------------------------------------------------
  ...every({ kubernetes_version: "1.36.4" }, "kubernetes_version", "1.36.4", /rename it to kubernetesVersion/, "snake_case key"),
  ...every({ KubernetesVersion: "1.36.4" }, "KubernetesVersion", "1.36.4", /rename it to kubernetesVersion/, "key in another case"),
  ...every({ nodePool: [] }, "nodePool", [], /rename it to nodePools/, "singular for a plural"),
  ...every({ kubernetesVerison: "1.36.4" }, "kubernetesVerison", "1.36.4", /rename it to kubernetesVersion/, "typo"),
  ...every({ colour: "blue" }, "colour", "blue", /remove it; the fields are .*kubernetesVersion/, "unrelated key"),
  ...every({ networking: { podCIDR: "10.244.0.0/16" } }, "networking.podCIDR", "10.244.0.0/16", /rename it to podCidr/, "nested key in another case"),
  ...every({ cni: { plugins: "calico" } }, "cni.plugins", "calico", /rename it to plugin/, "plural for a singular"),
  ...every({ pki: { key_algorithm: "RSA-2048" } }, "pki.key_algorithm", "RSA-2048", /rename it to keyAlgorithm/, "nested snake_case"),
  ["aws", "pool key of another platform", { nodePools: [{ name: "general", machineType: "n2-standard-4" }] }, "nodePools[0].machineType", "n2-standard-4", /remove it/],
  ["gce", "pool key of another platform", { nodePools: [{ name: "general", instanceType: "m7i.large" }] }, "nodePools[0].instanceType", "m7i.large", /remove it/],
  ["aws", "control-plane typo", { controlPlane: { instancetype: "m7i.large" } }, "controlPlane.instancetype", "m7i.large", /rename it to instanceType/],
  ["gce", "control-plane snake_case", { controlPlane: { machine_type: "n2-standard-2" } }, "controlPlane.machine_type", "n2-standard-2", /rename it to machineType/],
  ["aws", "network key typo", { network: { vpcCIDR: "10.0.0.0/16" } }, "network.vpcCIDR", "10.0.0.0/16", /rename it to vpcCidr/],
  ["aws", "load balancer key typo", { apiLoadBalancer: { allowedCidr: ["203.0.113.0/24"] } }, "apiLoadBalancer.allowedCidr", ["203.0.113.0/24"], /rename it to allowedCidrs/],
  ["gce", "load balancer key of AWS", { apiLoadBalancer: { internetFacing: false } }, "apiLoadBalancer.internetFacing", false, /remove it/],
  ["aws", "secret store key typo", { secretStore: { kmsKeyARN: "x" } }, "secretStore.kmsKeyARN", "x", /rename it to kmsKeyArn/],
  ["baremetal", "host key typo", host0({ adress: "192.168.10.11" }), "hosts[0].adress", "192.168.10.11", /rename it to address/],
  ["baremetal", "host snake_case", host0({ internal_address: "10.0.0.1" }), "hosts[0].internal_address", "10.0.0.1", /rename it to internalAddress/],
  ["baremetal", "pool size on bare metal", { nodePools: [{ name: "general", maxSize: 5 }] }, "nodePools[0].maxSize", 5, /add or remove worker hosts/],
  ["baremetal", "ssh key typo", { ssh: { user: "ubuntu", privateKey: "k", privatekey: "k" } }, "ssh.privatekey", "k", /rename it to privateKey/],
  ["baremetal", "seed files typo", { seedFiles: { dir: "/tmp/x" } }, "seedFiles.dir", "/tmp/x", /remove it; the fields are/],
  // --- wrong types -------------------------------------------------------------------------------
  ...every({ kubernetesVersion: 1.36 }, "kubernetesVersion", 1.36, /text in quotes/, "number for a string"),
  ...cloud({ controlPlane: { replicas: "3" } }, "controlPlane.replicas", "3", /number without quotes/, "string for a number"),
  ["baremetal", "replicas on bare metal", { controlPlane: { replicas: 3 } }, "controlPlane.replicas", 3, /number of control-plane hosts/],
  ...every({ nodePools: { name: "general" } }, "nodePools", { name: "general" }, /give a list/, "object for a list"),
  ...every({ networking: "10.244.0.0/16" }, "networking", "10.244.0.0/16", /give an object/, "string for an object"),
  ...every({ networking: { podCidr: ["10.244.0.0/16"] } }, "networking.podCidr", ["10.244.0.0/16"], /text in quotes/, "list for a string"),
  ...every({ outputs: "false" }, "outputs", "false", /true or false without quotes/, "string for a boolean"),
  ...every({ outputs: 0 }, "outputs", 0, /true or false/, "number for a boolean"),
  ...every({ nodePools: ["general"] }, "nodePools[0]", "general", /give an object/, "string for a list element object"),
  ...every({ controlPlane: { taints: { key: "a", effect: "NoSchedule" } } }, "controlPlane.taints", { key: "a", effect: "NoSchedule" }, /give a list/, "one taint without a list"),
  ...every({ kubeadmTimeouts: ["5m"] }, "kubeadmTimeouts", ["5m"], /give an object/, "list for an object"),
  ...every({ registryMirrors: ["https://mirror.corp"] }, "registryMirrors", ["https://mirror.corp"], /give an object/, "list for a map"),
  ...every({ controlPlane: { apiServerPort: "6443" } }, "controlPlane.apiServerPort", "6443", /number without quotes/, "port from an environment variable"),
  ...every({ pki: { certificateValidityHours: "8760" } }, "pki.certificateValidityHours", "8760", /number/, "hours as text"),
  ...every({ name: null }, "name", null, /text in quotes/, "null for a string"),
  ["aws", "string for a boolean", { secretStore: { enabled: "false" } }, "secretStore.enabled", "false", /true or false without quotes/],
  ["aws", "string for a list of zones", { network: { availabilityZones: "eu-west-1a,eu-west-1b" } }, "network.availabilityZones", "eu-west-1a,eu-west-1b", /give a list/],
  ["aws", "pool size as text", { nodePools: [{ name: "general", maxSize: "10" }] }, "nodePools[0].maxSize", "10", /number without quotes/],
  ["aws", "drain timeout as text", { nodePools: [{ name: "general", drainTimeoutSeconds: "300" }] }, "nodePools[0].drainTimeoutSeconds", "300", /number without quotes/],
  ["aws", "drain timeout below the hook's", { nodePools: [{ name: "general", drainTimeoutSeconds: 10 }] }, "nodePools[0].drainTimeoutSeconds", 10, /use e\.g\. 300/],
  ["aws", "drain timeout past an hour", { nodePools: [{ name: "general", drainTimeoutSeconds: 7200 }] }, "nodePools[0].drainTimeoutSeconds", 7200, /use e\.g\. 300/],
  ["gce", "drain timeout past the shutdown script's time", { nodePools: [{ name: "general", drainTimeoutSeconds: 120 }] }, "nodePools[0].drainTimeoutSeconds", 120, /use 60/],
  ["gce", "Spot drain timeout past a Spot VM's 30 s", { nodePools: [{ name: "general", spot: true, drainTimeoutSeconds: 45 }] }, "nodePools[0].drainTimeoutSeconds", 45, /use 20/],
  ["gce", "drain timeout in fractions", { nodePools: [{ name: "general", drainTimeoutSeconds: 30.5 }] }, "nodePools[0].drainTimeoutSeconds", 30.5, /use 60/],
  ["baremetal", "drain timeout on bare metal (nothing terminates a host)", { nodePools: [{ name: "general", drainTimeoutSeconds: 60 }] }, "nodePools[0].drainTimeoutSeconds", 60, /remove it/],
  ["aws", "tags as a list", { tags: ["team=platform"] }, "tags", ["team=platform"], /give an object/],
  ["aws", "tag value as a number", { tags: { cost: 42 } }, "tags.cost", 42, /text in quotes/],
  ["aws", "root volume size as text", { controlPlane: { rootVolume: { sizeGiB: "100" } } }, "controlPlane.rootVolume.sizeGiB", "100", /number/],
  ["aws", "spot as a boolean", { nodePools: [{ name: "general", spot: true }] }, "nodePools[0].spot", true, /give an object/],
  ["aws", "IAM statements as one object", { nodePools: [{ name: "general", iam: { statements: { Effect: "Allow", Action: "s3:GetObject", Resource: "*" } } }] }, "nodePools[0].iam.statements", { Effect: "Allow", Action: "s3:GetObject", Resource: "*" }, /give a list/],
  ["gce", "zones as text", { controlPlane: { zones: "europe-west4-a" } }, "controlPlane.zones", "europe-west4-a", /give a list/],
  ["gce", "project as a number", { project: 123456 }, "project", 123456, /text in quotes/],
  ["gce", "autoscaling as a boolean", { nodePools: [{ name: "general", autoscaling: true }] }, "nodePools[0].autoscaling", true, /give an object/],
  ["gce", "boot disk size as text", { controlPlane: { bootDisk: { sizeGb: "50" } } }, "controlPlane.bootDisk.sizeGb", "50", /number/],
  ["gce", "labels as a list", { labels: ["team"] }, "labels", ["team"], /give an object/],
  ["baremetal", "hosts as one object", { hosts: { name: "cp-1" } }, "hosts", { name: "cp-1" }, /give a list/],
  ["baremetal", "host address as a number", host0({ address: 192 }), "hosts[0].address", 192, /text in quotes/],
  ["baremetal", "ssh port as text", { ssh: { user: "ubuntu", privateKey: "k", port: "22" } }, "ssh.port", "22", /number without quotes/],
  ["baremetal", "seed files enabled as text", { seedFiles: { enabled: "no" } }, "seedFiles.enabled", "no", /true or false/],
  ["baremetal", "a host's pool as a list", worker({ pool: ["gpu"] }), "hosts[3].pool", ["gpu"], /text in quotes/],
  // --- required fields ---------------------------------------------------------------------------
  ["baremetal", "no hosts", { hosts: DELETE }, "hosts", undefined, /set hosts/],
  ["baremetal", "a host without an address", host0({ address: DELETE }), "hosts[0].address", undefined, /set hosts\[0\]\.address/],
  ["baremetal", "a host without a role", worker({ role: DELETE }), "hosts[3].role", undefined, /set hosts\[3\]\.role/],
  ["aws", "a pool without a name", { nodePools: [{ instanceType: "m7i.large" }] }, "nodePools[0].name", undefined, /set nodePools\[0\]\.name/],
  ["aws", "a taint without an effect", { controlPlane: { taints: [{ key: "dedicated" }] } }, "controlPlane.taints[0].effect", undefined, /set/],
  ["gce", "no project", { project: DELETE }, "project", undefined, /set project/],
  ["aws", "an IAM statement without a Resource", { nodePools: [{ name: "general", iam: { statements: [{ Effect: "Allow", Action: "s3:GetObject" }] } }] }, "nodePools[0].iam.statements[0].Resource", undefined, /set/],
  // --- values JSON cannot carry (JavaScript objects only) ----------------------------------------
  ...cloud({ controlPlane: { replicas: NaN } }, "controlPlane.replicas", NaN, /give a number/, "NaN"),
  ["baremetal", "NaN", { controlPlane: { apiServerPort: NaN } }, "controlPlane.apiServerPort", NaN, /give a number/],
  ...every({ pki: { certificateValidityHours: Infinity } }, "pki.certificateValidityHours", Infinity, /give a number/, "Infinity"),
  ["aws", "NaN pool size (Number of a bad environment variable)", { nodePools: [{ name: "general", maxSize: Number("ten") }] }, "nodePools[0].maxSize", NaN, /NaN/],
  // --- valid types, bad values (the fields' own validators) --------------------------------------
  ...every({ kubernetesVersion: "1.36" }, "kubernetesVersion", "1.36", /e\.g\. "1\.36\.\d+"/, "no patch version"),
  ...every({ kubernetesVersion: "1.20.0" }, "kubernetesVersion", "1.20.0", /./, "unsupported version"),
  ...cloud({ controlPlane: { replicas: 2 } }, "controlPlane.replicas", 2, /1, 3 or 5|3/, "even replicas"),
  ["baremetal", "two control-plane hosts", { hosts: hosts3x2().filter((h) => h.name !== "cp-3") }, "hosts", "2 control-plane hosts", /1, 3 or 5|3/],
  ...every({ networking: { podCidr: "10.244.0.1/16" } }, "networking.podCidr", "10.244.0.1/16", /./, "host bits set"),
  ...every({ networking: { serviceCidr: "not-a-cidr" } }, "networking.serviceCidr", "not-a-cidr", /./, "not a CIDR"),
  ...every({ cni: { plugin: "weave" } }, "cni.plugin", "weave", /calico/, "unknown CNI"),
  ...every({ kubeProxyMode: "userspace" }, "kubeProxyMode", "userspace", /iptables/, "unknown proxy mode"),
  ...every({ bootstrapTokenTtl: "1 day" }, "bootstrapTokenTtl", "1 day", /24h/, "not a Go duration"),
  ...every({ kubeadmTimeouts: { apiCall: "5m" } }, "kubeadmTimeouts.apiCall", "5m", /the fields are .*kubernetesAPICall/, "unknown kubeadm timeout"),
  ...every({ kubeadmTimeouts: { kubernetesAPICall: "5 minutes" } }, "kubeadmTimeouts.kubernetesAPICall", "5 minutes", /5m/, "timeout not a duration"),
  ...every({ pkiDirectory: "~/pki" }, "pkiDirectory", "~/pki", /expand it yourself/, "unexpanded ~"),
  ...every({ pkiDirectory: "$HOME/pki" }, "pkiDirectory", "$HOME/pki", /expand/, "unexpanded $VAR"),
  ...every({ controlPlane: { apiServerPort: 70000 } }, "controlPlane.apiServerPort", 70000, /6443/, "port out of range"),
  ["aws", "VPC CIDR too large", { network: { vpcCidr: "10.0.0.0/8" } }, "network.vpcCidr", "10.0.0.0/8", /10\.0\.0\.0\/16/],
  ["aws", "zones of two regions", { network: { availabilityZones: ["eu-west-1a", "us-east-1b"] } }, "network.availabilityZones", ["eu-west-1a", "us-east-1b"], /one region/],
  ["aws", "a control plane below kubeadm's minimum", { controlPlane: { instanceType: "t3.micro" } }, "controlPlane.instanceType", "t3.micro", /m7i\.large/],
  ["aws", "a volume key id instead of an ARN", { controlPlane: { rootVolume: { kmsKeyId: "1234abcd-12ab-34cd-56ef-1234567890ab" } } }, "controlPlane.rootVolume.kmsKeyId", "1234abcd-12ab-34cd-56ef-1234567890ab", /arn:aws:kms/],
  ["aws", "a public API nobody may reach", { apiLoadBalancer: { allowedCidrs: [] } }, "apiLoadBalancer.allowedCidrs", [], /closedToClients/],
  ["aws", "an internal API open to all", { apiLoadBalancer: { internetFacing: false, allowedCidrs: ["0.0.0.0/0"] } }, "apiLoadBalancer.allowedCidrs[0]", "0.0.0.0/0", /10\.100\.0\.0\/16/],
  ["aws", "not an instance type", { nodePools: [{ name: "general", instanceType: "large" }] }, "nodePools[0].instanceType", "large", /m7i\.large/],
  ["aws", "a secret key alias", { secretStore: { kmsKeyArn: "alias/cluster" } }, "secretStore.kmsKeyArn", "alias/cluster", /key's ARN/],
  ["gce", "a control plane below kubeadm's minimum", { controlPlane: { machineType: "e2-small" } }, "controlPlane.machineType", "e2-small", /n2-standard-2/],
  ["gce", "not a region", { region: "Europe West" }, "region", "Europe West", /europe-west4/],
  ["gce", "a public API nobody may reach", { apiLoadBalancer: { allowedCidrs: [] } }, "apiLoadBalancer.allowedCidrs", [], /closedToClients/],
  ["gce", "not a machine type", { nodePools: [{ name: "general", machineType: "n2_standard_4" }] }, "nodePools[0].machineType", "n2_standard_4", /n2-standard-2/],
  ["gce", "not a project id", { project: "My Project" }, "project", "My Project", /project id/],
  ["baremetal", "an address outside the node network", host0({ address: "10.9.9.9" }), "hosts[0].address", "10.9.9.9", /./],
  ["baremetal", "two hosts of one name", { hosts: hosts3x2().map((h, i) => (i === 1 ? { ...h, name: "cp-1" } : h)) }, "hosts[1].name", "cp-1", /./],
  ["baremetal", "an unknown role", worker({ role: "master" }), "hosts[3].role", "master", /control-plane|worker/],
  ["baremetal", "no delivery at all", { ssh: DELETE, seedFiles: { enabled: false } }, "seedFiles.enabled", false, /set ssh/],
  ["baremetal", "a seed directory with $VAR", { seedFiles: { directory: "$HOME/seeds" } }, "seedFiles.directory", "$HOME/seeds", /expand/],
  ["baremetal", "a node CIDR with host bits", { nodeCidr: "192.168.10.1/24" }, "nodeCidr", "192.168.10.1/24", /./],
];

/** Builds the cluster in a fresh directory; returns its problems and that directory. */
function attempt(platform: Platform, spec: Spec): { problems: SpecProblem[]; dir: string } {
  const dir = fs.mkdtempSync(path.join(work, `${platform}-`));
  const dirs = { pkiDirectory: path.join(dir, "pki"), ...(platform === "baremetal" ? { seedFiles: { directory: path.join(dir, "seeds"), ...(spec.seedFiles as Spec | undefined) } } : {}) };
  // A case's own pkiDirectory stays (it is what the case is about).
  const props = { ...dirs, ...spec, ...(spec.pkiDirectory === undefined ? { pkiDirectory: dirs.pkiDirectory } : {}) } as never;
  const construct = { aws: AwsKubeadmCluster, gce: GceKubeadmCluster, baremetal: BaremetalKubeadmCluster }[platform] as unknown as new (scope: unknown, id: string, props: never) => unknown;
  const problems = problemsWhenCreating(platform, "prod", (stack) => new construct(stack, "prod", props));
  return { problems, dir };
}

const jsonSafe = (value: unknown): boolean => JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? (() => { throw new Error("not JSON"); })() : v)) !== undefined;
const safely = (f: () => boolean) => { try { return f(); } catch { return false; } };

const runs = CASES.flatMap(([platform, what, change, field, value, fix]) => {
  const spec = merge(base(platform), change);
  const typed = [`${platform}: ${what} (object)`, platform, spec, field, value, fix] as const;
  return safely(() => jsonSafe(spec)) ? [typed, [`${platform}: ${what} (from JSON)`, platform, JSON.parse(JSON.stringify(spec)) as Spec, field, value, fix] as const] : [typed];
});

test("the corpus has at least 100 bad inputs across the three platforms", () => {
  expect(CASES.length).toBeGreaterThanOrEqual(100);
  for (const platform of ["aws", "gce", "baremetal"]) expect(CASES.filter((c) => c[0] === platform).length).toBeGreaterThanOrEqual(30);
});

test.each(runs)("%s", (_name, platform, spec, field, value, fix) => {
  const { problems, dir } = attempt(platform, spec);
  const onField = problems.filter((p) => p.field === field);
  expect({ field, problems: problems.map((p) => `${p.field}: ${p.problem}`) }).toEqual({ field, problems: expect.arrayContaining([expect.stringContaining(`${field}: `)]) });
  const problem = onField[0];
  expect(problem.value).toEqual(value);
  expect(problem.fix.length).toBeGreaterThan(5);
  expect(`${problem.problem} | ${problem.fix}`).toMatch(fix);
  // Nothing was written: no store, no seeds, nothing else in the case's directory.
  expect(fs.readdirSync(dir)).toEqual([]);
});

test.each([
  ["nodepools", ["nodePools", "name"], "nodePools"],
  ["node_pools", ["nodePools"], "nodePools"],
  ["NodePools", ["nodePools"], "nodePools"],
  ["taint", ["taints"], "taints"],
  ["policies", ["policy"], "policy"],
  ["instnaceType", ["instanceType", "instanceTypes"], "instanceType"],
  ["zzz", ["zones"], undefined],
])("near miss %s of %j is %s", (key, known, expected) => {
  expect(nearestKey(key, known)).toBe(expected);
});
