/**
 * In-place upgrades on GCE: the desired-version channel (a project metadata key the control
 * plane's upgrade agent reads), what user data names it, and what a version bump changes: two
 * synths of the same cluster (same PKI store) at 1.36.4 and 1.37.1, compared resource by resource.
 */
import * as fs from "fs";
import * as path from "path";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import { desiredVersionMetadataKey, GceKubeadmClusterProps } from "../src/constructs/gce";
import { baseProps, build, decodeTerraformString, Json, resourcesOf, settingsOf, synthJson, tempDir, writeFilesOf } from "./support/gce-fixtures";
import { changesBetween, differences, flatten, scriptOfBundle } from "./support/stack-json";

const tmp = tempDir("gce-upgrade-");
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const pki = (name: string) => path.join(tmp, `pki-${name}`);

const KEY = "cdktf-kubeadm-prod-kubernetes-version";
const VALID_KEY = /^[a-zA-Z0-9_-]{1,128}$/;

/** Decoded cloud-config per resource id of the templates and instances. */
function cloudConfigs(json: Json): Record<string, string> {
  const out: Record<string, string> = {};
  for (const type of ["google_compute_instance_template", "google_compute_instance"]) {
    for (const [id, r] of resourcesOf(json, type)) out[id] = decodeTerraformString(r.metadata["user-data"]);
  }
  return out;
}

describe("the desired-version channel", () => {
  let json: Json;
  let built: ReturnType<typeof build>;
  beforeAll(() => {
    built = build(baseProps(pki("channel")));
    json = synthJson(built.stack);
  });

  test("one project metadata item, key derived from the cluster name, value the cluster's version", () => {
    const items = resourcesOf(json, "google_compute_project_metadata_item");
    expect(items).toHaveLength(1);
    expect(items[0][1]).toEqual({ project: "my-project-123", key: KEY, value: "1.36.4" });
  });

  test("control-plane user data reads it (gce-metadata, the key, the agent in the script); workers carry no channel", () => {
    const configs = Object.entries(cloudConfigs(json));
    expect(configs).toHaveLength(4);
    for (const [id, text] of configs) {
      const settings = settingsOf(text, NODE_LAYOUT.settings);
      // user data carries the loader; the full script (with or without the agent) is in the bundle
      expect(writeFilesOf(text)[NODE_LAYOUT.script].content).not.toMatch(/^upgrade\(\)|desired_gce/m);
      const script = scriptOfBundle(built.cluster.kubeadm.secretBundle(id.includes("pool") ? "worker" : "control-plane"));
      if (id.includes("pool")) {
        expect({ id, keys: Object.keys(settings).filter((k) => k.startsWith("UPGRADE_")) }).toEqual({ id, keys: [] });
        expect(script).not.toContain("desired_gce");
        expect(script).not.toMatch(/^upgrade\(\)/m);
      } else {
        expect({ id, UPGRADE_CHANNEL: settings.UPGRADE_CHANNEL, UPGRADE_METADATA_KEY: settings.UPGRADE_METADATA_KEY }).toEqual({ id, UPGRADE_CHANNEL: "gce-metadata", UPGRADE_METADATA_KEY: KEY });
        expect(script).toMatch(/^upgrade\(\)/m);
        expect(script).toContain("desired_gce");
        expect(script).toContain("project/attributes/$UPGRADE_METADATA_KEY");
        // No SSM reader (AWS), no file channel reader needed.
        expect(script).not.toContain("desired_aws");
      }
      // The key is a literal: the metadata item's value never flows into a template.
      expect(text).not.toContain("google_compute_project_metadata_item");
    }
  });

  test("the key exists before any control-plane VM boots (per-instance configs and plain instances)", () => {
    const dependency = `google_compute_project_metadata_item.${resourcesOf(json, "google_compute_project_metadata_item")[0][0]}`;
    const configs = resourcesOf(json, "google_compute_per_instance_config");
    expect(configs).toHaveLength(3);
    for (const [, r] of configs) expect(r.depends_on).toContain(dependency);
    const plain = synthJson(build(baseProps(pki("channel-plain"), { controlPlane: { replicas: 1, autoHealing: false } })).stack);
    const [[itemId]] = resourcesOf(plain, "google_compute_project_metadata_item");
    const [[, instance]] = resourcesOf(plain, "google_compute_instance");
    expect(instance.depends_on).toContain(`google_compute_project_metadata_item.${itemId}`);
    // Worker groups do not wait for it: they never read it.
    for (const [, g] of resourcesOf(json, "google_compute_region_instance_group_manager")) expect(g.depends_on.join(" ")).not.toContain("metadata_item");
  });

  test("keys: valid metadata keys, deterministic, distinct, at most 128 characters for any name", () => {
    const longest = `c${"x".repeat(39)}`;
    expect(desiredVersionMetadataKey(longest)).toBe(`cdktf-kubeadm-${longest}-kubernetes-version`);
    const keys = new Set<string>();
    for (const name of ["a", "prod", longest, "y".repeat(120), "y".repeat(121), "z".repeat(300)]) {
      const key = desiredVersionMetadataKey(name);
      expect({ name, valid: VALID_KEY.test(key), prefix: key.startsWith("cdktf-kubeadm-"), suffix: key.endsWith("-kubernetes-version") }).toEqual({ name, valid: true, prefix: true, suffix: true });
      expect(desiredVersionMetadataKey(name)).toBe(key);
      keys.add(key);
    }
    expect(keys.size).toBe(6);
  });

  test("the construct exposes the channel", () => {
    const { cluster } = build(baseProps(pki("channel-field")));
    expect(cluster.desiredVersion.key).toBe(KEY);
    expect(cluster.desiredVersion.channel).toEqual({ kind: "gce-metadata", key: KEY });
  });
});

describe.each<[string, (pkiDir: string) => Partial<GceKubeadmClusterProps>]>([
  ["auto-healing control-plane slots (default)", () => ({})],
  ["plain control-plane instances", () => ({ controlPlane: { replicas: 3, machineType: "n2-standard-2", autoHealing: false } })],
])("a version bump 1.36.4 -> 1.37.1: %s", (label, overrides) => {
  let before: Json;
  let after: Json;
  let changed: string[];
  beforeAll(() => {
    const dir = pki(`bump-${label.split(" ")[0]}`);
    before = synthJson(build(baseProps(dir, { ...overrides(dir), kubernetesVersion: "1.36.4" })).stack);
    // Same PKI store: the version history allows the next minor.
    after = synthJson(build(baseProps(dir, { ...overrides(dir), kubernetesVersion: "1.37.1" })).stack);
    changed = Object.keys(changesBetween(before, after)).sort();
  });

  test("no logical id appears or disappears: the same resources, data sources and outputs", () => {
    expect([...flatten(after).keys()].sort()).toEqual([...flatten(before).keys()].sort());
  });

  test("only templates / plain instances (user data) and the desired version differ", () => {
    const types = [...new Set(changed.map((k) => k.split(".").slice(0, 2).join(".")))].sort();
    const plain = label.startsWith("plain");
    expect(types).toEqual(
      plain
        ? ["resource.google_compute_instance", "resource.google_compute_instance_template", "resource.google_compute_project_metadata_item"]
        : ["resource.google_compute_instance_template", "resource.google_compute_project_metadata_item"],
    );
    // Every template changed (the version is in every role's user data): 3 slots + 1 pool, or the pool alone.
    expect(changed.filter((k) => k.includes("instance_template"))).toHaveLength(plain ? 1 : 4);
    const [[id, item]] = resourcesOf(after, "google_compute_project_metadata_item");
    expect(differences(resourcesOf(before, "google_compute_project_metadata_item")[0][1], item)).toEqual(["value"]);
    expect(item.value).toBe("1.37.1");
    expect(id).toBe(resourcesOf(before, "google_compute_project_metadata_item")[0][0]);
  });

  test("templates differ only in user data, and are replaced create-before-destroy under a name prefix", () => {
    for (const [id, t] of resourcesOf(after, "google_compute_instance_template")) {
      const old = before.resource.google_compute_instance_template[id];
      expect({ id, paths: differences(old, t) }).toEqual({ id, paths: ['metadata.user-data'] });
      expect(t.name).toBeUndefined();
      expect(t.name_prefix).toMatch(/-$/);
      expect(t.lifecycle).toEqual({ create_before_destroy: true });
      const settings = settingsOf(decodeTerraformString(t.metadata["user-data"]), NODE_LAYOUT.settings);
      expect({ id, K8S_VERSION: settings.K8S_VERSION, K8S_MINOR: settings.K8S_MINOR }).toEqual({ id, K8S_VERSION: "1.37.1", K8S_MINOR: "1.37" });
    }
  });

  test("groups, per-instance configs, the load balancer, network, IAM and secrets are untouched", () => {
    // The groups name their template by reference (self_link): a replaced template updates the
    // group's version in place; the control-plane slots' OPPORTUNISTIC policy recreates no VM.
    for (const [, g] of resourcesOf(after, "google_compute_instance_group_manager")) {
      expect(g.version[0].instance_template).toMatch(/^\$\{google_compute_instance_template\.[^}]+\.self_link\}$/);
      expect(g.update_policy.type).toBe("OPPORTUNISTIC");
    }
    for (const [, g] of resourcesOf(after, "google_compute_region_instance_group_manager")) {
      expect(g.version[0].instance_template).toMatch(/^\$\{google_compute_instance_template\.[^}]+\.self_link\}$/);
    }
    const groups = label.startsWith("plain") ? ["google_compute_instance_group"] : ["google_compute_instance_group_manager", "google_compute_per_instance_config"];
    const untouched = [...groups, "google_compute_region_instance_group_manager", "google_compute_network", "google_compute_subnetwork", "google_compute_router_nat", "google_compute_firewall", "google_compute_address", "google_compute_forwarding_rule", "google_compute_region_backend_service", "google_compute_health_check", "google_service_account", "google_project_iam_member", "google_secret_manager_secret", "google_secret_manager_secret_version", "google_secret_manager_secret_iam_member"];
    for (const type of untouched) {
      expect({ type, present: resourcesOf(before, type).length > 0, changed: changed.filter((k) => k.startsWith(`resource.${type}.`)) }).toEqual({ type, present: true, changed: [] });
    }
  });

  test("plain instances differ only in their user data, which Terraform ignores (no replacement)", () => {
    for (const [id, instance] of resourcesOf(after, "google_compute_instance")) {
      expect({ id, paths: differences(before.resource.google_compute_instance[id], instance) }).toEqual({ id, paths: ["metadata.user-data"] });
      expect(instance.lifecycle.ignore_changes).toContain('metadata["user-data"]');
    }
  });
});
