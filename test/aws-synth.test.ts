/**
 * What the AWS construct synthesizes: a snapshot of the example stack (secrets masked), property
 * tests over several configurations (IMDSv2, encryption, ingress sources, groups, load balancer,
 * IAM), each role's user data through the real `cloud-init schema`, byte-identical re-synth, and
 * `terraform init` + `validate` of the example offline against the provider mirror.
 */
import * as fs from "fs";
import * as path from "path";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import { AwsKubeadmCluster, AwsKubeadmClusterProps, writeOnlyVersion } from "../src/constructs/aws";
import { cloudInitSchema } from "./support/cloud-init-schema";
import { baseProps, build, synthAwsExample, decodeUserDataExpression, Json, resourcesOf, settingsOf, synthJson, tempDir, writeFilesOf } from "./support/aws-fixtures";
import { ENGINE, ENGINE_NAME, terraformOk } from "./support/terraform";

const tmp = tempDir("aws-synth-");
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const pki = (name: string) => path.join(tmp, `pki-${name}`);
const synthExample = (outdir: string, context: Record<string, string> = {}) => synthAwsExample(outdir, { "aws.pkiDirectory": pki("example"), ...context });

/** The JSON with user data and secret-bearing outputs replaced by placeholders (the PKI is random per store). */
function normalize(json: Json): Json {
  const copy = JSON.parse(JSON.stringify(json));
  for (const [, lt] of resourcesOf(copy, "aws_launch_template")) lt.user_data = "<base64gzip(cloud-config)>";
  // The bundle lives in the (per-run) PKI store; its version derives from the random PKI.
  for (const [, v] of resourcesOf(copy, "aws_secretsmanager_secret_version")) {
    v.secret_string_wo = String(v.secret_string_wo).replace(/^\$\{file\(".*\/(bundles\/[a-z-]+\.json)"\)\}$/, "${file(\"<pki store>/$1\")}");
    v.secret_string_wo_version = "<digest of the bundle>";
  }
  for (const [name, out] of Object.entries<Json>(copy.output ?? {})) {
    if (/_(admin_kubeconfig|ca_cert_hash|certificate_expiry)$/.test(name)) out.value = "<secret or time>";
  }
  return copy;
}

/** Every ingress rule of the stack with its target group name and source (CIDR or group name). */
function ingress(json: Json): { target: string; source: string; protocol: string; from?: number; to?: number }[] {
  const groupName = (ref: string) => {
    const id = /aws_security_group\.([^.]+)\.id/.exec(ref)?.[1];
    return id ? json.resource.aws_security_group[id].name : ref;
  };
  return resourcesOf(json, "aws_vpc_security_group_ingress_rule").map(([, r]) => ({
    target: groupName(r.security_group_id),
    source: r.cidr_ipv4 ?? groupName(r.referenced_security_group_id),
    protocol: r.ip_protocol,
    from: r.from_port,
    to: r.to_port,
  }));
}

/** Decoded cloud-config of every launch template, keyed by template name; the LB DNS name stands in for its reference. */
function userData(json: Json): Record<string, string> {
  return Object.fromEntries(
    resourcesOf(json, "aws_launch_template").map(([, lt]) => [
      lt.name,
      decodeUserDataExpression(lt.user_data, (ref) => (/^aws_lb\..*\.dns_name$/.test(ref) ? "demo-api-0123456789.elb.eu-west-1.amazonaws.com" : `<${ref}>`)),
    ]),
  );
}

describe("example stack", () => {
  let example: ReturnType<typeof synthExample>;
  beforeAll(() => {
    example = synthExample(path.join(tmp, "example", "cdktf.out"));
  });

  test("snapshot of the synthesized configuration (user data and secrets masked)", () => {
    expect(normalize(example.json)).toMatchSnapshot();
  });

  test("byte-identical on a second synth (PKI reused from the store)", () => {
    const again = synthExample(path.join(tmp, "example-again", "cdktf.out"));
    expect(fs.readFileSync(path.join(again.dir, "cdk.tf.json"), "utf8")).toEqual(fs.readFileSync(path.join(example.dir, "cdk.tf.json"), "utf8"));
  });

  test("context tunables reach the resources", () => {
    const tuned = synthExample(path.join(tmp, "tuned", "cdktf.out"), {
      "aws.clusterName": "tuned",
      "aws.pkiDirectory": pki("tuned"),
      "aws.region": "us-east-2",
      "aws.controlPlaneReplicas": "5",
      "aws.workerCount": "4",
      "aws.workerInstanceType": "m7g.xlarge",
      "aws.imageId": "ami-0123456789abcdef0",
      "aws.natGateways": "one-per-az",
      "aws.apiAllowedCidrs": "198.51.100.0/24,203.0.113.0/24",
    });
    const j = tuned.json;
    expect(j.provider.aws[0].region).toBe("us-east-2");
    const cp = resourcesOf(j, "aws_autoscaling_group").filter(([, g]) => /-cp-\d$/.test(g.name));
    expect(cp.map(([, g]) => g.name).sort()).toEqual(["tuned-cp-0", "tuned-cp-1", "tuned-cp-2", "tuned-cp-3", "tuned-cp-4"]);
    const pool = resourcesOf(j, "aws_autoscaling_group").find(([, g]) => g.name === "tuned-pool-general")![1];
    expect([pool.min_size, pool.desired_capacity, pool.max_size]).toEqual([4, 4, 8]);
    for (const [, lt] of resourcesOf(j, "aws_launch_template")) expect(lt.image_id).toBe("ami-0123456789abcdef0");
    expect(j.data?.aws_ami).toBeUndefined(); // no lookup when the image is given
    expect(resourcesOf(j, "aws_launch_template").find(([, lt]) => lt.name === "tuned-pool-general")![1].instance_type).toBe("m7g.xlarge");
    expect(resourcesOf(j, "aws_nat_gateway")).toHaveLength(3);
    const apiSources = ingress(j).filter((r) => r.target === "tuned-api-lb" && !r.source.startsWith("tuned-")).map((r) => r.source);
    // The clients, and the nodes themselves: they reach the public NLB through the NAT gateways.
    const natIps = resourcesOf(j, "aws_eip").map(([id]) => `\${aws_eip.${id}.public_ip}/32`);
    expect(natIps).toHaveLength(3);
    expect(apiSources.sort()).toEqual(["198.51.100.0/24", "203.0.113.0/24", ...natIps].sort());
  });

  test("a bad context value is a clear error", () => {
    expect(() => synthExample(path.join(tmp, "bad", "cdktf.out"), { "aws.workerCount": "two" })).toThrow(/aws\.workerCount must be a whole number/);
  });

  test(`${ENGINE_NAME} init (offline, provider mirror) and validate`, () => {
    terraformOk(example.dir, ["init", "-no-color", "-input=false", "-backend=false"]);
    const lock = fs.readFileSync(path.join(example.dir, ".terraform.lock.hcl"), "utf8");
    // The engines differ here: each resolves `hashicorp/aws` through its own registry's host name.
    const registry = ENGINE === "tofu" ? "registry.opentofu.org" : "registry.terraform.io";
    expect(lock).toMatch(new RegExp(`provider "${registry}/hashicorp/aws"[\\s\\S]*version\\s*=\\s*"5\\.100\\.0"`));
    const validate = JSON.parse(terraformOk(example.dir, ["validate", "-no-color", "-json"]));
    expect(validate).toMatchObject({ valid: true, error_count: 0 });
  });
});

/** Configurations the properties must hold for. */
const variants: [string, Partial<AwsKubeadmClusterProps>][] = [
  ["internet-facing, calico, 3 control-plane nodes", {}],
  [
    "internal, flannel, single NAT, NodePorts, SSM, spot pool",
    {
      cni: { plugin: "flannel" },
      apiLoadBalancer: { internetFacing: false, allowedCidrs: ["10.50.0.0/16"] },
      network: { natGateways: "single", availabilityZones: ["eu-west-1a", "eu-west-1b"] },
      security: { nodePortCidrs: ["10.50.0.0/16"], kubeletFromWorkers: true },
      controlPlane: { replicas: 1, iam: { ssmSessionManager: true } },
      nodePools: [
        { name: "general", minSize: 2, maxSize: 10 },
        { name: "spot", instanceTypes: ["m7i.large", "m6i.large", "m5.large"], spot: { onDemandBaseCapacity: 1 }, minSize: 0, maxSize: 20, taints: [{ key: "spot", effect: "NoSchedule" }], drainTimeoutSeconds: 90 },
      ],
    },
  ],
  [
    "existing VPC, cilium, 5 control-plane nodes on arm64",
    {
      cni: { plugin: "cilium" },
      network: {
        existing: {
          vpcId: "vpc-0123456789abcdef0",
          vpcCidrs: ["10.20.0.0/16"],
          privateSubnetIds: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1", "subnet-0123456789abcdef2"],
          publicSubnetIds: ["subnet-0123456789abcdef3", "subnet-0123456789abcdef4"],
        },
      },
      controlPlane: { replicas: 5, instanceType: "m7g.large" },
      nodePools: [{ name: "general", instanceType: "m7g.xlarge", minSize: 3, maxSize: 3 }],
    },
  ],
  ["secret store off: the secrets travel in user data", { secretStore: { enabled: false } }],
];

describe.each(variants)("properties: %s", (label, overrides) => {
  const dir = pki(label.replace(/[^a-z0-9]+/g, "-"));
  const props = baseProps(dir, overrides);
  let json: Json;
  let cluster: AwsKubeadmCluster;
  /** The private subnets as they appear in the JSON (references or literal ids). */
  let privateSubnets: string[];
  beforeAll(() => {
    const built = build(props);
    cluster = built.cluster;
    json = synthJson(built.stack);
    const net = props.network;
    privateSubnets =
      net && "existing" in net
        ? net.existing.privateSubnetIds
        : resourcesOf(json, "aws_subnet")
            .filter(([, sn]) => /-private-\d$/.test(sn.tags.Name))
            .map(([id]) => `\${aws_subnet.${id}.id}`);
  });
  const replicas = props.controlPlane?.replicas ?? 1;
  const secretsOn = props.secretStore?.enabled ?? true;
  const internetFacing = props.apiLoadBalancer?.internetFacing ?? true;

  test("every launch template: IMDSv2 only with hop limit 1, encrypted gp3 root volume, no public address, no SSH key", () => {
    const templates = resourcesOf(json, "aws_launch_template");
    expect(templates).toHaveLength(replicas + props.nodePools!.length);
    for (const [, lt] of templates) {
      expect(lt.metadata_options).toEqual({ http_endpoint: "enabled", http_tokens: "required", http_put_response_hop_limit: 1, instance_metadata_tags: "disabled" });
      expect(lt.block_device_mappings).toHaveLength(1);
      expect(lt.block_device_mappings[0].ebs).toMatchObject({ encrypted: "true", volume_type: "gp3", delete_on_termination: "true" });
      expect(lt.network_interfaces).toEqual([{ device_index: 0, associate_public_ip_address: "false", delete_on_termination: "true", security_groups: [expect.stringMatching(/^\$\{aws_security_group\..*\.id\}$/)] }]);
      expect(lt.vpc_security_group_ids).toBeUndefined(); // not allowed beside network_interfaces
      expect(lt.key_name).toBeUndefined();
      expect(lt.update_default_version).toBe(true);
    }
  });

  test("no 0.0.0.0/0 ingress except the API port on the load balancer when internet-facing", () => {
    const api = 6443;
    const natIps = resourcesOf(json, "aws_eip").map(([id]) => `\${aws_eip.${id}.public_ip}/32`);
    const lbSources = ingress(json).filter((r) => r.target === "prod-api-lb").map((r) => r.source);
    for (const ip of natIps) expect(lbSources.includes(ip)).toBe(internetFacing);
    for (const rule of ingress(json)) {
      if (rule.source !== "0.0.0.0/0") continue;
      expect(internetFacing).toBe(true);
      expect(rule).toMatchObject({ target: "prod-api-lb", protocol: "tcp", from: api, to: api });
    }
    // Nodes take traffic only from the cluster's own groups (and NodePort CIDRs when opted in).
    const nodePorts = props.security?.nodePortCidrs ?? [];
    for (const rule of ingress(json).filter((r) => r.target !== "prod-api-lb")) {
      if (rule.source.startsWith("prod-")) continue;
      expect(nodePorts).toContain(rule.source);
      expect(rule).toMatchObject({ target: "prod-workers", from: 30000, to: 32767 });
    }
  });

  test("etcd, controller-manager and scheduler ports are open only between control-plane nodes", () => {
    const cpOnly = ingress(json).filter((r) => [2379, 10257, 10259].includes(r.from ?? -1));
    expect(cpOnly.map((r) => r.from).sort()).toEqual([10257, 10259, 2379]);
    for (const r of cpOnly) expect(r).toMatchObject({ target: "prod-control-plane", source: "prod-control-plane" });
    expect(cpOnly.find((r) => r.from === 2379)!.to).toBe(2380);
  });

  test("kubelet from the control plane on every node; CNI data plane between all nodes", () => {
    const rules = ingress(json);
    for (const target of ["prod-control-plane", "prod-workers"]) {
      expect(rules).toContainEqual({ target, source: "prod-control-plane", protocol: "tcp", from: 10250, to: 10250 });
      const plugin = props.cni?.plugin ?? "calico";
      const expected =
        plugin === "calico"
          ? [{ protocol: "4", from: -1, to: -1 }, { protocol: "tcp", from: 179, to: 179 }]
          : plugin === "flannel"
            ? [{ protocol: "udp", from: 8472, to: 8472 }]
            : [{ protocol: "udp", from: 8472, to: 8472 }, { protocol: "tcp", from: 4240, to: 4240 }];
      for (const source of ["prod-control-plane", "prod-workers"]) for (const e of expected) expect(rules).toContainEqual({ target, source, ...e });
    }
  });

  test("API load balancer: NLB, TCP listener on 6443, client-IP preservation off, HTTPS /livez health check", () => {
    const [[, lb]] = resourcesOf(json, "aws_lb");
    expect(lb).toMatchObject({ load_balancer_type: "network", internal: !internetFacing, enable_cross_zone_load_balancing: true });
    const [[, tg]] = resourcesOf(json, "aws_lb_target_group");
    expect(tg).toMatchObject({ port: 6443, protocol: "TCP", preserve_client_ip: "false", target_type: "instance" });
    expect(tg.health_check).toMatchObject({ protocol: "HTTPS", path: "/livez", port: "traffic-port" });
    const [[, listener]] = resourcesOf(json, "aws_lb_listener");
    expect(listener).toMatchObject({ port: 6443, protocol: "TCP" });
  });

  test("control plane: one group of exactly one per slot, own subnet, in the API target group, EC2 health checks", () => {
    const groups = resourcesOf(json, "aws_autoscaling_group").filter(([, g]) => /^prod-cp-\d$/.test(g.name));
    expect(groups).toHaveLength(replicas);
    const subnets = groups.map(([, g]) => g.vpc_zone_identifier);
    for (const [, g] of groups) {
      expect(g).toMatchObject({ min_size: 1, max_size: 1, desired_capacity: 1, health_check_type: "EC2" });
      expect(g.vpc_zone_identifier).toHaveLength(1);
      expect(g.target_group_arns).toEqual([expect.stringMatching(/^\$\{aws_lb_target_group\..*\.arn\}$/)]);
      expect(g.instance_refresh).toBeUndefined(); // upgraded in place by kubeadm, never rolled
    }
    // Spread over zones: consecutive slots never share a subnet.
    for (let i = 1; i < subnets.length; i++) expect(subnets[i]).not.toEqual(subnets[i - 1]);
    expect(new Set(subnets.map(String)).size).toBe(Math.min(replicas, privateSubnets.length));
    for (const [subnet] of subnets) expect(privateSubnets).toContain(subnet);
  });

  test("worker pools: own launch template and group, launch-before-terminate refresh, new workers held by a lifecycle hook until joined, terminating ones while they drain, autoscaler tags when the size may change", () => {
    for (const pool of props.nodePools!) {
      const [, g] = resourcesOf(json, "aws_autoscaling_group").find(([, x]) => x.name === `prod-pool-${pool.name}`)!;
      expect(g.vpc_zone_identifier).toEqual(privateSubnets);
      // Launch before terminate, and (with the secret store) each new worker held until it has joined.
      expect(g.instance_refresh).toEqual({ strategy: "Rolling", preferences: { min_healthy_percentage: 100, max_healthy_percentage: 110, skip_matching: true } });
      // Terminating workers drain first: the pool's drain timeout plus 120 s for the Node's deletion and the CONTINUE.
      expect(g.initial_lifecycle_hook).toEqual(
        secretsOn
          ? [
              { name: "cdktf-kubeadm-joined", lifecycle_transition: "autoscaling:EC2_INSTANCE_LAUNCHING", default_result: "ABANDON", heartbeat_timeout: 3600 },
              { name: "cdktf-kubeadm-drain", lifecycle_transition: "autoscaling:EC2_INSTANCE_TERMINATING", default_result: "CONTINUE", heartbeat_timeout: (pool.drainTimeoutSeconds ?? 300) + 120 },
            ]
          : undefined,
      );
      const tags = Object.fromEntries(g.tag.map((t: Json) => [t.key, t.value]));
      const scales = (pool.minSize ?? 1) < (pool.maxSize ?? 3);
      expect(tags["k8s.io/cluster-autoscaler/enabled"]).toBe(scales ? "true" : undefined);
      expect(g.lifecycle?.ignore_changes).toEqual(scales ? ["desired_capacity"] : undefined);
      for (const t of pool.taints ?? []) expect(tags[`k8s.io/cluster-autoscaler/node-template/taint/${t.key}`]).toBe(`${t.value ?? ""}:${t.effect}`);
      if (pool.spot) {
        expect(g.launch_template).toBeUndefined();
        expect(g.mixed_instances_policy.instances_distribution).toMatchObject({ on_demand_base_capacity: 1, spot_allocation_strategy: "price-capacity-optimized" });
        expect(g.mixed_instances_policy.launch_template.override.map((o: Json) => o.instance_type)).toEqual(pool.instanceTypes);
      }
    }
  });

  test("IAM: a role per node group, assumable only by EC2; its only permission is reading its own audience's secret", () => {
    const roles = resourcesOf(json, "aws_iam_role");
    expect(roles.map(([, r]) => r.name).sort()).toEqual(["prod-control-plane", ...props.nodePools!.map((p) => `prod-pool-${p.name}`)].sort());
    for (const [, r] of roles) {
      expect(JSON.parse(r.assume_role_policy)).toEqual({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }] });
    }
    const roleId = (name: string) => roles.find(([, r]) => r.name === name)![0];
    const secretId = (audience: string) => resourcesOf(json, "aws_secretsmanager_secret").find(([, x]) => x.tags["cdktf-kubeadm/audience"] === audience)?.[0];
    const expected = secretsOn
      ? [
          ["prod-control-plane", "control-plane"],
          ...props.nodePools!.map((p) => [`prod-pool-${p.name}`, "worker"]),
        ].map(([role, audience]) => ({
          role: `\${aws_iam_role.${roleId(role)}.name}`,
          policy: `\${jsonencode({"Version" = "2012-10-17", "Statement" = [{"Sid" = "ReadOwnBootstrapSecret", "Effect" = "Allow", "Action" = "secretsmanager:GetSecretValue", "Resource" = aws_secretsmanager_secret.${secretId(audience)}.arn}]})}`,
        }))
      : [];
    // The control plane also reads the desired-version parameter (in-place upgrades).
    const [[parameterId]] = resourcesOf(json, "aws_ssm_parameter");
    expected.push({
      role: `\${aws_iam_role.${roleId("prod-control-plane")}.name}`,
      policy: `\${jsonencode({"Version" = "2012-10-17", "Statement" = [{"Sid" = "ReadDesiredVersion", "Effect" = "Allow", "Action" = "ssm:GetParameter", "Resource" = aws_ssm_parameter.${parameterId}.arn}]})}`,
    });
    // With the secret store, each pool's role may report (only) its own group's new instances as joined.
    if (secretsOn) {
      for (const p of props.nodePools!) {
        const [groupId] = resourcesOf(json, "aws_autoscaling_group").find(([, x]) => x.name === `prod-pool-${p.name}`)!;
        expected.push({
          role: `\${aws_iam_role.${roleId(`prod-pool-${p.name}`)}.name}`,
          policy: `\${jsonencode({"Version" = "2012-10-17", "Statement" = [{"Sid" = "WorkerLifecycleHooks", "Effect" = "Allow", "Action" = ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"], "Resource" = aws_autoscaling_group.${groupId}.arn}]})}`,
        });
      }
    }
    // With the secret store (its bundle carries the backup agent), the control plane may put etcd snapshots under its prefix, nothing else.
    if (secretsOn) {
      const [[bucketId]] = resourcesOf(json, "aws_s3_bucket");
      const [partitionId] = Object.keys(json.data.aws_partition);
      expected.push({
        role: `\${aws_iam_role.${roleId("prod-control-plane")}.name}`,
        policy: `\${jsonencode({"Version" = "2012-10-17", "Statement" = [{"Sid" = "PutEtcdSnapshots", "Effect" = "Allow", "Action" = "s3:PutObject", "Resource" = "arn:\${data.aws_partition.${partitionId}.partition}:s3:::\${aws_s3_bucket.${bucketId}.id}/prod/*"}]})}`,
      });
    }
    const policies = resourcesOf(json, "aws_iam_role_policy").map(([, x]) => ({ role: x.role, policy: x.policy }));
    const order = (a: { role: string; policy: string }, b: { role: string; policy: string }) => (a.role + a.policy).localeCompare(b.role + b.policy);
    expect(policies.sort(order)).toEqual(expected.sort(order));
    const attachments = resourcesOf(json, "aws_iam_role_policy_attachment").map(([, a]) => a.policy_arn);
    const ssm = /^arn:\$\{data\.aws_partition\.[^}]+\.partition\}:iam::aws:policy\/AmazonSSMManagedInstanceCore$/;
    expect(attachments).toEqual(props.controlPlane?.iam?.ssmSessionManager ? [expect.stringMatching(ssm)] : []);
  });

  test("secrets: one per audience, write-only value from the PKI store, resource policy naming only that audience's roles", () => {
    const secrets = resourcesOf(json, "aws_secretsmanager_secret");
    if (!secretsOn) {
      expect(secrets).toEqual([]);
      return;
    }
    expect(secrets.map(([, x]) => x.tags["cdktf-kubeadm/audience"]).sort()).toEqual(["control-plane", "worker"]);
    const versions = resourcesOf(json, "aws_secretsmanager_secret_version");
    const policies = resourcesOf(json, "aws_secretsmanager_secret_policy");
    const roleRef = (name: string) => `\${aws_iam_role.${resourcesOf(json, "aws_iam_role").find(([, r]) => r.name === name)![0]}.arn}`;
    for (const [id, secret] of secrets) {
      const audience = secret.tags["cdktf-kubeadm/audience"] as "control-plane" | "worker";
      expect(secret).toMatchObject({ name_prefix: `prod/bootstrap/${audience}-`, recovery_window_in_days: 0 });
      const [, version] = versions.find(([, v]) => v.secret_id === `\${aws_secretsmanager_secret.${id}.id}`)!;
      const file = /^\$\{file\("(.*)"\)\}$/.exec(version.secret_string_wo)![1];
      expect(file).toBe(path.join(dir, "bundles", `${audience}.json`));
      expect(fs.readFileSync(file, "utf8")).toBe(cluster.kubeadm.secretBundle(audience));
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(version.secret_string_wo_version).toBe(writeOnlyVersion(cluster.kubeadm.secretBundle(audience)));
      expect(version.secret_string).toBeUndefined();
      const [, policy] = policies.find(([, x]) => x.secret_arn === `\${aws_secretsmanager_secret.${id}.arn}`)!;
      const readers = audience === "control-plane" ? [roleRef("prod-control-plane")] : props.nodePools!.map((p) => roleRef(`prod-pool-${p.name}`));
      const principals = /"Principal" = \{"AWS" = \[(.*?)\]\}/.exec(policy.policy)![1].split(", ").map((r: string) => `\${${r}}`);
      expect(principals.sort()).toEqual(readers.sort());
      expect(policy.block_public_policy).toBe(true);
    }
    // Nothing secret in the synthesized JSON but the admin kubeconfig output.
    const { output: _o, ...rest } = json;
    expect(JSON.stringify(rest)).not.toMatch(/PRIVATE KEY/);
    expect(JSON.stringify(json)).not.toContain(cluster.kubeadm.pki.bootstrapToken);
  });

  test("each role's user data: passes cloud-init schema, right role and node name, CA keys only on the control plane", () => {
    const decoded = userData(json);
    expect(Object.keys(decoded).sort()).toEqual([...Array.from({ length: replicas }, (_, i) => `prod-cp-${i}`), ...props.nodePools!.map((p) => `prod-pool-${p.name}`)].sort());
    for (const [name, text] of Object.entries(decoded)) {
      const schema = cloudInitSchema(text);
      expect({ name, ...schema }).toMatchObject({ name, ok: true });
      const settings = settingsOf(text, NODE_LAYOUT.settings);
      const files = writeFilesOf(text);
      const slot = /-cp-(\d)$/.exec(name)?.[1];
      if (slot !== undefined) {
        expect(settings).toMatchObject({ NODE_ROLE: "control-plane", CP_SLOT: slot, NODE_NAME: name });
        expect(settings.POWEROFF_MINUTES).toBeUndefined();
        if (secretsOn) expect(files[`${NODE_LAYOUT.pkiDir}/ca.key`]).toBeUndefined();
        else expect(files[`${NODE_LAYOUT.pkiDir}/ca.key`].permissions).toBe("0600");
        // The NLB's DNS name is the controlPlaneEndpoint and in the API server certificate.
        const init = files[NODE_LAYOUT.initConfig].content;
        expect(init).toMatch(/controlPlaneEndpoint: demo-api-0123456789\.elb\.eu-west-1\.amazonaws\.com:6443/);
        expect(init).toMatch(/certSANs:[\s\S]*- demo-api-0123456789\.elb\.eu-west-1\.amazonaws\.com/);
      } else {
        expect(settings.NODE_ROLE).toBe("worker");
        // a worker that cannot join powers off: the ASG replaces a stopped instance
        expect(settings.POWEROFF_MINUTES).toBe("10");
        // with the secret store (its code signs the calls) workers drain in the group's drain hook
        const pool = props.nodePools!.find((p) => name === `prod-pool-${p.name}`)!;
        if (secretsOn) expect(settings).toMatchObject({ DRAIN_TIMEOUT: String(pool.drainTimeoutSeconds ?? 300), TERMINATION_HOOK: "cdktf-kubeadm-drain" });
        else expect([settings.DRAIN_TIMEOUT, settings.TERMINATION_HOOK]).toEqual([undefined, undefined]);
        expect(text).not.toMatch(/PRIVATE KEY/);
        expect(Object.keys(files).filter((f) => f.endsWith(".key"))).toEqual([]);
      }
      const audience = slot !== undefined ? "control-plane" : "worker";
      if (secretsOn) {
        expect(text).not.toMatch(/PRIVATE KEY/);
        expect(text).not.toContain(cluster.kubeadm.pki.bootstrapToken);
        const secret = resourcesOf(json, "aws_secretsmanager_secret").find(([, x]) => x.tags["cdktf-kubeadm/audience"] === audience)![0];
        expect(settings).toMatchObject({ SECRETS_SOURCE: "aws-secretsmanager", SECRETS_ID: `<aws_secretsmanager_secret.${secret}.arn>` });
        expect(settings.SECRETS_REGION).toMatch(/^<data\.aws_region\..*\.name>$/);
      } else {
        expect(settings.SECRETS_SOURCE).toBeUndefined();
        expect(text).toContain(cluster.kubeadm.pki.bootstrapToken);
      }
      expect(settings.API_ENDPOINT).toBe("demo-api-0123456789.elb.eu-west-1.amazonaws.com:6443");
    }
  });

  test("desired-version channel: an SSM parameter with the cluster's version, named in the control plane's settings only", () => {
    const params = resourcesOf(json, "aws_ssm_parameter");
    expect(params).toHaveLength(1);
    expect(params[0][1]).toMatchObject({ name: "/cdktf-kubeadm/prod/kubernetes-version", type: "String", value: "1.36.4" });
    for (const [name, text] of Object.entries(userData(json))) {
      const settings = settingsOf(text, NODE_LAYOUT.settings);
      if (/-cp-\d$/.test(name)) expect(settings).toMatchObject({ UPGRADE_CHANNEL: "aws-ssm", UPGRADE_PARAMETER: "/cdktf-kubeadm/prod/kubernetes-version" });
      else expect(settings.UPGRADE_CHANNEL).toBeUndefined();
    }
  });

  test("user data within the EC2 budget (measured at synth), and a warning when above 75% of it", () => {
    // Measured (gzip): control plane ~14.1 KB with the secret store and the upgrade agent, workers ~9 KB.
    const warnings = cluster.kubeadm.node.metadata.map((m) => String(m.data)).filter((m) => /% of the 16384-byte limit/.test(m));
    for (const [role, bytes] of Object.entries(cluster.userDataSizes)) {
      // The default keeps 10% headroom; without the secret store the CA keys ride along (~14.8 KB).
      expect({ role, under: bytes <= 16384 * (secretsOn ? 0.9 : 1) }).toEqual({ role, under: true });
      expect(warnings.some((w) => w.includes(`"${role}"`))).toBe(bytes > 16384 * 0.75);
    }
  });

  test("outputs: endpoint, sensitive kubeconfig, CA pin, expiry; no key material in a plain output", () => {
    expect(Object.keys(json.output).sort()).toEqual(["prod_admin_kubeconfig", "prod_api_endpoint", "prod_ca_cert_hash", "prod_certificate_expiry", ...(secretsOn ? ["prod_etcd_backup_location"] : [])]);
    expect(json.output.prod_admin_kubeconfig.sensitive).toBe(true);
    expect(json.output.prod_api_endpoint.value).toMatch(/^https:\/\/\$\{aws_lb\..*\.dns_name\}:6443$/);
    for (const out of Object.values<Json>(json.output)) if (!out.sensitive) expect(JSON.stringify(out.value)).not.toMatch(/PRIVATE KEY|client-key-data/);
  });
});

describe("annotations", () => {
  const messages = (props: AwsKubeadmClusterProps) => build(props).cluster.node.metadata.map((m) => String(m.data));
  const existingNetwork = {
    existing: {
      vpcId: "vpc-0123456789abcdef0",
      vpcCidrs: ["10.20.0.0/16"],
      privateSubnetIds: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
      publicSubnetIds: ["subnet-0123456789abcdef2", "subnet-0123456789abcdef3"],
    },
  };
  test("an existing VPC with a restricted public API: the nodes' egress addresses must be allowed", () => {
    const restricted = messages(baseProps(pki("annotations"), { network: existingNetwork, apiLoadBalancer: { allowedCidrs: ["198.51.100.0/24"] } }));
    expect(restricted.some((m) => /add those public addresses to apiLoadBalancer\.allowedCidrs/.test(m))).toBe(true);
    expect(restricted.some((m) => /egress to it \(NAT, or a secretsmanager interface endpoint\)/.test(m))).toBe(true);
    const managed = messages(baseProps(pki("annotations"), { apiLoadBalancer: { allowedCidrs: ["198.51.100.0/24"] } }));
    expect(managed.some((m) => /add those public addresses/.test(m))).toBe(false); // the construct allows its NAT gateways itself
  });
});

describe("a control-plane-only cluster (no node pools)", () => {
  test("gets the control-plane secret only: a resource policy may not name zero principals", () => {
    const { stack } = build(baseProps(pki("no-pools"), { nodePools: [] }));
    const json = synthJson(stack);
    expect(resourcesOf(json, "aws_secretsmanager_secret").map(([, x]) => x.tags["cdktf-kubeadm/audience"])).toEqual(["control-plane"]);
    for (const [, policy] of resourcesOf(json, "aws_secretsmanager_secret_policy")) expect(policy.policy).not.toMatch(/"AWS" = \[\]/);
    expect(resourcesOf(json, "aws_autoscaling_group").map(([, g]) => g.name)).toEqual(["prod-cp-0", "prod-cp-1", "prod-cp-2"]);
  });
});
