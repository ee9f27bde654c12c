/**
 * In-place upgrades on bare metal (channel "file"): control-plane payloads carry the desired
 * version and the agent, their provisioners start it after the (no-op) bootstrap, and a version
 * bump re-runs exactly the control-plane hosts' provisioners; workers' triggers leave the version
 * out (they are upgraded by re-provisioning). The end-to-end run over SSH is in baremetal-ssh.test.ts.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import { BaremetalKubeadmClusterProps, withoutVersion } from "../src/constructs/baremetal";
import { baseProps, build, decodeTerraformString, Json, provisioners, synthJson, tempDir } from "./support/baremetal-fixtures";

const tmp = tempDir("baremetal-upgrade-");
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
/** A fresh PKI store and seed directory (the version history is per store). */
const dirs = () => ({ pki: path.join(tmp, `pki-${++n}`), seeds: path.join(tmp, `seeds-${n}`) });

const CONTROL_PLANE = ["cp-1", "cp-2", "cp-3"];
const WORKERS = ["worker-1", "worker-2"];
const START = "systemctl start --no-block cdktf-kubeadm-upgrade.service";

const filesOf = (cluster: ReturnType<typeof build>["cluster"], host: string) => Object.fromEntries(cluster.payload(host).files.map((f) => [f.path, f]));
const settingsOf = (text: string) => Object.fromEntries([...text.matchAll(/^([A-Z][A-Z0-9_]*)='([^']*)'$/gm)].map((m) => [m[1], m[2]]));
/** terraform_data bodies by host name. */
const resources = (json: Json): Record<string, Json> =>
  Object.fromEntries(Object.entries<Json>(json.resource.terraform_data).map(([id, r]) => [id.replace(/^metal_bootstrap_/, ""), r]));

describe("the desired-version channel", () => {
  const d = dirs();
  const { cluster, stack } = build(baseProps(d, { kubernetesVersion: "1.36.4" }));
  const json = synthJson(stack);

  test("control-plane payloads: UPGRADE_CHANNEL='file', the desired version, the agent; workers: none of it", () => {
    for (const host of CONTROL_PLANE) {
      const files = filesOf(cluster, host);
      expect(settingsOf(files[NODE_LAYOUT.settings].content)).toMatchObject({ UPGRADE_CHANNEL: "file" });
      expect(files[NODE_LAYOUT.desiredVersion]).toEqual({ path: NODE_LAYOUT.desiredVersion, permissions: "0644", owner: "root:root", content: "1.36.4\n" });
      const script = files[NODE_LAYOUT.script].content;
      expect(script).toMatch(/^upgrade\(\)/m);
      expect(script).toMatch(/^desired_file\(\)/m);
      // No cloud reader on bare metal.
      expect(script).not.toMatch(/desired_aws|desired_gce/);
    }
    for (const host of WORKERS) {
      const files = filesOf(cluster, host);
      expect(Object.keys(settingsOf(files[NODE_LAYOUT.settings].content)).filter((k) => k.startsWith("UPGRADE_"))).toEqual([]);
      expect(files[NODE_LAYOUT.desiredVersion]).toBeUndefined();
      expect(files[NODE_LAYOUT.script].content).not.toMatch(/^upgrade\(\)/m);
    }
  });

  test("control-plane provisioners start the agent after the bootstrap; workers' do not", () => {
    const byHost = resources(json);
    for (const host of [...CONTROL_PLANE, ...WORKERS]) {
      const [, , [, exec]] = provisioners(byHost[host]);
      const inline: string[] = exec.inline;
      const entry = inline.findIndex((c) => c === `sudo -n "${cluster.payload(host).entry}"`);
      expect({ host, entry }).toEqual({ host, entry: 2 });
      if (CONTROL_PLANE.includes(host)) {
        expect(inline.slice(3)).toEqual(['sudo -n "/usr/local/sbin/cdktf-kubeadm-bootstrap" token', `sudo -n ${START} || { echo "cdktf-kubeadm: cannot start cdktf-kubeadm-upgrade.service on ${host} (the bootstrap installs it)" >&2; exit 1; }`]);
        // The installer it runs first writes the desired version.
        expect(decodeTerraformString(provisioners(byHost[host])[1][1].content)).toContain(`put ${NODE_LAYOUT.desiredVersion} 0644 root:root <<'EOF'`);
      } else {
        expect(inline).toHaveLength(3);
        expect(inline.join("\n")).not.toContain("systemctl");
      }
    }
  });

  test("the installer writes the desired version under the remote root", () => {
    const root = fs.mkdtempSync(path.join(tmp, "root-"));
    const script = path.join(tmp, "payload-cp-2.sh");
    fs.writeFileSync(script, cluster.installer("cp-2"));
    const r = spawnSync("bash", [script], { env: { PATH: "/usr/bin:/bin", BOOTSTRAP_ROOT: root }, encoding: "utf8" });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    expect(fs.readFileSync(path.join(root, NODE_LAYOUT.desiredVersion), "utf8")).toBe("1.36.4\n");
    // And the remote commands run it with BOOTSTRAP_ROOT; systemd's unit needs none.
    const dry = synthJson(build(baseProps(dirs(), { ssh: { user: "ubuntu", remoteRoot: "$HOME/dry" } })).stack);
    const [, , [, exec]] = provisioners(resources(dry)["cp-1"]);
    expect(exec.inline[1]).toBe('sudo -n env BOOTSTRAP_ROOT="$HOME/dry" bash .cdktf-kubeadm/payload-cp-1.sh');
    expect(exec.inline[3]).toBe('sudo -n env BOOTSTRAP_ROOT="$HOME/dry" "$HOME/dry/usr/local/sbin/cdktf-kubeadm-bootstrap" token');
    expect(exec.inline[4]).toMatch(new RegExp(`^sudo -n ${START.replace(/\./g, "\\.")} \\|\\| `));
  });

  test("control-plane seed files (opt-in) carry the desired version too", () => {
    const { cluster: seeded } = build(baseProps(dirs(), { seedFiles: { directory: path.join(tmp, "seeds-cp"), includeControlPlaneSecrets: true } }));
    expect(seeded.cloudConfig("cp-1")).toContain(`path: ${NODE_LAYOUT.desiredVersion}`);
    expect(seeded.cloudConfig("worker-1")).not.toContain(NODE_LAYOUT.desiredVersion);
  });
});

describe.each<[string, string, string]>([
  ["1.36.4", "1.37.1", "next minor"],
  ["1.36.4", "1.36.5", "patch"],
  // The pause image tag changes between these minors (3.10 -> 3.10.1).
  ["1.33.5", "1.34.1", "minor with a new pause image"],
])("a version bump %s -> %s (%s)", (from, to) => {
  const d = dirs();
  const before = build(baseProps(d, { kubernetesVersion: from }));
  const after = build(baseProps(d, { kubernetesVersion: to }));
  const a = resources(synthJson(before.stack));
  const b = resources(synthJson(after.stack));

  test("the same terraform_data resources; triggers change on the control-plane hosts only", () => {
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    const changed = Object.keys(a).filter((h) => JSON.stringify(a[h].triggers_replace) !== JSON.stringify(b[h].triggers_replace));
    expect(changed.sort()).toEqual(CONTROL_PLANE);
    // Nothing else about a resource changes (input, connection, order).
    for (const h of Object.keys(a)) {
      const strip = (r: Json) => ({ ...r, triggers_replace: undefined, provisioner: undefined });
      expect({ h, r: strip(b[h]) }).toEqual({ h, r: strip(a[h]) });
    }
  });

  test("re-run control-plane hosts get the new desired version and start the agent", () => {
    for (const host of CONTROL_PLANE) {
      const installer = decodeTerraformString(provisioners(b[host])[1][1].content);
      expect(installer).toBe(after.cluster.installer(host));
      expect(filesOf(after.cluster, host)[NODE_LAYOUT.desiredVersion].content).toBe(`${to}\n`);
      expect(provisioners(b[host])[2][1].inline.join("\n")).toContain(START);
    }
  });

  test("workers: payload at the new version (for a re-provisioning), trigger unchanged", () => {
    for (const host of WORKERS) {
      const p = after.cluster.payload(host);
      expect(p.sha256).not.toBe(before.cluster.payload(host).sha256);
      expect(p.triggerSha256).toBe(before.cluster.payload(host).triggerSha256);
      expect(settingsOf(filesOf(after.cluster, host)[NODE_LAYOUT.settings].content)).toMatchObject({ K8S_VERSION: to, K8S_MINOR: to.replace(/\.\d+$/, "") });
    }
  });
});

describe("workers' triggers leave out the version only", () => {
  const d = dirs();
  const base = build(baseProps(d));
  const worker = (props: Partial<BaremetalKubeadmClusterProps>, host = "worker-1") => build(baseProps(d, props)).cluster.payload(host).triggerSha256;

  test.each<[string, Partial<BaremetalKubeadmClusterProps>]>([
    ["a pool label", { nodePools: [{ name: "general", labels: { tier: "web" } }] }],
    ["the API endpoint", { apiEndpoint: { type: "kube-vip", address: "192.168.10.9", interface: "eno1" } }],
    ["the image repository", { imageRepository: "mirror.example.com/k8s" }],
  ])("%s still re-runs the workers", (_what, props) => {
    expect(worker(props)).not.toBe(base.cluster.payload("worker-1").triggerSha256);
  });

  test("the mask replaces the version, the minor and the pause tag, and nothing else", () => {
    const settings = base.cluster.payload("worker-1").files.find((f) => f.path === NODE_LAYOUT.settings)!;
    const masked = withoutVersion(settings, { kubernetesVersion: "1.36.4", kubernetesMinor: "1.36" });
    const lines = (t: string) => t.split("\n");
    const differing = lines(settings.content).filter((l, i) => l !== lines(masked)[i]).map((l) => l.split("=")[0]);
    expect(differing.sort()).toEqual(["K8S_MINOR", "K8S_VERSION", "PKG_REPO_URL", "SANDBOX_IMAGE"]);
    expect(masked).toContain("K8S_VERSION='<kubernetes-version>'");
    expect(masked).toContain("K8S_MINOR='<kubernetes-minor>'");
    expect(masked).toMatch(/^PKG_REPO_URL='[^']*\/v<kubernetes-minor>\/deb\/'$/m);
    expect(masked).toMatch(/^SANDBOX_IMAGE='registry\.k8s\.io\/pause:<pause-tag>'$/m);
    // An address that merely contains the minor's digits is kept.
    expect(withoutVersion({ ...settings, content: "X='10.1.36.7'\n" }, { kubernetesVersion: "1.36.4", kubernetesMinor: "1.36" })).toBe("X='10.1.36.7'\n");
  });
});
