/**
 * Every AWS validation path: a bad prop is reported as a ClusterSpecError problem (field, value,
 * problem, fix) before any construct exists, together with the cluster model's own problems.
 */
import * as fs from "fs";
import type { SpecProblem } from "../src/bootstrap/validation-error";
import { AwsKubeadmClusterProps, subnetLayout } from "../src/constructs/aws";
import { parseCidr } from "../src/bootstrap/cidr";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { AwsKubeadmCluster } from "../src/constructs/aws";
import { regionOfZone } from "../src/constructs/aws/provider-region";
import { baseProps, problemsOf, tempDir } from "./support/aws-fixtures";
import { problemsWhenCreating } from "./support/stack-json";

const pki = tempDir("aws-validation-");
afterAll(() => fs.rmSync(pki, { recursive: true, force: true }));

function props(overrides: Partial<AwsKubeadmClusterProps>): AwsKubeadmClusterProps {
  return baseProps(pki, overrides);
}

function fields(problems: SpecProblem[]): string[] {
  return problems.map((p) => p.field);
}

/** Exactly one problem, on `field`, with a non-empty fix. */
function expectOnly(problems: SpecProblem[], field: string, problem?: RegExp): void {
  expect(fields(problems)).toEqual([field]);
  expect(problems[0].fix.length).toBeGreaterThan(3);
  if (problem) expect(problems[0].problem).toMatch(problem);
}

const existing = (o: Record<string, unknown> = {}) => ({
  existing: {
    vpcId: "vpc-0123456789abcdef0",
    vpcCidrs: ["10.20.0.0/16"],
    privateSubnetIds: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
    publicSubnetIds: ["subnet-0123456789abcdef2", "subnet-0123456789abcdef3"],
    ...o,
  },
});

describe("cluster name", () => {
  test("defaults to the construct id when it is a valid name", () => {
    // Accepted: no throw (problemsOf would throw "accepted"), checked via the problem list being absent.
    expect(() => problemsOf(props({}), "prod")).toThrow(/accepted/);
  });
  test("an invalid construct id without name is reported", () => {
    expectOnly(problemsOf(props({}), "Prod_Cluster"), "name", /construct id "Prod_Cluster"/);
  });
  test('a name starting with "internal-" is rejected (load balancer naming)', () => {
    expectOnly(problemsOf(props({ name: "internal-api" })), "name", /internal-/);
  });
});

describe("managed network", () => {
  test.each([
    ["10.0.0.0/8", /16 to \/24/],
    ["10.0.0.0/28", /16 to \/24/],
    ["10.0.0.1/16", /host bits/],
    ["not-a-cidr", /a\.b\.c\.d\/n/],
  ])("vpcCidr %s", (vpcCidr, problem) => {
    expectOnly(problemsOf(props({ network: { vpcCidr } })), "network.vpcCidr", problem);
  });
  test.each([1, 4])("availabilityZoneCount %d", (availabilityZoneCount) => {
    expectOnly(problemsOf(props({ network: { availabilityZoneCount } })), "network.availabilityZoneCount", /2 or 3/);
  });
  test("availabilityZones: too few, bad names, duplicates, count mismatch", () => {
    expectOnly(problemsOf(props({ network: { availabilityZones: ["eu-west-1a"] } })), "network.availabilityZones", /2 or 3/);
    expectOnly(problemsOf(props({ network: { availabilityZones: ["eu-west-1a", "EU WEST"] } })), "network.availabilityZones[1]");
    expectOnly(problemsOf(props({ network: { availabilityZones: ["eu-west-1a", "eu-west-1a"] } })), "network.availabilityZones", /twice/);
    expectOnly(problemsOf(props({ network: { availabilityZones: ["eu-west-1a", "eu-west-1b"], availabilityZoneCount: 3 } })), "network.availabilityZoneCount", /differs/);
  });
  test("natGateways", () => {
    expectOnly(problemsOf(props({ network: { natGateways: "two" as never } })), "network.natGateways");
  });
  test("a VPC overlapping the pod or service range is reported by the cluster model", () => {
    expect(fields(problemsOf(props({ network: { vpcCidr: "10.244.0.0/16" } })))).toEqual(["networking.podCidr"]);
    expect(fields(problemsOf(props({ network: { vpcCidr: "10.96.0.0/16" } })))).toEqual(["networking.serviceCidr"]);
  });
  test("subnet layout: private quarters, public blocks in the last quarter, all inside the VPC and disjoint", () => {
    for (const [vpc, priv, pub] of [
      ["10.0.0.0/16", ["10.0.0.0/18", "10.0.64.0/18", "10.0.128.0/18"], ["10.0.192.0/24", "10.0.193.0/24", "10.0.194.0/24"]],
      ["10.1.0.0/20", ["10.1.0.0/22", "10.1.4.0/22", "10.1.8.0/22"], ["10.1.12.0/24", "10.1.13.0/24", "10.1.14.0/24"]],
      ["192.168.7.0/24", ["192.168.7.0/26", "192.168.7.64/26", "192.168.7.128/26"], ["192.168.7.192/28", "192.168.7.208/28", "192.168.7.224/28"]],
    ] as const) {
      const layout = subnetLayout(parseCidr(vpc) as Exclude<ReturnType<typeof parseCidr>, string>);
      expect(layout.privateSubnetCidrs).toEqual(priv);
      expect(layout.publicSubnetCidrs).toEqual(pub);
    }
  });
});

describe("existing network", () => {
  test("accepted when complete", () => {
    expect(() => problemsOf(props({ network: existing() }))).toThrow(/accepted/);
  });
  test("vpcId", () => {
    expectOnly(problemsOf(props({ network: existing({ vpcId: "my-vpc" }) })), "network.existing.vpcId");
  });
  test("vpcCidrs empty or invalid", () => {
    expectOnly(problemsOf(props({ network: existing({ vpcCidrs: [] }) })), "network.existing.vpcCidrs", /empty/);
    expectOnly(problemsOf(props({ network: existing({ vpcCidrs: ["10.20.0.0/33"] }) })), "network.existing.vpcCidrs[0]");
  });
  test("private subnets: count, ids, duplicates", () => {
    expectOnly(problemsOf(props({ network: existing({ privateSubnetIds: ["subnet-0123456789abcdef0"] }) })), "network.existing.privateSubnetIds", /2 to 6/);
    expectOnly(problemsOf(props({ network: existing({ privateSubnetIds: ["subnet-0123456789abcdef0", "sn-1"] }) })), "network.existing.privateSubnetIds[1]");
    expectOnly(
      problemsOf(props({ network: existing({ privateSubnetIds: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef0"] }) })),
      "network.existing.privateSubnetIds",
      /twice/,
    );
  });
  test("an internet-facing load balancer needs public subnets", () => {
    expectOnly(problemsOf(props({ network: existing({ publicSubnetIds: undefined }) })), "network.existing.publicSubnetIds", /internet-facing/);
    expect(() => problemsOf(props({ network: existing({ publicSubnetIds: undefined }), apiLoadBalancer: { internetFacing: false } }))).toThrow(/accepted/);
  });
  test("existing VPC CIDRs are checked against the pod range", () => {
    expect(fields(problemsOf(props({ network: existing({ vpcCidrs: ["10.244.0.0/16"] }) })))).toEqual(["networking.podCidr"]);
  });
});

describe("load balancer and security", () => {
  test("allowedCidrs must be CIDRs", () => {
    expectOnly(problemsOf(props({ apiLoadBalancer: { allowedCidrs: ["203.0.113.7"] } })), "apiLoadBalancer.allowedCidrs[0]");
  });
  test("an internal load balancer may not be opened to 0.0.0.0/0", () => {
    expectOnly(problemsOf(props({ apiLoadBalancer: { internetFacing: false, allowedCidrs: ["0.0.0.0/0"] } })), "apiLoadBalancer.allowedCidrs[0]", /internal/);
  });
  test("nodePortCidrs must be CIDRs", () => {
    expectOnly(problemsOf(props({ security: { nodePortCidrs: ["10.0.0.0/99"] } })), "security.nodePortCidrs[0]");
  });
});

describe("secret store", () => {
  test("kmsKeyArn must be a key ARN (an alias cannot be granted kms:Decrypt)", () => {
    expectOnly(problemsOf(props({ secretStore: { kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:alias/cluster" } })), "secretStore.kmsKeyArn", /aliases/);
    expectOnly(problemsOf(props({ secretStore: { kmsKeyArn: "1234abcd-12ab-34cd-56ef-1234567890ab" } })), "secretStore.kmsKeyArn");
    expect(() => problemsOf(props({ secretStore: { kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" } }))).toThrow(/accepted/);
  });
});

describe("images", () => {
  test("imageId (cluster and group)", () => {
    expectOnly(problemsOf(props({ image: { imageId: "ubuntu-24.04" } })), "image.imageId");
    expectOnly(problemsOf(props({ controlPlane: { replicas: 3, imageId: "ami-XYZ" } })), "controlPlane.imageId");
    expectOnly(problemsOf(props({ nodePools: [{ name: "general", imageId: "ami-1" }] })), "nodePools[0].imageId");
  });
  test("lookup owners and name pattern", () => {
    expectOnly(problemsOf(props({ image: { lookup: { owners: ["canonical"], namePattern: "x-*" } } })), "image.lookup.owners");
    expectOnly(problemsOf(props({ image: { lookup: { owners: ["099720109477"], namePattern: "" } } })), "image.lookup.namePattern");
  });
  test("rootDeviceName", () => {
    expectOnly(problemsOf(props({ image: { rootDeviceName: "sda1" } })), "image.rootDeviceName");
  });
});

describe("machines", () => {
  test("instance types must be non-empty EC2 type names", () => {
    expectOnly(problemsOf(props({ controlPlane: { replicas: 3, instanceType: "" } })), "controlPlane.instanceType");
    expectOnly(problemsOf(props({ controlPlane: { replicas: 3, instanceType: "large" } })), "controlPlane.instanceType");
    expectOnly(problemsOf(props({ nodePools: [{ name: "general", instanceType: "M7I.LARGE" }] })), "nodePools[0].instanceType");
  });
  test("instanceTypes: empty, duplicated, invalid entry, together with instanceType", () => {
    expectOnly(problemsOf(props({ nodePools: [{ name: "general", instanceTypes: [] }] })), "nodePools[0].instanceTypes", /1 to 40/);
    expectOnly(problemsOf(props({ nodePools: [{ name: "general", instanceTypes: ["m7i.large", "m7i.large"] }] })), "nodePools[0].instanceTypes", /twice/);
    expectOnly(problemsOf(props({ nodePools: [{ name: "general", instanceTypes: ["m7i.large", "x"] }] })), "nodePools[0].instanceTypes[1]");
    expectOnly(problemsOf(props({ nodePools: [{ name: "general", instanceType: "m7i.large", instanceTypes: ["m6i.large"] }] })), "nodePools[0].instanceType", /together/);
  });
  test("one pool may not mix architectures", () => {
    expectOnly(problemsOf(props({ nodePools: [{ name: "general", instanceTypes: ["m7i.large", "m7g.large"] }] })), "nodePools[0].instanceTypes", /arm64/);
  });
  test("Graviton and cilium: the pinned cilium-cli has an arm64 build, an overridden one is taken as amd64", () => {
    const arm = { replicas: 3, instanceType: "m7g.large" };
    expect(() => problemsOf(props({ cni: { plugin: "cilium" }, controlPlane: arm, nodePools: [{ name: "arm", instanceType: "c7g.large" }] }))).toThrow(/accepted/);
    const custom = { plugin: "cilium" as const, manifestUrl: "https://mirror.example.com/cilium-linux-amd64.tar.gz", manifestSha256: "a".repeat(64) };
    expectOnly(problemsOf(props({ cni: custom, controlPlane: arm })), "controlPlane.instanceType", /overridden cilium-cli/);
    // Workers never run the installer.
    expect(() => problemsOf(props({ cni: custom, nodePools: [{ name: "arm", instanceType: "c7g.large" }] }))).toThrow(/accepted/);
  });
  test("root volume size, iops, throughput, kms key", () => {
    expectOnly(problemsOf(props({ controlPlane: { replicas: 3, rootVolume: { sizeGiB: 10 } } })), "controlPlane.rootVolume.sizeGiB");
    expectOnly(problemsOf(props({ controlPlane: { replicas: 3, rootVolume: { iops: 100 } } })), "controlPlane.rootVolume.iops");
    expectOnly(problemsOf(props({ nodePools: [{ name: "general", rootVolume: { throughput: 5000 } }] })), "nodePools[0].rootVolume.throughput");
    expectOnly(problemsOf(props({ nodePools: [{ name: "general", rootVolume: { kmsKeyId: "" } }] })), "nodePools[0].rootVolume.kmsKeyId");
    // The provider's launch template takes ARNs only (terraform validate: "is an invalid ARN").
    for (const kmsKeyId of ["1234abcd-12ab-34cd-56ef-1234567890ab", "alias/ebs", "arn:aws:kms:eu-west-1:123456789012:key/not-a-key-id", "arn:aws:kms:eu-west-1:123456789012:alias/aws/ebs"]) {
      expectOnly(problemsOf(props({ nodePools: [{ name: "general", rootVolume: { kmsKeyId } }] })), "nodePools[0].rootVolume.kmsKeyId", /ARN/);
    }
    for (const kmsKeyId of ["arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab", "arn:aws:kms:eu-west-1:123456789012:alias/cluster-ebs"]) {
      expect(() => problemsOf(props({ nodePools: [{ name: "general", rootVolume: { kmsKeyId } }] }))).toThrow(/accepted/);
    }
  });
});

describe("iam", () => {
  const pool = (iam: NonNullable<AwsKubeadmClusterProps["nodePools"]>[number]["iam"]) => props({ nodePools: [{ name: "general", iam }] });
  test("managed policy ARNs", () => {
    expectOnly(problemsOf(pool({ managedPolicyArns: ["AmazonSSMManagedInstanceCore"] })), "nodePools[0].iam.managedPolicyArns[0]");
  });
  test("statements: effect, actions, resources", () => {
    expectOnly(problemsOf(pool({ statements: [{ Effect: "Permit" as never, Action: "s3:GetObject", Resource: "*" }] })), "nodePools[0].iam.statements[0].Effect");
    expectOnly(problemsOf(pool({ statements: [{ Effect: "Allow", Action: [], Resource: "*" }] })), "nodePools[0].iam.statements[0].Action");
    expectOnly(problemsOf(pool({ statements: [{ Effect: "Allow", Action: "s3 get", Resource: "*" }] })), "nodePools[0].iam.statements[0].Action");
    expectOnly(problemsOf(pool({ statements: [{ Effect: "Allow", Action: "s3:GetObject", Resource: [] }] })), "nodePools[0].iam.statements[0].Resource");
  });
  test("permissions boundary and path", () => {
    expectOnly(problemsOf(pool({ permissionsBoundary: "boundary" })), "nodePools[0].iam.permissionsBoundary");
    expectOnly(problemsOf(props({ controlPlane: { replicas: 3, iam: { path: "k8s" } } })), "controlPlane.iam.path");
  });
});

describe("spot", () => {
  const spot = (s: NonNullable<AwsKubeadmClusterProps["nodePools"]>[number]["spot"]) =>
    props({ nodePools: [{ name: "general", instanceTypes: ["m7i.large", "m6i.large", "m5.large"], minSize: 1, maxSize: 4, spot: s }] });
  test("accepted with defaults", () => {
    expect(() => problemsOf(spot({}))).toThrow(/accepted/);
  });
  test("on-demand base beyond maxSize", () => {
    expectOnly(problemsOf(spot({ onDemandBaseCapacity: 5 })), "nodePools[0].spot.onDemandBaseCapacity", /maxSize \(4\)/);
  });
  test("percentage above base", () => {
    expectOnly(problemsOf(spot({ onDemandPercentageAboveBaseCapacity: 150 })), "nodePools[0].spot.onDemandPercentageAboveBaseCapacity");
  });
  test("allocation strategy", () => {
    expectOnly(problemsOf(spot({ allocationStrategy: "cheapest" as never })), "nodePools[0].spot.allocationStrategy");
  });
  test("max price", () => {
    expectOnly(problemsOf(spot({ maxPrice: "-1" })), "nodePools[0].spot.maxPrice");
  });
});

describe("tags and key pair", () => {
  test("reserved and oversized tags", () => {
    expectOnly(problemsOf(props({ tags: { "aws:foo": "x" } })), 'tags["aws:foo"]', /aws:/);
    expectOnly(problemsOf(props({ tags: { Name: "x" } })), 'tags["Name"]', /set by the construct/);
    expectOnly(problemsOf(props({ tags: { team: "x".repeat(257) } })), 'tags["team"]', /256/);
  });
  test("keyName", () => {
    expectOnly(problemsOf(props({ keyName: "" })), "keyName");
  });
});

describe("regions: zones and KMS keys must be where the provider is", () => {
  /** Problems with a default provider in `region` (a token or none: nothing to compare). */
  const withProvider = (region: string | undefined, overrides: Partial<AwsKubeadmClusterProps>) =>
    problemsWhenCreating("aws", "prod", (stack) => {
      new AwsProvider(stack, "aws", region === undefined ? {} : { region });
      new AwsKubeadmCluster(stack, "prod", props(overrides));
    });
  const accepted = (region: string | undefined, overrides: Partial<AwsKubeadmClusterProps>) => expect(() => withProvider(region, overrides)).toThrow(/accepted/);
  const key = (region: string) => `arn:aws:kms:${region}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

  test.each([
    ["eu-west-1a", "eu-west-1"],
    ["us-gov-west-1b", "us-gov-west-1"],
    ["us-west-2-lax-1a", "us-west-2"],
    ["ap-southeast-4c", "ap-southeast-4"],
  ])("zone %s is in %s", (zone, region) => expect(regionOfZone(zone)).toBe(region));
  test("zones of two regions", () => {
    expectOnly(problemsOf(props({ network: { availabilityZones: ["eu-west-1a", "eu-west-2b"] } })), "network.availabilityZones", /spans regions eu-west-1, eu-west-2/);
  });
  test("zones of another region than the provider's", () => {
    expectOnly(withProvider("us-east-1", { network: { availabilityZones: ["eu-west-1a", "eu-west-1b"] } }), "network.availabilityZones", /provider's region is us-east-1/);
    accepted("eu-west-1", { network: { availabilityZones: ["eu-west-1a", "eu-west-1b"] } });
    // Unknown at synth (from the environment): not compared.
    accepted(undefined, { network: { availabilityZones: ["eu-west-1a", "eu-west-1b"] } });
  });
  test("a secret-store or volume key of another region", () => {
    expectOnly(withProvider("us-east-1", { secretStore: { kmsKeyArn: key("eu-west-1") } }), "secretStore.kmsKeyArn", /key in eu-west-1.*Secrets Manager/);
    expectOnly(withProvider("us-east-1", { nodePools: [{ name: "general", rootVolume: { kmsKeyId: key("eu-west-1") } }] }), "nodePools[0].rootVolume.kmsKeyId", /EBS/);
    expectOnly(withProvider("us-east-1", { controlPlane: { replicas: 3, rootVolume: { kmsKeyId: "arn:aws:kms:eu-west-1:123456789012:alias/ebs" } } }), "controlPlane.rootVolume.kmsKeyId", /us-east-1/);
    accepted("us-east-1", { secretStore: { kmsKeyArn: key("us-east-1") }, nodePools: [{ name: "general", rootVolume: { kmsKeyId: key("us-east-1") } }] });
  });
});

describe("control-plane instance type: kubeadm's 2 vCPU and 1700 MB", () => {
  test.each(["t3.micro", "t3.nano", "t2.small", "t2.micro", "m1.small", "a1.medium", "m6g.medium", "c7g.medium", "m3.medium"])("%s is refused", (instanceType) => {
    expectOnly(problemsOf(props({ controlPlane: { replicas: 3, instanceType } })), "controlPlane.instanceType", /2 vCPU and 1700 MB/);
  });
  test.each(["t3.small", "t4g.small", "t3a.medium", "t2.medium", "m7g.large", "c5.large", "m7i-flex.large"])("%s is accepted", (instanceType) => {
    expect(() => problemsOf(props({ controlPlane: { replicas: 3, instanceType } }))).toThrow(/accepted/);
  });
  test("workers are not held to it (kubeadm join does not check)", () => {
    expect(() => problemsOf(props({ nodePools: [{ name: "small", instanceType: "t3.micro" }] }))).toThrow(/accepted/);
  });
});

describe("an internet-facing API load balancer nobody may reach", () => {
  test("allowedCidrs [] is refused, naming the fix", () => {
    const problems = problemsOf(props({ apiLoadBalancer: { allowedCidrs: [] } }));
    expectOnly(problems, "apiLoadBalancer.allowedCidrs", /no client/);
    expect(problems[0].fix).toMatch(/closedToClients/);
  });
  test("closedToClients accepts it, and defaults allowedCidrs to none", () => {
    expect(() => problemsOf(props({ apiLoadBalancer: { allowedCidrs: [], closedToClients: true } }))).toThrow(/accepted/);
    expect(() => problemsOf(props({ apiLoadBalancer: { closedToClients: true } }))).toThrow(/accepted/);
  });
  test("closedToClients with open CIDRs, on an internal load balancer, or not a boolean", () => {
    expectOnly(problemsOf(props({ apiLoadBalancer: { allowedCidrs: ["203.0.113.0/24"], closedToClients: true } })), "apiLoadBalancer.closedToClients", /lets clients in/);
    expectOnly(problemsOf(props({ apiLoadBalancer: { internetFacing: false, closedToClients: true } })), "apiLoadBalancer.closedToClients", /internal/);
    expectOnly(problemsOf(props({ apiLoadBalancer: { allowedCidrs: [], closedToClients: "yes" as never } })), "apiLoadBalancer.closedToClients", /boolean/);
  });
  test("an internal load balancer with no CIDRs is fine (the VPC reaches it)", () => {
    expect(() => problemsOf(props({ apiLoadBalancer: { internetFacing: false, allowedCidrs: [] } }))).toThrow(/accepted/);
  });
});

test("every problem of the AWS fields and the cluster model is reported at once", () => {
  const problems = problemsOf(
    props({
      kubernetesVersion: "1.20.0",
      controlPlane: { replicas: 2, instanceType: "" },
      network: { vpcCidr: "10.0.0.0/8", availabilityZoneCount: 5 },
      apiLoadBalancer: { allowedCidrs: ["everyone"] },
    }),
  );
  expect(fields(problems).sort()).toEqual(
    ["apiLoadBalancer.allowedCidrs[0]", "controlPlane.instanceType", "controlPlane.replicas", "kubernetesVersion", "network.availabilityZoneCount", "network.vpcCidr"].sort(),
  );
});

test("requireExistingPkiStore reaches the PKI store: a missing store is refused, naming pkiDirectory", () => {
  const problems = problemsOf(props({ pkiDirectory: `${pki}-missing`, requireExistingPkiStore: true }));
  expectOnly(problems, "pkiDirectory", /holds no PKI store, and requireExistingPkiStore forbids/);
  expect(fs.existsSync(`${pki}-missing`)).toBe(false);
});
