/**
 * The AWS example, really applied: `terraform apply` against moto on 127.0.0.1 (the provider's
 * endpoints pointed at it by an override file, so the synthesized stack stays production-shaped),
 * then read back from the emulator: instances, groups, load balancer, target group, and each
 * instance's user data (decoded, `cloud-init schema`, role, no private key on workers). A plan right
 * after apply must be empty, and a second synth byte-identical. Secrets: the bundles are in Secrets
 * Manager, readable by their audience's roles only, and no private key or join token is in any user
 * data, launch template version, cdktf.out or the state (but the sensitive admin kubeconfig output).
 */
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import { cloudInitSchema } from "./support/cloud-init-schema";
import { startImdsDouble } from "./support/imds";
import { Json, settingsOf, synthAwsExample, tempDir } from "./support/aws-fixtures";
import { boto, MOTO_REGION, MotoServer, motoQuirkOverrides, startMoto, writeMotoOverride } from "./support/moto";
import { ENGINE_NAME, terraform, terraformOk } from "./support/terraform";

jest.setTimeout(900_000);

const tmp = tempDir("aws-apply-");
/** A Canonical AMI moto knows (it has no Ubuntu 24.04). */
const MOTO_AMI = "ami-785db401";
const context = {
  "aws.clusterName": "demo",
  "aws.region": MOTO_REGION,
  "aws.imageId": MOTO_AMI,
  "aws.controlPlaneReplicas": "3",
  "aws.workerCount": "2",
  "aws.pkiDirectory": path.join(tmp, "pki"),
};
/** An audience's bundle as the PKI store holds it (what Terraform writes into the secret). */
const bundleOf = (audience: string) => fs.readFileSync(path.join(context["aws.pkiDirectory"], "bundles", `${audience}.json`), "utf8");

const AWS_ENV = { AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing", AWS_EC2_METADATA_DISABLED: "true" };

let moto: MotoServer;
let dir: string;
let stackJson: Json;
let instances: Json[];

beforeAll(async () => {
  moto = await startMoto();
  const example = synthAwsExample(path.join(tmp, "cdktf.out"), context);
  dir = example.dir;
  stackJson = example.json;
  writeMotoOverride(dir, moto.endpoint);
  fs.writeFileSync(path.join(dir, "moto_quirks_override.tf.json"), JSON.stringify(motoQuirkOverrides(stackJson), null, 2));
  terraformOk(dir, ["init", "-no-color", "-input=false"], AWS_ENV);
  const apply = terraform(dir, ["apply", "-auto-approve", "-no-color", "-input=false"], AWS_ENV);
  if (apply.status !== 0) throw new Error(`terraform apply failed:\n${apply.stdout.slice(-8000)}\n${apply.stderr}\nmoto:\n${moto.log().slice(-4000)}`);
  const [reservations] = boto(moto.endpoint, [{ service: "ec2", operation: "describe_instances", paginateKey: "Reservations" }]);
  instances = reservations.Reservations.flatMap((r: Json) => r.Instances).filter((i: Json) => i.State.Name === "running");
});

afterAll(async () => {
  await moto?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const tag = (instance: Json, key: string): string | undefined => instance.Tags?.find((t: Json) => t.Key === key)?.Value;

function userDataOf(instanceId: string): string {
  const [attr] = boto(moto.endpoint, [{ service: "ec2", operation: "describe_instance_attribute", params: { InstanceId: instanceId, Attribute: "userData" } }]);
  return zlib.gunzipSync(Buffer.from(attr.UserData.Value, "base64")).toString("utf8");
}

test("every node exists: one instance per control-plane slot in its own subnet, the pool at its size", () => {
  const names = instances.map((i) => tag(i, "Name")).sort();
  expect(names).toEqual(["demo-cp-0", "demo-cp-1", "demo-cp-2", "demo-general", "demo-general"]);
  const cpSubnets = instances.filter((i) => tag(i, "cdktf-kubeadm/node-role") === "control-plane").map((i) => i.SubnetId);
  expect(new Set(cpSubnets).size).toBe(3);
  for (const i of instances) {
    expect(i.ImageId).toBe(MOTO_AMI);
    expect(i.PublicIpAddress).toBeUndefined(); // private subnets only
  }
});

test("the groups have their capacity; control-plane groups are in the API target group", () => {
  const [{ AutoScalingGroups: groups }] = boto(moto.endpoint, [{ service: "autoscaling", operation: "describe_auto_scaling_groups", paginateKey: "AutoScalingGroups" }]);
  const byName = Object.fromEntries(groups.map((g: Json) => [g.AutoScalingGroupName, g]));
  expect(Object.keys(byName).sort()).toEqual(["demo-cp-0", "demo-cp-1", "demo-cp-2", "demo-pool-general"]);
  for (const slot of [0, 1, 2]) {
    const g = byName[`demo-cp-${slot}`];
    expect(g).toMatchObject({ MinSize: 1, MaxSize: 1, DesiredCapacity: 1, HealthCheckType: "EC2" });
    expect(g.Instances).toHaveLength(1);
    expect(g.TargetGroupARNs).toHaveLength(1);
  }
  expect(byName["demo-pool-general"]).toMatchObject({ MinSize: 2, DesiredCapacity: 2, MaxSize: 4 });
  expect(byName["demo-pool-general"].Instances).toHaveLength(2);
  expect(byName["demo-pool-general"].TargetGroupARNs ?? []).toEqual([]);
});

test("the NLB and its target group: TCP 6443, client-IP preservation off, the control-plane instances registered", () => {
  const [{ LoadBalancers: lbs }, { TargetGroups: tgs }] = boto(moto.endpoint, [
    { service: "elbv2", operation: "describe_load_balancers", paginateKey: "LoadBalancers" },
    { service: "elbv2", operation: "describe_target_groups", paginateKey: "TargetGroups" },
  ]);
  expect(lbs).toHaveLength(1);
  expect(lbs[0]).toMatchObject({ LoadBalancerName: "demo-api", Type: "network" });
  // moto leaves Scheme out of DescribeLoadBalancers: read it from the state instead.
  const state = JSON.parse(terraformOk(dir, ["show", "-json", "-no-color"], AWS_ENV));
  const lbState = state.values.root_module.resources.filter((r: Json) => r.type === "aws_lb");
  expect(lbState.map((r: Json) => [r.values.internal, r.values.load_balancer_type, r.values.dns_name])).toEqual([[false, "network", lbs[0].DNSName]]);
  expect(tgs).toHaveLength(1);
  expect(tgs[0]).toMatchObject({ Protocol: "TCP", Port: 6443, HealthCheckProtocol: "HTTPS", HealthCheckPath: "/livez" });
  const [attrs, health] = boto(moto.endpoint, [
    { service: "elbv2", operation: "describe_target_group_attributes", params: { TargetGroupArn: tgs[0].TargetGroupArn } },
    { service: "elbv2", operation: "describe_target_health", params: { TargetGroupArn: tgs[0].TargetGroupArn } },
  ]);
  expect(Object.fromEntries(attrs.Attributes.map((a: Json) => [a.Key, a.Value]))["preserve_client_ip.enabled"]).toBe("false");
  const registered = health.TargetHealthDescriptions.map((d: Json) => d.Target.Id).sort();
  const controlPlane = instances.filter((i) => /^demo-cp-\d$/.test(tag(i, "Name") ?? "")).map((i) => i.InstanceId).sort();
  expect(registered).toEqual(controlPlane);
});

test("each instance's user data decodes, passes cloud-init schema, carries its role and the real NLB name; no private key", () => {
  const [{ LoadBalancers: [lb] }] = boto(moto.endpoint, [{ service: "elbv2", operation: "describe_load_balancers", paginateKey: "LoadBalancers" }]);
  for (const instance of instances) {
    const name = tag(instance, "Name")!;
    const text = userDataOf(instance.InstanceId);
    expect({ name, ...cloudInitSchema(text) }).toMatchObject({ name, ok: true });
    const settings = settingsOf(text, NODE_LAYOUT.settings);
    expect(settings.API_ENDPOINT).toBe(`${lb.DNSName}:6443`);
    if (name.startsWith("demo-cp-")) {
      expect(settings).toMatchObject({ NODE_ROLE: "control-plane", NODE_NAME: name, CP_SLOT: name.slice(-1) });
      expect(tag(instance, "cdktf-kubeadm/control-plane-slot")).toBe(name.slice(-1));
    } else {
      expect(settings.NODE_ROLE).toBe("worker");
    }
    expect(text).not.toMatch(/PRIVATE KEY/);
  }
});

test("launch templates as stored: IMDSv2 required with hop limit 1, encrypted gp3 root volume", () => {
  const [{ LaunchTemplates: templates }] = boto(moto.endpoint, [{ service: "ec2", operation: "describe_launch_templates", paginateKey: "LaunchTemplates" }]);
  expect(templates.map((t: Json) => t.LaunchTemplateName).sort()).toEqual(["demo-cp-0", "demo-cp-1", "demo-cp-2", "demo-pool-general"]);
  const versions = boto(
    moto.endpoint,
    templates.map((t: Json) => ({ service: "ec2", operation: "describe_launch_template_versions", params: { LaunchTemplateId: t.LaunchTemplateId, Versions: ["$Latest"] } })),
  );
  for (const v of versions) {
    const data = v.LaunchTemplateVersions[0].LaunchTemplateData;
    expect(data.MetadataOptions).toMatchObject({ HttpTokens: "required", HttpPutResponseHopLimit: 1, HttpEndpoint: "enabled" });
    expect(data.BlockDeviceMappings[0].Ebs).toMatchObject({ Encrypted: true, VolumeType: "gp3" });
    // One interface, no public address, the role's security group only.
    expect(data.NetworkInterfaces).toHaveLength(1);
    expect(data.NetworkInterfaces[0]).toMatchObject({ DeviceIndex: 0, AssociatePublicIpAddress: false });
    expect(data.NetworkInterfaces[0].Groups).toHaveLength(1);
  }
});

test("outputs: the endpoint is the NLB; the kubeconfig is sensitive and points at it", () => {
  const outputs = JSON.parse(terraformOk(dir, ["output", "-json"], AWS_ENV));
  const [{ LoadBalancers: [lb] }] = boto(moto.endpoint, [{ service: "elbv2", operation: "describe_load_balancers", paginateKey: "LoadBalancers" }]);
  expect(outputs.demo_api_endpoint.value).toBe(`https://${lb.DNSName}:6443`);
  expect(outputs.demo_admin_kubeconfig.sensitive).toBe(true);
  expect(outputs.demo_admin_kubeconfig.value).toContain(`server: https://${lb.DNSName}:6443`);
  expect(outputs.demo_ca_cert_hash.value).toMatch(/^sha256:[0-9a-f]{64}$/);
});

test(`${ENGINE_NAME} plan right after apply shows no changes`, () => {
  const plan = terraform(dir, ["plan", "-no-color", "-input=false", "-detailed-exitcode"], AWS_ENV);
  expect({ status: plan.status, changes: plan.stdout.split("\n").filter((l) => /^\s+# /.test(l)) }).toEqual({ status: 0, changes: [] });
});

test("a second synth is byte-identical", () => {
  const again = synthAwsExample(path.join(tmp, "again", "cdktf.out"), context);
  expect(fs.readFileSync(path.join(again.dir, "cdk.tf.json"), "utf8")).toEqual(fs.readFileSync(path.join(dir, "cdk.tf.json"), "utf8"));
});

describe("etcd backups", () => {
  const bucketName = () => JSON.parse(terraformOk(dir, ["output", "-json"], AWS_ENV)).demo_etcd_backup_location.value.replace(/^s3:\/\//, "").split("/")[0] as string;

  test("the bucket as stored: versioned, SSE-KMS with a bucket key, public access blocked, TLS only, lifecycle rules per kind, only the control plane may put snapshots", () => {
    const bucket = bucketName();
    expect(bucket).toMatch(/^demo-etcd-backups-/);
    const s3 = (operation: string) => ({ service: "s3", operation, params: { Bucket: bucket } });
    const [versioning, encryption, block, lifecycle, policy] = boto(moto.endpoint, [
      s3("get_bucket_versioning"), s3("get_bucket_encryption"), s3("get_public_access_block"), s3("get_bucket_lifecycle_configuration"), s3("get_bucket_policy"),
    ]);
    expect(versioning.Status).toBe("Enabled");
    expect(encryption.ServerSideEncryptionConfiguration.Rules).toEqual([{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms" }, BucketKeyEnabled: true }]);
    expect(block.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true });
    const rules = lifecycle.Rules.map((r: Json) => [r.Filter.Prefix, r.Expiration.Days, r.NoncurrentVersionExpiration.NoncurrentDays]);
    expect(rules.sort()).toEqual([["demo/daily/", 90, 30], ["demo/hourly/", 7, 30], ["demo/recent/", 1, 30]]);
    const statements = JSON.parse(policy.Policy).Statement;
    const [{ Role: role }] = boto(moto.endpoint, [{ service: "iam", operation: "get_role", params: { RoleName: "demo-control-plane" } }]);
    expect(statements).toEqual([
      expect.objectContaining({ Sid: "TlsOnly", Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
      expect.objectContaining({ Sid: "OnlyTheControlPlaneWritesSnapshots", Effect: "Deny", Action: "s3:PutObject", Resource: `arn:aws:s3:::${bucket}/demo/*`, Condition: { ArnNotEquals: { "aws:PrincipalArn": role.Arn } } }),
    ]);
    const [writer] = boto(moto.endpoint, [{ service: "iam", operation: "get_role_policy", params: { RoleName: "demo-control-plane", PolicyName: "cdktf-kubeadm-etcd-backup" } }]);
    expect(writer.PolicyDocument.Statement).toEqual([{ Sid: "PutEtcdSnapshots", Effect: "Allow", Action: "s3:PutObject", Resource: `arn:aws:s3:::${bucket}/demo/*` }]);
    // workers cannot write backups
    for (const pool of ["demo-pool-general"]) {
      const [{ PolicyNames: names }] = boto(moto.endpoint, [{ service: "iam", operation: "list_role_policies", params: { RoleName: pool } }]);
      expect(names).not.toContain("cdktf-kubeadm-etcd-backup");
    }
  });

  test("the control plane's user data names the bucket; the agent's upload (real curl, SigV4 with the role's IMDSv2 credentials) lands there byte for byte, encrypted", async () => {
    const bucket = bucketName();
    const cp = instances.find((i) => tag(i, "cdktf-kubeadm/node-role") === "control-plane")!;
    const settings = settingsOf(userDataOf(cp.InstanceId), NODE_LAYOUT.settings);
    expect(settings).toMatchObject({ BACKUP_TARGET: "aws-s3", BACKUP_LOCATION: `s3://${bucket}/demo`, BACKUP_REGION: MOTO_REGION, BACKUP_INTERVAL: "15" });
    // the full control-plane script, as the secret bundle carries it (base64 of gzip)
    const script = zlib.gunzipSync(Buffer.from(JSON.parse(bundleOf("control-plane")).script, "base64")).toString("utf8");
    const functions = path.join(tmp, "functions.sh");
    fs.writeFileSync(functions, script.trimEnd().replace(/main "\$@"$/, ""));
    // IMDS hands the node its instance role's session credentials: here moto's STS for that role
    const roleCredentials = (role: string) => boto(moto.endpoint, [
      { service: "iam", operation: "get_role", params: { RoleName: role } },
    ]).map((r) => boto(moto.endpoint, [{ service: "sts", operation: "assume_role", params: { RoleArn: r.Role.Arn, RoleSessionName: "i-0123456789abcdef0" } }])[0].Credentials)[0];
    const snapshot = path.join(tmp, "snapshot.db");
    fs.writeFileSync(snapshot, crypto.randomBytes(100_000));
    const upload = async (role: string, key: string) => {
      const c = roleCredentials(role);
      const imds = await startImdsDouble({ role, accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, token: c.SessionToken });
      try {
        const r = spawnSync("bash", ["-c", `. ${functions}\nRUN=${tmp}/run; mkdir -p $RUN; BACKUP_LOCATION=${settings.BACKUP_LOCATION} BACKUP_REGION=${MOTO_REGION} RETRIES=1; bput_aws ${snapshot} ${key} && echo "uploaded: $HS"`], {
          encoding: "utf8", env: { PATH: process.env.PATH, BOOTSTRAP_IMDS_ENDPOINT: imds.endpoint, BOOTSTRAP_S3_ENDPOINT: moto.endpoint },
        });
        return `${r.stdout}${r.stderr}`;
      } finally {
        imds.stop();
      }
    };
    // moto judges a bucket policy by action and resource only (moto/s3/models.py get_permission: no
    // Principal, no Condition), so its Denies (TLS only; nobody but the control plane puts) deny
    // everything: the policy, checked above, is set aside here and put back for the later plans.
    const [{ Policy: policy }] = boto(moto.endpoint, [{ service: "s3", operation: "get_bucket_policy", params: { Bucket: bucket } }]);
    boto(moto.endpoint, [{ service: "s3", operation: "delete_bucket_policy", params: { Bucket: bucket } }]);
    try {
      expect(await upload("demo-control-plane", "recent/etcd-20261207T120000Z.db")).toContain("uploaded: 200");
      const [object, listed] = boto(moto.endpoint, [
        { service: "s3", operation: "get_object", params: { Bucket: bucket, Key: "demo/recent/etcd-20261207T120000Z.db" } },
        { service: "s3", operation: "list_objects_v2", params: { Bucket: bucket } },
      ]);
      expect(Buffer.from(object.Body, "base64").equals(fs.readFileSync(snapshot))).toBe(true);
      expect(object.ServerSideEncryption).toBe("aws:kms");
      expect(listed.Contents.map((o: Json) => o.Key)).toEqual(["demo/recent/etcd-20261207T120000Z.db"]);
    } finally {
      boto(moto.endpoint, [{ service: "s3", operation: "put_bucket_policy", params: { Bucket: bucket, Policy: policy } }]);
    }
  });
});

describe("secrets", () => {
  const token = () => JSON.parse(bundleOf("worker")).bootstrapToken as string;
  const PEM_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

  test("each audience's bundle is in Secrets Manager, exactly as in the PKI store", () => {
    const [{ SecretList: list }] = boto(moto.endpoint, [{ service: "secretsmanager", operation: "list_secrets", paginateKey: "SecretList" }]);
    expect(list.map((x: Json) => x.Name.replace(/-[0-9a-z]+$/, "")).sort()).toEqual(["demo/bootstrap/control-plane", "demo/bootstrap/worker"]);
    const values = boto(moto.endpoint, list.map((x: Json) => ({ service: "secretsmanager", operation: "get_secret_value", params: { SecretId: x.ARN } })));
    for (const [i, secret] of list.entries()) {
      const audience = secret.Name.includes("/control-plane-") ? "control-plane" : "worker";
      expect(values[i].SecretString).toBe(bundleOf(audience));
      const bundle = JSON.parse(values[i].SecretString);
      expect(bundle.bootstrapToken).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
      expect(bundle.files.some((f: Json) => PEM_KEY.test(f.content))).toBe(audience === "control-plane");
    }
  });

  test("each role's policy names only its own audience's secret; each secret's policy names only its readers", () => {
    const [{ SecretList: list }, { Roles: roles }] = boto(moto.endpoint, [
      { service: "secretsmanager", operation: "list_secrets", paginateKey: "SecretList" },
      { service: "iam", operation: "list_roles", paginateKey: "Roles" },
    ]);
    const arnOf = (audience: string) => list.find((x: Json) => x.Name.startsWith(`demo/bootstrap/${audience}-`)).ARN;
    const byRole: Record<string, string> = { "demo-control-plane": "control-plane", "demo-pool-general": "worker" };
    expect(roles.map((r: Json) => r.RoleName).sort()).toEqual(Object.keys(byRole));
    for (const [roleName, audience] of Object.entries(byRole)) {
      const [{ PolicyNames: names }, { AttachedPolicies: attached }] = boto(moto.endpoint, [
        { service: "iam", operation: "list_role_policies", params: { RoleName: roleName } },
        { service: "iam", operation: "list_attached_role_policies", params: { RoleName: roleName } },
      ]);
      expect(attached).toEqual([]);
      const documents = boto(moto.endpoint, names.map((n: string) => ({ service: "iam", operation: "get_role_policy", params: { RoleName: roleName, PolicyName: n } })));
      const statements = documents.flatMap((d: Json) => (typeof d.PolicyDocument === "string" ? JSON.parse(d.PolicyDocument) : d.PolicyDocument).Statement);
      const expected: Json[] = [{ Sid: "ReadOwnBootstrapSecret", Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: arnOf(audience) }];
      // The control plane also reads the desired-version parameter (in-place upgrades); a worker may
      // only complete its own group's lifecycle actions (joined or abandoned at launch, drained at termination).
      if (audience === "control-plane") {
        expected.push({ Sid: "ReadDesiredVersion", Effect: "Allow", Action: "ssm:GetParameter", Resource: "arn:aws:ssm:eu-west-1:123456789012:parameter/cdktf-kubeadm/demo/kubernetes-version" });
        // and puts etcd snapshots under its prefix of the backup bucket (nothing else of it)
        const bucket = JSON.parse(terraformOk(dir, ["output", "-json"], AWS_ENV)).demo_etcd_backup_location.value.replace(/^s3:\/\//, "").split("/")[0];
        expected.push({ Sid: "PutEtcdSnapshots", Effect: "Allow", Action: "s3:PutObject", Resource: `arn:aws:s3:::${bucket}/demo/*` });
      } else {
        const [{ AutoScalingGroups: [group] }] = boto(moto.endpoint, [{ service: "autoscaling", operation: "describe_auto_scaling_groups", params: { AutoScalingGroupNames: [roleName] } }]);
        expect(group.AutoScalingGroupARN).toMatch(/^arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:[0-9a-f-]+:autoScalingGroupName\/demo-pool-general$/);
        expected.push({ Sid: "WorkerLifecycleHooks", Effect: "Allow", Action: ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"], Resource: group.AutoScalingGroupARN });
      }
      const bySid = (a: Json, b: Json) => String(a.Sid).localeCompare(String(b.Sid));
      expect(statements.sort(bySid)).toEqual(expected.sort(bySid));
    }
    const rolesArn = Object.fromEntries(roles.map((r: Json) => [r.RoleName, r.Arn]));
    for (const [audience, readers] of [["control-plane", ["demo-control-plane"]], ["worker", ["demo-pool-general"]]] as const) {
      const [{ ResourcePolicy: policy }] = boto(moto.endpoint, [{ service: "secretsmanager", operation: "get_resource_policy", params: { SecretId: arnOf(audience) } }]);
      const doc = JSON.parse(policy);
      expect(doc.Statement).toHaveLength(1);
      expect(doc.Statement[0]).toMatchObject({ Effect: "Allow", Action: "secretsmanager:GetSecretValue" });
      expect([doc.Statement[0].Principal.AWS].flat()).toEqual(readers.map((r) => rolesArn[r]));
    }
  });

  test("no private key and no join token in any instance's user data or launch template version", () => {
    const texts = instances.map((i) => userDataOf(i.InstanceId));
    const [{ LaunchTemplates: templates }] = boto(moto.endpoint, [{ service: "ec2", operation: "describe_launch_templates", paginateKey: "LaunchTemplates" }]);
    const versions = boto(
      moto.endpoint,
      templates.map((t: Json) => ({ service: "ec2", operation: "describe_launch_template_versions", params: { LaunchTemplateId: t.LaunchTemplateId } })),
    );
    for (const v of versions.flatMap((x: Json) => x.LaunchTemplateVersions)) {
      texts.push(zlib.gunzipSync(Buffer.from(v.LaunchTemplateData.UserData, "base64")).toString("utf8"));
    }
    expect(texts.length).toBeGreaterThanOrEqual(instances.length + templates.length);
    for (const text of texts) {
      expect(text).not.toMatch(PEM_KEY);
      expect(text).not.toContain(token());
      expect(settingsOf(text, NODE_LAYOUT.settings).SECRETS_SOURCE).toBe("aws-secretsmanager");
    }
  });

  test("no private key and no join token in cdktf.out or the state, but the sensitive admin kubeconfig output", () => {
    const out = path.join(tmp, "cdktf.out");
    const files = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? (e.name === ".terraform" ? [] : files(path.join(d, e.name))) : [path.join(d, e.name)]));
    for (const file of files(out)) {
      let text = fs.readFileSync(file, "utf8");
      if (file.endsWith("cdk.tf.json")) {
        const json = JSON.parse(text);
        expect(json.output.demo_admin_kubeconfig.sensitive).toBe(true);
        delete json.output.demo_admin_kubeconfig;
        text = JSON.stringify(json);
      }
      expect({ file, key: PEM_KEY.test(text), token: text.includes(token()) }).toEqual({ file, key: false, token: false });
    }
    const state = JSON.parse(terraformOk(dir, ["show", "-json", "-no-color"], AWS_ENV));
    expect(state.values.outputs.demo_admin_kubeconfig.sensitive).toBe(true);
    delete state.values.outputs.demo_admin_kubeconfig;
    const stateText = JSON.stringify(state);
    expect(stateText).toContain("aws_secretsmanager_secret_version"); // the value exists, write-only
    expect(PEM_KEY.test(stateText)).toBe(false);
    expect(stateText).not.toContain(token());
    // The raw state file too (show -json could hide what the file holds).
    const raw = JSON.parse(fs.readFileSync(path.join(dir, "terraform.tfstate"), "utf8"));
    delete raw.outputs.demo_admin_kubeconfig;
    expect(PEM_KEY.test(JSON.stringify(raw))).toBe(false);
    expect(JSON.stringify(raw)).not.toContain(token());
  });
});

/** JSON for comparing plan values: the provider reports an unset string as null before and "" after. */
const same = (v: unknown): string => JSON.stringify(v, (_k, x) => (x === "" ? null : x));
const isEmpty = (v: unknown): boolean => v === null || v === undefined || (Array.isArray(v) && v.length === 0) || (typeof v === "object" && Object.keys(v as object).length === 0);

/** `terraform plan -json` of the example re-synthesized with `changes` in its context: the planned resource changes. */
function planWith(changes: Record<string, string>): { address: string; type: string; actions: string[]; changed: string[] }[] {
  Object.assign(context, changes);
  const again = synthAwsExample(path.join(tmp, "cdktf.out"), context);
  expect(again.dir).toBe(dir);
  fs.writeFileSync(path.join(dir, "moto_quirks_override.tf.json"), JSON.stringify(motoQuirkOverrides(again.json), null, 2));
  terraformOk(dir, ["plan", "-no-color", "-input=false", "-out=day2.plan"], AWS_ENV);
  const plan = JSON.parse(terraformOk(dir, ["show", "-json", "day2.plan"], AWS_ENV));
  return (plan.resource_changes as Json[])
    .filter((c) => !(c.change.actions.length === 1 && ["no-op", "read"].includes(c.change.actions[0])))
    .map((c) => ({
      address: c.address,
      type: c.type,
      actions: c.change.actions,
      // Attributes that differ; an attribute merely recomputed by the provider (unknown after, empty
      // or absent before) is not a change of ours.
      changed: Object.keys({ ...c.change.before, ...c.change.after })
        .filter((k) => same(c.change.before?.[k]) !== same(c.change.after?.[k]))
        .filter((k) => !(c.change.after?.[k] === undefined && c.change.after_unknown?.[k] !== undefined && isEmpty(c.change.before?.[k])))
        .sort(),
    }));
}

describe("day 2", () => {
  test("a worker-count change plans only the pool's group, only its size", () => {
    const changes = planWith({ "aws.workerCount": "3" });
    expect(changes.map((c) => [c.address, c.actions])).toEqual([[expect.stringMatching(/^aws_autoscaling_group\.cluster_pool-general_asg_/), ["update"]]]);
    expect(changes[0].changed).toEqual(["max_size", "min_size"]); // desired_capacity belongs to cluster-autoscaler
    planWith({ "aws.workerCount": "2" });
  });

  test("a join-token rotation plans only new versions of the two secrets (new before old goes); apply stores the new token, templates keep their version", () => {
    const bundle = (audience: string) => JSON.parse(bundleOf(audience));
    const oldToken = bundle("worker").bootstrapToken;
    const changes = planWith({ "aws.joinTokenRotation": "2026-12" });
    // The provider replaces a version whose write-only value changes; the secrets themselves, the
    // templates, groups and policies stay as they are.
    expect(changes.map((c) => [c.type, c.actions])).toEqual([
      ["aws_secretsmanager_secret_version", ["create", "delete"]],
      ["aws_secretsmanager_secret_version", ["create", "delete"]],
    ]);
    for (const c of changes) expect(c.changed).toContain("secret_string_wo_version");
    const newToken = bundle("worker").bootstrapToken;
    expect(newToken).not.toBe(oldToken);
    expect(bundle("control-plane").bootstrapToken).toBe(newToken);
    terraformOk(dir, ["apply", "-auto-approve", "-no-color", "-input=false", "day2.plan"], AWS_ENV);
    const [{ SecretList: list }] = boto(moto.endpoint, [{ service: "secretsmanager", operation: "list_secrets", paginateKey: "SecretList" }]);
    const values = boto(moto.endpoint, list.map((x: Json) => ({ service: "secretsmanager", operation: "get_secret_value", params: { SecretId: x.ARN } })));
    for (const v of values) expect(JSON.parse(v.SecretString).bootstrapToken).toBe(newToken);
    const [{ LaunchTemplates: lts }] = boto(moto.endpoint, [{ service: "ec2", operation: "describe_launch_templates", paginateKey: "LaunchTemplates" }]);
    for (const t of lts) expect(t.LatestVersionNumber).toBe(1);
  });

  test("a minor version upgrade plans only in-place updates of launch templates, groups and the desired-version parameter; apply sets the parameter", () => {
    const changes = planWith({ "aws.kubernetesVersion": "1.37.1" });
    expect(changes.filter((c) => c.actions.some((a) => a === "delete" || a === "create"))).toEqual([]);
    expect([...new Set(changes.map((c) => c.type))].sort()).toEqual(["aws_autoscaling_group", "aws_launch_template", "aws_ssm_parameter"]);
    expect(changes.every((c) => c.actions.join() === "update")).toBe(true);
    expect(changes).toHaveLength(9); // 4 templates, 4 groups, 1 parameter (the README's walkthrough)
    const templates = changes.filter((c) => c.type === "aws_launch_template");
    expect(templates).toHaveLength(4); // every node's user data names the new version
    for (const t of templates) expect(t.changed).toEqual(expect.arrayContaining(["user_data"]));
    for (const g of changes.filter((c) => c.type === "aws_autoscaling_group")) {
      expect(g.changed.filter((k) => !["launch_template", "mixed_instances_policy"].includes(k))).toEqual([]);
    }
    const parameter = changes.find((c) => c.type === "aws_ssm_parameter")!;
    expect(parameter.changed).toEqual(["value", "version"]); // version: SSM's own counter
    // moto 5.2 lacks StartInstanceRefresh (the provider would retry it for minutes): apply all but
    // the worker pool's group, whose refresh is the emulator's gap, not ours.
    const targets = changes.filter((c) => !/cluster_pool-general_asg_/.test(c.address)).map((c) => `-target=${c.address}`);
    expect(targets).toHaveLength(8);
    const LT_ACTIONS = ["CreateLaunchTemplateVersion", "ModifyLaunchTemplate"];
    const logBefore = moto.requests(LT_ACTIONS).length;
    terraformOk(dir, ["apply", "-auto-approve", "-no-color", "-input=false", ...targets], AWS_ENV);
    // What reached the emulator, for every failure below: the provider retries a request whose
    // answer it lost with the same ClientToken; EC2 (and our moto, see moto_server.py) answers such
    // a repeat with the first version ("replayed"), so each template gets one new version.
    const ltRequests = moto.requests(LT_ACTIONS).slice(logBefore);
    try {
      checkUpgradeApplied(ltRequests);
    } catch (e) {
      if (e instanceof Error) e.message += `\n\nmoto requests during the upgrade apply (${LT_ACTIONS.join(", ")}):\n${ltRequests.join("\n")}`;
      throw e;
    }
  });

  /** The upgrade apply's result as moto holds it; `ltRequests`: its launch-template requests. */
  function checkUpgradeApplied(ltRequests: string[]): void {
    const [{ Parameter: p }] = boto(moto.endpoint, [{ service: "ssm", operation: "get_parameter", params: { Name: "/cdktf-kubeadm/demo/kubernetes-version" } }]);
    expect(p.Value).toBe("1.37.1");
    // New launch-template versions: replacements boot at the new version; the running control plane
    // reads the parameter named in its settings.
    const [{ LaunchTemplates: lts }] = boto(moto.endpoint, [{ service: "ec2", operation: "describe_launch_templates", paginateKey: "LaunchTemplates" }]);
    // One update per template: each template's CreateLaunchTemplateVersion requests (retries
    // included) carry a single ClientToken, and a new version was made once.
    const tokens = (id: string) => [
      ...new Set(ltRequests.filter((l) => l.includes(" CreateLaunchTemplateVersion ") && l.includes(`LaunchTemplateId=${id} `)).map((l) => /ClientToken=(\S+)/.exec(l)?.[1])),
    ];
    expect(lts.map((t: Json) => [t.LaunchTemplateName, tokens(t.LaunchTemplateId).length])).toEqual(lts.map((t: Json) => [t.LaunchTemplateName, 1]));
    expect(ltRequests.filter((l) => l.includes(" CreateLaunchTemplateVersion ") && !/ -> 200( replayed #\d+)? in /.test(l))).toEqual([]);
    const latest = boto(moto.endpoint, lts.map((t: Json) => ({ service: "ec2", operation: "describe_launch_template_versions", params: { LaunchTemplateId: t.LaunchTemplateId, Versions: ["$Latest"] } })));
    for (const [i, v] of latest.entries()) {
      const version = v.LaunchTemplateVersions[0];
      expect([lts[i].LaunchTemplateName, version.VersionNumber]).toEqual([lts[i].LaunchTemplateName, 2]);
      const settings = settingsOf(zlib.gunzipSync(Buffer.from(version.LaunchTemplateData.UserData, "base64")).toString("utf8"), NODE_LAYOUT.settings);
      expect(settings.K8S_VERSION).toBe("1.37.1");
      if (lts[i].LaunchTemplateName.includes("-cp-")) expect(settings).toMatchObject({ UPGRADE_CHANNEL: "aws-ssm", UPGRADE_PARAMETER: "/cdktf-kubeadm/demo/kubernetes-version" });
    }
    // The control-plane groups now launch the new version; nothing was replaced.
    const [{ AutoScalingGroups: groups }] = boto(moto.endpoint, [{ service: "autoscaling", operation: "describe_auto_scaling_groups", paginateKey: "AutoScalingGroups" }]);
    for (const g of groups.filter((x: Json) => /-cp-\d$/.test(x.AutoScalingGroupName))) {
      expect(g.LaunchTemplate.Version).toBe("2");
      expect(g.Instances).toHaveLength(1);
      expect(instances.map((i) => i.InstanceId)).toContain(g.Instances[0].InstanceId);
    }
  }

  test("a downgrade is refused at synth, naming the field and the fix", () => {
    expect(() => synthAwsExample(path.join(tmp, "downgrade", "cdktf.out"), { ...context, "aws.kubernetesVersion": "1.36.4" })).toThrow(
      /kubernetesVersion[\s\S]*1\.37\.1/,
    );
  });
});
