/**
 * Every GCE validation path: a bad prop is reported as a ClusterSpecError problem (field, value,
 * problem, fix) before any construct exists, together with the cluster model's own problems. Plus
 * the uncompressed user-data budget of GCE metadata.
 */
import * as fs from "fs";
import { roleName } from "../src/bootstrap/spec";
import type { SpecProblem } from "../src/bootstrap/validation-error";
import { GceKubeadmClusterProps, gceUserData, GceUserDataTooLargeError } from "../src/constructs/gce";
import { baseProps, build, problemsOf, tempDir } from "./support/gce-fixtures";

const pki = tempDir("gce-validation-");
afterAll(() => fs.rmSync(pki, { recursive: true, force: true }));

function props(overrides: Partial<GceKubeadmClusterProps>): GceKubeadmClusterProps {
  return baseProps(pki, overrides);
}

function fields(problems: SpecProblem[]): string[] {
  return problems.map((p) => p.field);
}

/** Exactly one problem, on `field`, with a non-empty fix naming what to do. */
function expectOnly(problems: SpecProblem[], field: string, problem?: RegExp): void {
  expect(fields(problems)).toEqual([field]);
  expect(problems[0].fix.length).toBeGreaterThan(3);
  if (problem) expect(problems[0].problem).toMatch(problem);
}

const pool = (o: Record<string, unknown>) => [{ name: "general", minSize: 2, maxSize: 10, ...o }];
const existing = (o: Record<string, unknown> = {}) => ({
  existing: {
    network: "projects/my-project-123/global/networks/prod",
    subnetwork: "projects/my-project-123/regions/europe-west4/subnetworks/nodes",
    subnetCidrs: ["10.20.0.0/20"],
    ...o,
  },
});

test("the base props are accepted", () => {
  expect(() => problemsOf(props({}))).toThrow(/accepted/);
});

describe("identity", () => {
  test("an invalid construct id without name is reported", () => {
    expectOnly(problemsOf(props({}), "Prod_Cluster"), "name", /construct id "Prod_Cluster"/);
  });
  test.each(["My_Project", "abc", "1project-abc", "project-ending-", "a".repeat(31)])("project %s", (project) => {
    expectOnly(problemsOf(props({ project })), "project", /project id/);
  });
  test.each(["europe", "Europe-West4", "europe-west", "us-central1-a"])("region %s", (region) => {
    expectOnly(problemsOf(props({ region })), "region", /region/);
  });
  test("missing project and region are both reported", () => {
    const problems = problemsOf({ pkiDirectory: pki } as unknown as GceKubeadmClusterProps);
    expect(fields(problems)).toEqual(expect.arrayContaining(["project", "region"]));
  });
});

describe("zones", () => {
  test("control-plane zones outside the region, malformed, duplicated, too many", () => {
    expectOnly(problemsOf(props({ controlPlane: { replicas: 3, zones: ["us-central1-a"] } })), "controlPlane.zones[0]", /not in region europe-west4/);
    expectOnly(problemsOf(props({ controlPlane: { replicas: 3, zones: ["europe-west4-a", "west4"] } })), "controlPlane.zones[1]", /not a zone/);
    expectOnly(problemsOf(props({ controlPlane: { replicas: 3, zones: ["europe-west4-a", "europe-west4-a"] } })), "controlPlane.zones", /twice/);
    expectOnly(problemsOf(props({ controlPlane: { replicas: 3, zones: [] } })), "controlPlane.zones", /1 to 4/);
  });
  test("pool zones", () => {
    expectOnly(problemsOf(props({ nodePools: pool({ zones: ["europe-west1-b"] }) })), "nodePools[0].zones[0]", /not in region/);
  });
});

describe("managed network", () => {
  test.each([
    ["10.0.0.0/8", /12 to \/24/],
    ["10.0.0.0/26", /12 to \/24/],
    ["10.0.0.1/20", /host bits/],
    ["nope", /a\.b\.c\.d\/n/],
  ])("subnetCidr %s", (subnetCidr, problem) => {
    expectOnly(problemsOf(props({ network: { subnetCidr } })), "network.subnetCidr", problem);
  });
  test("mtu and NAT address count", () => {
    expectOnly(problemsOf(props({ network: { mtu: 9000 } })), "network.mtu");
    expectOnly(problemsOf(props({ network: { natAddressCount: 0 } })), "network.natAddressCount");
    expectOnly(problemsOf(props({ network: { natAddressCount: 1.5 } })), "network.natAddressCount");
  });
  test("a subnet overlapping the pod or service range is reported by the cluster model", () => {
    expect(fields(problemsOf(props({ network: { subnetCidr: "10.244.0.0/20" } })))).toEqual(["networking.podCidr"]);
    expect(fields(problemsOf(props({ network: { subnetCidr: "10.96.0.0/20" } })))).toEqual(["networking.serviceCidr"]);
  });
});

describe("existing network", () => {
  test("accepted with literal control-plane addresses", () => {
    expect(() => problemsOf(props({ network: existing({ controlPlaneAddresses: ["10.20.0.10", "10.20.0.11", "10.20.0.12"] }) }))).toThrow(/accepted/);
  });
  test("network, subnetwork and ranges are required", () => {
    expect(fields(problemsOf(props({ network: { existing: { network: "", subnetwork: "", subnetCidrs: [] } } })))).toEqual([
      "network.existing.network",
      "network.existing.subnetwork",
      "network.existing.subnetCidrs",
    ]);
    expectOnly(problemsOf(props({ network: existing({ subnetCidrs: ["10.20.0.0/33"] }) })), "network.existing.subnetCidrs[0]");
  });
  test("control-plane addresses: count, outside the subnet, reserved by GCE, duplicates, not an address", () => {
    expectOnly(problemsOf(props({ network: existing({ controlPlaneAddresses: ["10.20.0.10"] }) })), "network.existing.controlPlaneAddresses", /3 control-plane replicas/);
    expectOnly(problemsOf(props({ network: existing({ controlPlaneAddresses: ["10.20.0.10", "10.20.0.11", "10.99.0.12"] }) })), "network.existing.controlPlaneAddresses[2]", /outside the subnetwork/);
    expectOnly(problemsOf(props({ network: existing({ controlPlaneAddresses: ["10.20.0.1", "10.20.0.11", "10.20.0.12"] }) })), "network.existing.controlPlaneAddresses[0]", /reserves/);
    expectOnly(problemsOf(props({ network: existing({ controlPlaneAddresses: ["10.20.0.10", "10.20.0.10", "10.20.0.12"] }) })), "network.existing.controlPlaneAddresses", /twice/);
    expectOnly(problemsOf(props({ network: existing({ controlPlaneAddresses: ["10.20.0.10", "host", "10.20.0.12"] }) })), "network.existing.controlPlaneAddresses[1]", /IPv4/);
  });
});

describe("API load balancer", () => {
  test("bad allowed CIDRs", () => {
    expectOnly(problemsOf(props({ apiLoadBalancer: { allowedCidrs: ["203.0.113.1/24"] } })), "apiLoadBalancer.allowedCidrs[0]", /host bits/);
  });
  test("an external load balancer nobody may reach: refused unless closedToClients", () => {
    const problems = problemsOf(props({ apiLoadBalancer: { allowedCidrs: [] } }));
    expectOnly(problems, "apiLoadBalancer.allowedCidrs", /no client/);
    expect(problems[0].fix).toMatch(/closedToClients/);
    expect(() => problemsOf(props({ apiLoadBalancer: { closedToClients: true } }))).toThrow(/accepted/);
    expectOnly(problemsOf(props({ apiLoadBalancer: { closedToClients: true, allowedCidrs: ["0.0.0.0/0"] } })), "apiLoadBalancer.closedToClients", /lets clients in/);
    expectOnly(problemsOf(props({ apiLoadBalancer: { external: false, closedToClients: true } })), "apiLoadBalancer.closedToClients", /internal/);
  });
  test("an internal load balancer open to everything", () => {
    expectOnly(problemsOf(props({ apiLoadBalancer: { external: false, allowedCidrs: ["0.0.0.0/0"] } })), "apiLoadBalancer.allowedCidrs[0]", /every address/);
  });
  test("internal address: only for internal, inside the subnet, not a slot's address", () => {
    expectOnly(problemsOf(props({ apiLoadBalancer: { internalAddress: "10.0.0.5" } })), "apiLoadBalancer.internalAddress", /external/);
    expectOnly(problemsOf(props({ apiLoadBalancer: { external: false, internalAddress: "10.9.0.5" } })), "apiLoadBalancer.internalAddress", /outside/);
    expectOnly(problemsOf(props({ apiLoadBalancer: { external: false, internalAddress: "10.0.0.11" } })), "apiLoadBalancer.internalAddress", /slot/);
  });
});

describe("machines", () => {
  test.each(["N2-standard-2", "n2_standard_2", "large"])("machine type %s", (machineType) => {
    expectOnly(problemsOf(props({ controlPlane: { replicas: 3, machineType } })), "controlPlane.machineType", /machine type/);
    expectOnly(problemsOf(props({ nodePools: pool({ machineType }) })), "nodePools[0].machineType", /machine type/);
  });
  test("a control plane below kubeadm's minimum", () => {
    expectOnly(problemsOf(props({ controlPlane: { replicas: 3, machineType: "e2-small" } })), "controlPlane.machineType", /2 vCPU/);
  });
  test("boot disk size and type; Hyperdisk-only series", () => {
    expectOnly(problemsOf(props({ controlPlane: { replicas: 3, bootDisk: { sizeGb: 10 } } })), "controlPlane.bootDisk.sizeGb");
    expectOnly(problemsOf(props({ nodePools: pool({ bootDisk: { type: "ssd" } }) })), "nodePools[0].bootDisk.type");
    expectOnly(problemsOf(props({ nodePools: pool({ machineType: "n4-standard-4", bootDisk: { type: "pd-balanced" } }) })), "nodePools[0].bootDisk.type", /Hyperdisk only/);
    // Defaults to hyperdisk-balanced there.
    expect(() => problemsOf(props({ nodePools: pool({ machineType: "c4-standard-4" }) }))).toThrow(/accepted/);
  });
  test("images", () => {
    expectOnly(problemsOf(props({ image: { image: "ubuntu-24.04" } })), "image.image", /image/);
    expectOnly(problemsOf(props({ nodePools: pool({ image: "https://example.com/image" }) })), "nodePools[0].image");
    expect(() => problemsOf(props({ image: { image: "projects/my-project-123/global/images/golden-2404" } }))).toThrow(/accepted/);
  });
  test("cilium on Arm: the pinned cilium-cli has an arm64 build, an overridden one is taken as amd64", () => {
    const arm = { replicas: 3, machineType: "t2a-standard-4" };
    expect(() => problemsOf(props({ cni: { plugin: "cilium" }, controlPlane: arm, nodePools: pool({ machineType: "t2a-standard-4" }) }))).toThrow(/accepted/);
    const custom = { plugin: "cilium" as const, manifestUrl: "https://mirror.example.com/cilium-linux-amd64.tar.gz", manifestSha256: "a".repeat(64) };
    expectOnly(problemsOf(props({ cni: custom, controlPlane: arm })), "controlPlane.machineType", /overridden cilium-cli/);
    expect(() => problemsOf(props({ cni: custom, nodePools: pool({ machineType: "t2a-standard-4" }) }))).toThrow(/accepted/);
  });
});

describe("service accounts", () => {
  test("never the default compute account", () => {
    expectOnly(problemsOf(props({ controlPlane: { replicas: 3, serviceAccount: { email: "123456789-compute@developer.gserviceaccount.com" } } })), "controlPlane.serviceAccount.email", /default compute/);
  });
  test("email, roles, scopes", () => {
    expectOnly(problemsOf(props({ nodePools: pool({ serviceAccount: { email: "nodes" } }) })), "nodePools[0].serviceAccount.email");
    expectOnly(problemsOf(props({ nodePools: pool({ serviceAccount: { roles: ["editor"] } }) })), "nodePools[0].serviceAccount.roles[0]");
    expectOnly(problemsOf(props({ nodePools: pool({ serviceAccount: { email: "k8s-nodes@my-project-123.iam.gserviceaccount.com", roles: ["roles/viewer"] } }) })), "nodePools[0].serviceAccount.roles", /existing account/);
    expectOnly(problemsOf(props({ nodePools: pool({ serviceAccount: { scopes: [] } }) })), "nodePools[0].serviceAccount.scopes");
  });
});

describe("pools", () => {
  test("spot termination action", () => {
    expectOnly(problemsOf(props({ nodePools: pool({ spot: { terminationAction: "HIBERNATE" } }) })), "nodePools[0].spot.terminationAction");
  });
  test("Compute Engine autoscaling", () => {
    expectOnly(problemsOf(props({ nodePools: pool({ autoscaling: { cpuTarget: 1.5 } }) })), "nodePools[0].autoscaling.cpuTarget");
    expectOnly(problemsOf(props({ nodePools: pool({ autoscaling: { cooldownSeconds: 5 } }) })), "nodePools[0].autoscaling.cooldownSeconds");
    expectOnly(problemsOf(props({ nodePools: pool({ minSize: 3, maxSize: 3, autoscaling: {} }) })), "nodePools[0].autoscaling", /fixed size/);
  });
  test("max surge below the zone count (GCE rule for regional groups)", () => {
    expectOnly(problemsOf(props({ nodePools: pool({ maxSurge: 2 }) })), "nodePools[0].maxSurge", /3 zones/);
    expectOnly(problemsOf(props({ nodePools: pool({ zones: ["europe-west4-a", "europe-west4-b", "europe-west4-c", "europe-west4-d"], maxSurge: 3 }) })), "nodePools[0].maxSurge", /4 zones/);
  });
  test("the cluster model's pool problems come through", () => {
    expect(fields(problemsOf(props({ nodePools: pool({ name: "General" }) })))).toEqual(["nodePools[0].name"]);
  });
});

describe("tags and labels", () => {
  test("network tags", () => {
    expectOnly(problemsOf(props({ tags: ["Allow SSH"] })), "tags[0]");
    expectOnly(problemsOf(props({ tags: ["prod-worker"] })), "tags[0]", /construct sets/);
    expectOnly(problemsOf(props({ tags: ["a", "a"] })), "tags", /twice/);
  });
  test("labels", () => {
    expectOnly(problemsOf(props({ labels: { Team: "x" } })), 'labels["Team"]');
    expectOnly(problemsOf(props({ labels: { team: "Platform Team" } })), 'labels["team"]');
    expectOnly(problemsOf(props({ labels: { "cdktf-kubeadm-cluster": "x" } })), 'labels["cdktf-kubeadm-cluster"]', /construct sets/);
  });
});

test("every problem at once, each naming field, value and fix", () => {
  const problems = problemsOf(
    props({ project: "X", region: "mars", network: { subnetCidr: "10.0.0.0/30" }, nodePools: pool({ machineType: "huge", maxSurge: 1 }), kubernetesVersion: "1.20.0" }),
  );
  expect(fields(problems)).toEqual(expect.arrayContaining(["project", "region", "network.subnetCidr", "kubernetesVersion", "nodePools[0].machineType", "nodePools[0].maxSurge"]));
  for (const p of problems) {
    expect(p.fix.length).toBeGreaterThan(3);
    expect(p.problem.length).toBeGreaterThan(3);
  }
});

describe("uncompressed user-data budget (GCE metadata values are text)", () => {
  const built = build(props({}));
  const kubeadm = built.cluster.kubeadm;
  const worker = { kind: "worker", pool: "general" } as const;

  test("measured per role, well under 262144 bytes by default", () => {
    for (const role of kubeadm.roles()) {
      const bytes = built.cluster.userDataBytes[roleName(role)];
      expect(bytes).toBeGreaterThan(built.cluster.userDataSizes[roleName(role)]);
      expect(bytes).toBeLessThan(262144 * 0.75);
    }
  });
  test("over the limit: an error naming the role, its size and the limit", () => {
    const bytes = built.cluster.userDataBytes["worker-general"];
    expect(() => gceUserData(kubeadm, worker, bytes - 1)).toThrow(GceUserDataTooLargeError);
    expect(() => gceUserData(kubeadm, worker, bytes - 1)).toThrow(new RegExp(`"worker-general" is ${bytes} bytes, over GCE's limit of ${bytes - 1} bytes`));
  });
  test("above 75% of the limit: a warning", () => {
    const bytes = built.cluster.userDataBytes["worker-general"];
    expect(gceUserData(kubeadm, worker, Math.ceil(bytes / 0.8)).warning).toMatch(/worker-general.*80%/);
    expect(gceUserData(kubeadm, worker, bytes * 2).warning).toBeUndefined();
  });
});
