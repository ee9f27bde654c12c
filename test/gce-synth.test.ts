/**
 * What the GCE construct synthesizes (no Google provider binary offline, so the proof is the
 * type-checked bindings plus the JSON): a snapshot of the example stack with secrets masked,
 * properties over several configurations (firewall sources and ports, templates, load balancer,
 * update policies, service accounts), each role's decoded user data through the real
 * `cloud-init schema`, no secret in any node's user data (they come from Secret Manager: see
 * gce-secrets.test.ts), determinism.
 */
import * as fs from "fs";
import * as path from "path";
import { TerraformStack, Testing } from "cdktf";
import { GCE_EXAMPLE_STACK, gceExample } from "../examples/gce/main";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import { GceKubeadmCluster, GceKubeadmClusterProps, HEALTH_CHECK_RANGES } from "../src/constructs/gce";
import { cloudInitSchema } from "./support/cloud-init-schema";
import { baseProps, build, decodeTerraformString, Json, resourcesOf, settingsOf, synthJson, tempDir, writeFilesOf } from "./support/gce-fixtures";

const tmp = tempDir("gce-synth-");
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
/** One PKI store per cluster name. */
const pki = (name: string) => path.join(tmp, `pki-${name}`);
const LIMIT = 262144;

function exampleStack(context: Record<string, string> = {}): { stack: TerraformStack; cluster: GceKubeadmCluster } {
  const app = Testing.app({ context: { "gce.pkiDirectory": pki("demo-gce"), ...context } });
  gceExample(app);
  const stack = app.node.findChild(GCE_EXAMPLE_STACK) as TerraformStack;
  const cluster = stack.node.findAll().find((c): c is GceKubeadmCluster => c instanceof GceKubeadmCluster)!;
  return { stack, cluster };
}

/** Every metadata `user-data` value, by resource logical id. */
function userDataOf(json: Json): Record<string, string> {
  const out: Record<string, string> = {};
  for (const type of ["google_compute_instance_template", "google_compute_instance"]) {
    for (const [id, r] of resourcesOf(json, type)) out[id] = r.metadata["user-data"];
  }
  return out;
}

/** The synthesized JSON with certificates, keys and times replaced by placeholders. */
function normalize(json: Json): Json {
  const copy = JSON.parse(JSON.stringify(json));
  for (const type of ["google_compute_instance_template", "google_compute_instance"]) {
    for (const [, r] of resourcesOf(copy, type)) {
      const text = decodeTerraformString(r.metadata["user-data"]);
      r.metadata["user-data"] = `<cloud-config: ${Object.keys(writeFilesOf(text)).length} files>`;
    }
  }
  // The bundle file lives in a temporary PKI store; its version number hashes freshly generated keys.
  for (const [, r] of resourcesOf(copy, "google_secret_manager_secret_version")) {
    r.secret_data_wo = r.secret_data_wo.replace(/file\("[^"]*\/bundles\/([a-z-]+\.json)"\)/, 'file("<pki store>/bundles/$1")');
    r.secret_data_wo_version = "<from the bundle>";
  }
  for (const [name, out] of Object.entries<Json>(copy.output ?? {})) {
    if (/_(admin_kubeconfig|ca_cert_hash|certificate_expiry)$/.test(name)) out.value = "<secret or time>";
  }
  return copy;
}

/** Stand-in for a Terraform reference when a decoded cloud-config is checked. */
const tokenAsAddress = () => "203.0.113.10";

describe("example stack", () => {
  let json: Json;
  let text: string;
  beforeAll(() => {
    text = Testing.synth(exampleStack().stack);
    json = JSON.parse(text);
  });

  test("snapshot of the synthesized configuration (placeholders for secrets and times)", () => {
    expect(normalize(json)).toMatchSnapshot();
  });

  test("byte-identical on a second synth (PKI reused from the store)", () => {
    expect(Testing.synth(exampleStack().stack)).toEqual(text);
  });

  test("context tunables reach the resources", () => {
    const tuned = synthJson(
      exampleStack({
        "gce.project": "other-project-9",
        "gce.region": "us-central1",
        "gce.clusterName": "tuned",
        "gce.pkiDirectory": pki("tuned"),
        "gce.controlPlaneReplicas": "1",
        "gce.workerCount": "4",
        "gce.workerMachineType": "e2-standard-4",
        "gce.image": "projects/my-images-1/global/images/family/golden",
        "gce.spot": "true",
        "gce.apiAllowedCidrs": "198.51.100.0/24",
      }).stack,
    );
    expect(tuned.provider.google[0]).toMatchObject({ project: "other-project-9", region: "us-central1" });
    expect(resourcesOf(tuned, "google_compute_instance_group_manager")).toHaveLength(1);
    const [[, group]] = resourcesOf(tuned, "google_compute_region_instance_group_manager");
    expect(group).toMatchObject({ name: "tuned-pool-general", target_size: 4, region: "us-central1" });
    const pool = resourcesOf(tuned, "google_compute_instance_template").find(([id]) => id.includes("pool"))![1];
    expect(pool).toMatchObject({ machine_type: "e2-standard-4", scheduling: { provisioning_model: "SPOT" } });
    expect(pool.disk[0].source_image).toBe("projects/my-images-1/global/images/family/golden");
    const clients = resourcesOf(tuned, "google_compute_firewall").find(([, r]) => r.name === "tuned-api-from-clients")![1];
    expect(clients.source_ranges).toEqual(["198.51.100.0/24"]);
  });

  test("each role's decoded user data passes `cloud-init schema`; no node carries keys, each names its secret", () => {
    const roles = Object.entries(userDataOf(json));
    expect(roles).toHaveLength(4);
    for (const [id, expression] of roles) {
      const cloudConfig = decodeTerraformString(expression, tokenAsAddress);
      expect(cloudConfig.startsWith("#cloud-config\n")).toBe(true);
      expect(Buffer.byteLength(cloudConfig)).toBeLessThan(LIMIT);
      const schema = cloudInitSchema(cloudConfig);
      expect({ id, ...schema }).toEqual({ id, ok: true, output: expect.any(String) });
      expect(cloudConfig).not.toMatch(/PRIVATE KEY/);
      expect(cloudConfig).not.toContain(`path: ${NODE_LAYOUT.pkiDir}/ca.key`);
      const audience = id.includes("pool") ? "worker" : "control-plane";
      expect(settingsOf(cloudConfig, NODE_LAYOUT.settings)).toMatchObject({ SECRETS_SOURCE: "gce-secretmanager", SECRETS_ID: `projects/my-project-123/secrets/demo-gce-${audience}-bootstrap/versions/latest` });
    }
  });
});

/** The configurations the properties are checked over. */
const CONFIGS: [string, () => GceKubeadmClusterProps][] = [
  ["default (external LB, calico, 3 slots, auto-healing)", () => baseProps(pki("prod"))],
  [
    "internal LB, flannel, explicit zones, NodePorts, kubelet from workers",
    () =>
      baseProps(pki("prod"), {
        cni: { plugin: "flannel" },
        apiLoadBalancer: { external: false, allowedCidrs: ["10.100.0.0/16"] },
        controlPlane: { replicas: 3, zones: ["europe-west4-a", "europe-west4-b", "europe-west4-c"] },
        security: { nodePortCidrs: ["192.0.2.0/24"], kubeletFromWorkers: true },
      }),
  ],
  [
    "existing network, cilium, spot + Compute Engine autoscaler, two pools",
    () =>
      baseProps(pki("prod"), {
        cni: { plugin: "cilium" },
        network: {
          existing: {
            network: "projects/my-project-123/global/networks/shared",
            subnetwork: "projects/my-project-123/regions/europe-west4/subnetworks/k8s",
            subnetCidrs: ["10.20.0.0/20"],
            controlPlaneAddresses: ["10.20.0.10", "10.20.0.11", "10.20.0.12"],
          },
        },
        nodePools: [
          { name: "general", machineType: "n2-standard-4", minSize: 2, maxSize: 10 },
          { name: "batch", machineType: "n2-standard-8", minSize: 0, maxSize: 20, spot: true, autoscaling: { cpuTarget: 0.7 }, taints: [{ key: "batch", effect: "NoSchedule" }] },
        ],
      }),
  ],
  ["plain control-plane instances (no auto-healing), one slot, no CNI", () => baseProps(pki("prod"), { controlPlane: { replicas: 1, autoHealing: false }, cni: { plugin: "none" } })],
];

interface Rule {
  readonly allow: Json[];
  readonly ranges?: string[];
  readonly tags?: string[];
  readonly targets: string[];
}

/** The firewall the issue asks for, derived independently from the props. */
function expectedRules(props: GceKubeadmClusterProps, natAddresses: string[]): Record<string, Rule> {
  const cp = "prod-control-plane";
  const nodes = [cp, "prod-worker"];
  const external = props.apiLoadBalancer?.external ?? true;
  const allowed = props.apiLoadBalancer?.allowedCidrs ?? (external ? ["0.0.0.0/0"] : []);
  const api = [{ protocol: "tcp", ports: ["6443"] }];
  const rules: Record<string, Rule> = {
    "prod-api-from-health-checks": { allow: api, ranges: [...(external ? HEALTH_CHECK_RANGES.externalPassthrough : HEALTH_CHECK_RANGES.standard)], targets: [cp] },
    "prod-api-from-nodes": { allow: api, tags: nodes, targets: [cp] },
    "prod-control-plane-internal": { allow: [{ protocol: "tcp", ports: ["2379-2380", "10257", "10259"] }], tags: [cp], targets: [cp] },
    "prod-kubelet-from-control-plane": { allow: [{ protocol: "tcp", ports: ["10250"] }], tags: props.security?.kubeletFromWorkers ? nodes : [cp], targets: nodes },
    "prod-kubelet-from-health-checks": { allow: [{ protocol: "tcp", ports: ["10250"] }], ranges: ["35.191.0.0/16", "130.211.0.0/22"], targets: nodes },
  };
  if (allowed.length > 0) rules["prod-api-from-clients"] = { allow: api, ranges: allowed, targets: [cp] };
  if (external && natAddresses.length > 0) rules["prod-api-from-nat"] = { allow: api, ranges: natAddresses.map((a) => `${a}/32`), targets: [cp] };
  const cni = {
    calico: [{ protocol: "ipip" }, { protocol: "tcp", ports: ["179"] }],
    flannel: [{ protocol: "udp", ports: ["8472"] }],
    cilium: [
      { protocol: "udp", ports: ["8472"] },
      { protocol: "tcp", ports: ["4240"] },
    ],
    none: [],
  }[props.cni?.plugin ?? "calico"];
  if (cni.length > 0) rules["prod-cni"] = { allow: cni, tags: nodes, targets: nodes };
  const nodePorts = props.security?.nodePortCidrs ?? [];
  if (nodePorts.length > 0) {
    rules["prod-node-ports"] = {
      allow: [
        { protocol: "tcp", ports: ["30000-32767"] },
        { protocol: "udp", ports: ["30000-32767"] },
      ],
      ranges: nodePorts,
      targets: ["prod-worker"],
    };
  }
  return rules;
}

/** `${google_x.id.attr}` of a resource. */
const ref = (type: string, id: string, attr: string) => `\${${type}.${id}.${attr}}`;

describe.each(CONFIGS)("properties: %s", (_name, makeProps) => {
  const props = makeProps();
  const built = build(props);
  const json = synthJson(built.stack);
  const accounts = Object.fromEntries(resourcesOf(json, "google_service_account").map(([id, r]) => [r.account_id, id]));

  test("firewall: exactly the intended rules, sources and ports; 0.0.0.0/0 only on the API when external", () => {
    const natAddresses = resourcesOf(json, "google_compute_address")
      .filter(([, r]) => r.name.startsWith("prod-nat-"))
      .map(([id]) => ref("google_compute_address", id, "address"));
    const actual: Record<string, Rule> = Object.fromEntries(
      resourcesOf(json, "google_compute_firewall").map(([, r]) => {
        expect(r).toMatchObject({ direction: "INGRESS", project: "my-project-123" });
        expect(r.deny).toBeUndefined();
        expect(r.source_ranges === undefined || r.source_tags === undefined).toBe(true);
        const rule: Rule = { allow: r.allow, targets: r.target_tags, ...(r.source_ranges ? { ranges: r.source_ranges } : {}), ...(r.source_tags ? { tags: r.source_tags } : {}) };
        return [r.name, rule];
      }),
    );
    expect(actual).toEqual(expectedRules(props, natAddresses));
    for (const [name, rule] of Object.entries(actual)) {
      if (rule.ranges?.includes("0.0.0.0/0")) {
        expect(name).toBe("prod-api-from-clients");
        expect(props.apiLoadBalancer?.external ?? true).toBe(true);
      }
    }
  });

  test("every node: Shielded VM, its group's dedicated service account, user data under budget, no external address", () => {
    const nodes = [...resourcesOf(json, "google_compute_instance_template"), ...resourcesOf(json, "google_compute_instance")];
    expect(nodes.length).toBe((props.controlPlane?.replicas ?? 1) + (props.nodePools?.length ?? 1));
    for (const [id, r] of nodes) {
      const isControlPlane = id.includes("control-plane");
      const pool = /pool-([a-z0-9-]+)-template/.exec(id)?.[1];
      expect(r.shielded_instance_config).toEqual({ enable_secure_boot: true, enable_vtpm: true, enable_integrity_monitoring: true });
      const account = isControlPlane ? accounts["prod-control-plane"] : accounts[`prod-pool-${pool}`];
      expect(account).toBeDefined();
      expect(r.service_account).toEqual({ email: ref("google_service_account", account, "email"), scopes: ["cloud-platform"] });
      expect(r.metadata).toMatchObject({ "block-project-ssh-keys": "TRUE", "enable-oslogin": "TRUE" });
      // a deleted worker drains in its shutdown script; control-plane VMs are not drained
      expect(r.metadata["shutdown-script"]).toBe(isControlPlane ? undefined : "#!/bin/bash\nexec /usr/local/sbin/cdktf-kubeadm-bootstrap drain\n");
      const cloudConfig = decodeTerraformString(r.metadata["user-data"], tokenAsAddress);
      expect(Buffer.byteLength(cloudConfig)).toBeLessThan(LIMIT * 0.75);
      expect(cloudConfig).not.toContain("PRIVATE KEY"); // keys come from Secret Manager (gce-secrets.test.ts)
      expect(r.network_interface).toHaveLength(1);
      expect(r.network_interface[0].access_config).toBeUndefined();
      expect(r.can_ip_forward).toBe(false);
      expect(r.tags[0]).toBe(isControlPlane ? "prod-control-plane" : "prod-worker");
      if (r.disk) expect(r.disk).toEqual([expect.objectContaining({ boot: true, auto_delete: true, disk_type: "pd-balanced", disk_size_gb: 50, source_image: expect.stringMatching(/ubuntu-2404-lts-amd64$/) })]);
    }
  });

  test("service accounts: one per group, only the minimal roles, never the default compute account", () => {
    expect(Object.keys(accounts).sort()).toEqual(["prod-control-plane", ...(props.nodePools ?? []).map((p) => `prod-pool-${p.name}`)].sort());
    const bindings = resourcesOf(json, "google_project_iam_member").map(([, r]) => r);
    expect(bindings).toHaveLength(2 * Object.keys(accounts).length);
    for (const b of bindings) expect(["roles/logging.logWriter", "roles/monitoring.metricWriter"]).toContain(b.role);
    expect(JSON.stringify(json)).not.toMatch(/-compute@developer\.gserviceaccount\.com/);
  });

  test("API load balancer: passthrough TCP on 6443, health check of /livez on 6443, backends are the slots", () => {
    const external = props.apiLoadBalancer?.external ?? true;
    const [[hcId, hc]] = resourcesOf(json, "google_compute_region_health_check");
    expect(hc.https_health_check).toEqual({ port: 6443, request_path: "/livez" });
    const [[bsId, bs]] = resourcesOf(json, "google_compute_region_backend_service");
    expect(bs).toMatchObject({ protocol: "TCP", load_balancing_scheme: external ? "EXTERNAL" : "INTERNAL", health_checks: [ref("google_compute_region_health_check", hcId, "id")] });
    expect(bs.backend).toHaveLength(props.controlPlane?.replicas ?? 1);
    const [[, fr]] = resourcesOf(json, "google_compute_forwarding_rule");
    expect(fr).toMatchObject({ ports: ["6443"], ip_protocol: "TCP", load_balancing_scheme: external ? "EXTERNAL" : "INTERNAL", backend_service: ref("google_compute_region_backend_service", bsId, "id") });
    const [apiId, api] = resourcesOf(json, "google_compute_address").find(([, r]) => r.name === "prod-api")!;
    expect(api.address_type).toBe(external ? "EXTERNAL" : "INTERNAL");
    expect(fr.ip_address).toBe(ref("google_compute_address", apiId, "address"));
    if (!external) expect(fr.subnetwork).toBeDefined();
  });

  test("control plane: stable name and reserved address per slot; joiners try the peers first, with the hairpin DNAT", () => {
    const replicas = props.controlPlane?.replicas ?? 1;
    const addresses = resourcesOf(json, "google_compute_address").filter(([, r]) => /^prod-cp-\d$/.test(r.name));
    expect(addresses.map(([, r]) => r.address_type)).toEqual(Array(replicas).fill("INTERNAL"));
    const literal = addresses.map(([, r]) => r.address as string);
    expect(literal.every((a) => /^10\.\d+\.0\.1\d$/.test(a))).toBe(true);
    const autoHealing = props.controlPlane?.autoHealing ?? true;
    if (autoHealing) {
      const groups = resourcesOf(json, "google_compute_instance_group_manager");
      expect(groups).toHaveLength(replicas);
      for (const [, g] of groups) {
        expect(g.auto_healing_policies.initial_delay_sec).toBeGreaterThanOrEqual(900);
        expect(g.lifecycle.ignore_changes).toEqual(["target_size"]);
        expect(g.update_policy).toMatchObject({ type: "OPPORTUNISTIC", replacement_method: "RECREATE" });
        expect(g.stateful_internal_ip).toEqual([{ interface_name: "nic0", delete_rule: "NEVER" }]);
      }
      const configs = resourcesOf(json, "google_compute_per_instance_config").map(([, r]) => r);
      expect(configs.map((c) => c.name)).toEqual(Array.from({ length: replicas }, (_, n) => `prod-cp-${n}`));
      configs.forEach((c, n) => expect(c.preserved_state.internal_ip[0].ip_address.address).toBe(ref("google_compute_address", addresses[n][0], "self_link")));
      const hc = resourcesOf(json, "google_compute_health_check").find(([, r]) => r.name === "prod-control-plane-health")![1];
      // Generous: minutes of failed probes before a recreate (a kubeadm upgrade restarts components).
      expect(hc.check_interval_sec * hc.unhealthy_threshold).toBeGreaterThanOrEqual(300);
    } else {
      const instances = resourcesOf(json, "google_compute_instance").map(([, r]) => r);
      expect(instances.map((i) => i.name)).toEqual(Array.from({ length: replicas }, (_, n) => `prod-cp-${n}`));
      instances.forEach((i, n) => expect(i.network_interface[0].network_ip).toBe(ref("google_compute_address", addresses[n][0], "address")));
      expect(resourcesOf(json, "google_compute_instance_group")).toHaveLength(replicas);
    }
    for (const [id, expression] of Object.entries(userDataOf(json))) {
      const settings = settingsOf(decodeTerraformString(expression), NODE_LAYOUT.settings);
      if (id.includes("control-plane")) {
        expect(settings.API_PEER_ENDPOINTS).toBe(literal.map((a) => `${a}:6443`).join(" "));
        expect(settings.API_HAIRPIN_DNAT).toBe("1");
        expect(settings.NODE_NAME).toMatch(/^prod-cp-\d$/);
        expect(settings.POWEROFF_MINUTES).toBeUndefined();
      } else {
        expect(settings.API_PEER_ENDPOINTS).toBeUndefined();
        expect(settings.API_HAIRPIN_DNAT).toBeUndefined();
        // a worker that cannot join powers off: the MIG recreates a stopped VM
        expect(settings.POWEROFF_MINUTES).toBe("10");
        // its shutdown script drains within the pool's timeout (Spot VMs get 30 s in all: 20)
        const pool = (props.nodePools ?? [{ name: "general" }]).find((p) => id.includes(`pool-${p.name}-`))!;
        expect(settings.DRAIN_TIMEOUT).toBe(String(pool.drainTimeoutSeconds ?? (pool.spot ? 20 : 60)));
        expect(settings.TERMINATION_HOOK).toBeUndefined();
      }
      if (props.apiLoadBalancer?.external === false) expect(settings.API_ENDPOINT).toBe("10.0.0.5:6443");
    }
  });

  test("worker pools: regional, proactive rolling updates with surge and zero unavailable, auto-healing, sizing", () => {
    const specPools = props.nodePools ?? [];
    const groups = resourcesOf(json, "google_compute_region_instance_group_manager");
    expect(groups).toHaveLength(specPools.length);
    for (const [, g] of groups) {
      const spec = specPools.find((p) => g.name === `prod-pool-${p.name}`)!;
      expect(g.update_policy).toMatchObject({ type: "PROACTIVE", minimal_action: "REPLACE", max_unavailable_fixed: 0 });
      expect(g.update_policy.max_surge_fixed).toBeGreaterThanOrEqual(3);
      expect(g.auto_healing_policies.initial_delay_sec).toBeGreaterThan(0);
      const hcName = resourcesOf(json, "google_compute_health_check").find(([id]) => g.auto_healing_policies.health_check.includes(id))![1].name;
      expect(hcName).toBe("prod-worker-health");
      if (spec.autoscaling) {
        expect(g.target_size).toBeUndefined();
        const scaler = resourcesOf(json, "google_compute_region_autoscaler").find(([, r]) => r.name === g.name)![1];
        expect(scaler.autoscaling_policy).toMatchObject({ min_replicas: spec.minSize, max_replicas: spec.maxSize, cpu_utilization: { target: spec.autoscaling.cpuTarget } });
      } else {
        expect(g.target_size).toBe(spec.desiredSize ?? spec.minSize);
      }
      if ((spec.minSize ?? 1) < (spec.maxSize ?? 3)) expect(g.lifecycle.ignore_changes).toEqual(["target_size"]);
    }
    for (const [id, t] of resourcesOf(json, "google_compute_instance_template")) {
      const spot = specPools.find((p) => id.includes(`pool-${p.name}-`))?.spot;
      if (spot) expect(t.scheduling).toEqual({ provisioning_model: "SPOT", preemptible: true, automatic_restart: false, on_host_maintenance: "TERMINATE", instance_termination_action: "DELETE" });
      else expect(t.scheduling.provisioning_model).toBe("STANDARD");
    }
  });

  test("outputs: API endpoint, sensitive admin kubeconfig, CA pin, certificate expiry", () => {
    expect(Object.keys(json.output).sort()).toEqual(["prod_admin_kubeconfig", "prod_api_endpoint", "prod_ca_cert_hash", "prod_certificate_expiry", "prod_etcd_backup_location"]);
    expect(json.output.prod_admin_kubeconfig.sensitive).toBe(true);
    expect(json.output.prod_ca_cert_hash.value).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  test("names fit GCE's rules", () => {
    for (const [type, resources] of Object.entries<Record<string, Json>>(json.resource)) {
      for (const r of Object.values(resources)) {
        if (typeof r.name === "string" && !type.startsWith("google_project")) expect(r.name).toMatch(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
        if (typeof r.name_prefix === "string") expect(r.name_prefix).toMatch(/^[a-z][-a-z0-9]{0,36}$/);
      }
    }
  });
});

test("long cluster and pool names give valid, distinct, bounded names", () => {
  const name = "a-very-long-cluster-name-that-is-forty-c".slice(0, 40);
  const json = synthJson(
    build({ ...baseProps(pki(name)), name, nodePools: [{ name: "general-purpose-0001" }, { name: "general-purpose-0002" }] }).stack,
  );
  const names = Object.values<Json>(json.resource.google_compute_region_instance_group_manager).map((r) => r.name);
  expect(new Set(names).size).toBe(2);
  for (const n of names) expect(n).toMatch(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
  for (const r of Object.values<Json>(json.resource.google_service_account)) expect(r.account_id).toMatch(/^[a-z][-a-z0-9]{4,28}[a-z0-9]$/);
});
