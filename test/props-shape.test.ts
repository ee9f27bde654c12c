/**
 * The runtime shape check is generated from the props declarations: it must be regenerated when
 * they change (npm run gen:props-schema), and it must follow the declarations exactly.
 */
import * as fs from "fs";
import { generatePropsSchema, SCHEMA_FILE } from "../scripts/gen-props-schema";
import { PROPS_SCHEMA } from "../src/constructs/props-schema";
import { propsShapeProblems } from "../src/constructs/props-shape";

test("src/constructs/props-schema.ts is what the props declarations generate (else: npm run gen:props-schema)", () => {
  expect(fs.readFileSync(SCHEMA_FILE, "utf8")).toBe(generatePropsSchema());
});

test("every documented field of each platform is in the schema, optional or required as declared", () => {
  const aws = PROPS_SCHEMA.objects[PROPS_SCHEMA.roots.aws].properties;
  expect(aws.kubernetesVersion).toEqual({ shape: { kind: "string" }, optional: true });
  expect(aws.nodePools.shape).toEqual({ kind: "array", of: { kind: "object", name: "AwsNodePoolSpec" } });
  expect(PROPS_SCHEMA.objects.AwsNodePoolSpec.properties.name.optional).toBe(false);
  const metal = PROPS_SCHEMA.objects[PROPS_SCHEMA.roots.baremetal].properties;
  expect(metal.hosts.optional).toBe(false);
  // Omit<ControlPlaneSpec, "replicas">: the host count is the replica count.
  expect(PROPS_SCHEMA.objects[(metal.controlPlane.shape as { name: string }).name].properties.replicas).toBeUndefined();
  expect(PROPS_SCHEMA.objects.GceKubeadmClusterProps.properties.project.optional).toBe(false);
});

test("a union picks the variant the keys fit: an existing network is checked as one, a managed one as the other", () => {
  const existing = { existing: { vpcId: "vpc-0123456789abcdef0", vpcCidrs: ["10.0.0.0/16"], privateSubnetIds: ["subnet-1", "subnet-2"] } };
  expect(propsShapeProblems(PROPS_SCHEMA, "aws", { network: existing })).toEqual([]);
  expect(propsShapeProblems(PROPS_SCHEMA, "aws", { network: { vpcCidr: "10.0.0.0/16" } })).toEqual([]);
  expect(propsShapeProblems(PROPS_SCHEMA, "aws", { network: { existing: { ...existing.existing, vpcCidrs: "10.0.0.0/16" } } }).map((p) => p.field)).toEqual(["network.existing.vpcCidrs"]);
  expect(propsShapeProblems(PROPS_SCHEMA, "baremetal", { name: "m", hosts: [], nodeCidr: "10.0.0.0/24", apiEndpoint: { type: "single-control-plane", address: "10.0.0.1" } }).map((p) => p.field)).toEqual(["apiEndpoint.address"]);
});

test("functions, tokens and free-form patches pass; keys with odd characters are quoted in the path", () => {
  expect(propsShapeProblems(PROPS_SCHEMA, "aws", { kubeadmPatches: { kubeApiServer: { spec: { anything: [1, { deep: true }] } } } })).toEqual([]);
  expect(propsShapeProblems(PROPS_SCHEMA, "aws", { kubernetesVersion: "${TfToken[TOKEN.1]}", nodePools: [{ name: "a", maxSize: -1.8881545897087626e289 }] })).toEqual([]);
  expect(propsShapeProblems(PROPS_SCHEMA, "aws", { tags: { "kubernetes.io/team": 1 } }).map((p) => p.field)).toEqual(['tags["kubernetes.io/team"]']);
});
