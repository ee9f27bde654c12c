/**
 * What the bare-metal construct synthesizes: the terraform_data resources (snapshot + properties
 * over random inventories), the NoCloud seed files (cloud-init schema), determinism, secrets, and
 * `terraform init` + `validate` of the example stack offline.
 */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { gzipSync } from "zlib";
import { App, LocalBackend, TerraformStack } from "cdktf";
import { BAREMETAL_EXAMPLE_STACK, baremetalExample } from "../examples/baremetal/main";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import { BaremetalApiEndpoint, BaremetalHost, BaremetalKubeadmCluster, KUBE_VIP_LAYOUT, SEED_MARKER } from "../src/constructs/baremetal";
import fields from "./fixtures/kubeadm-v1beta4-fields.json";
import { cloudInitSchema } from "./support/cloud-init-schema";
import { baseProps, build, decodeTerraformString, Json, prng, provisioners, synthJson, tempDir, VIP } from "./support/baremetal-fixtures";
import { ENGINE_NAME, terraformOk } from "./support/terraform";

const tmp = tempDir("baremetal-synth-");
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
/** One PKI store per cluster name. */
const pki = path.join(tmp, "pki-metal");
const examplePki = path.join(tmp, "pki-demo-metal");

type Types = Record<string, Record<string, string>>;
const V1BETA4 = (fields as unknown as { v1beta4: Types }).v1beta4;

/** Synthesizes the example app (context as `cdktf synth` would pass it) into `outdir`. */
function synthExample(outdir: string, context: Record<string, string> = {}): { dir: string; cluster: BaremetalKubeadmCluster } {
  fs.mkdirSync(path.dirname(outdir), { recursive: true });
  const app = new App({
    outdir,
    context: { "baremetal.pkiDirectory": examplePki, "baremetal.seedDirectory": path.join(outdir, "..", "seeds"), ...context },
  });
  baremetalExample(app);
  const stack = app.node.findChild(BAREMETAL_EXAMPLE_STACK) as TerraformStack;
  new LocalBackend(stack, { path: path.join(outdir, "..", "terraform.tfstate") });
  app.synth();
  const cluster = stack.node.findAll().find((c): c is BaremetalKubeadmCluster => c instanceof BaremetalKubeadmCluster)!;
  return { dir: path.join(outdir, "stacks", BAREMETAL_EXAMPLE_STACK), cluster };
}

/** The synthesized JSON with secrets, hashes and machine-specific paths replaced by placeholders. */
function normalize(json: Json): Json {
  const copy = JSON.parse(JSON.stringify(json));
  copy.terraform.backend.local.path = "<state>";
  for (const resource of Object.values<Json>(copy.resource.terraform_data)) {
    resource.triggers_replace.payload_sha256 = "<sha256>";
    for (const p of resource.provisioner) {
      if (p.file) {
        const installer = decodeTerraformString(p.file.content);
        p.file.content = `<installer: ${(installer.match(/^put /gm) ?? []).length} files>`;
      }
    }
  }
  for (const [name, out] of Object.entries<Json>(copy.output)) {
    if (name.endsWith("_admin_kubeconfig") || name.endsWith("_ca_cert_hash") || name.endsWith("_certificate_expiry")) out.value = "<secret or time>";
    if (name.endsWith("_nodes")) for (const n of Object.values<Json>(out.value)) n.payload_sha256 = "<sha256>";
    if (name.endsWith("_seed_directory")) out.value = String(out.value).replace(/[0-9A-F]{32}/, "<hash>");
  }
  return copy;
}

describe("example stack", () => {
  const out = path.join(tmp, "example", "cdktf.out");
  let example: ReturnType<typeof synthExample>;
  beforeAll(() => {
    example = synthExample(out);
  });

  test("snapshot of the synthesized configuration (placeholders for secrets and hashes)", () => {
    const json = JSON.parse(fs.readFileSync(path.join(example.dir, "cdk.tf.json"), "utf8"));
    expect(normalize(json)).toMatchSnapshot();
  });

  test("byte-identical on a second synth (PKI reused from the store)", () => {
    const again = synthExample(path.join(tmp, "example-again", "cdktf.out"));
    const a = fs.readFileSync(path.join(example.dir, "cdk.tf.json"), "utf8");
    const b = fs.readFileSync(path.join(again.dir, "cdk.tf.json"), "utf8").split(path.join(tmp, "example-again")).join(path.join(tmp, "example"));
    expect(b).toEqual(a);
  });

  test(`${ENGINE_NAME} init (no provider, offline) and validate`, () => {
    const init = terraformOk(example.dir, ["init", "-no-color", "-input=false", "-backend=false"]);
    expect(init).toContain(`${ENGINE_NAME} has been successfully initialized`);
    expect(fs.existsSync(path.join(example.dir, ".terraform", "providers"))).toBe(false);
    const validate = terraformOk(example.dir, ["validate", "-no-color", "-json"]);
    expect(JSON.parse(validate)).toMatchObject({ valid: true, error_count: 0, warning_count: 0 });
  });

  test("seed files: worker seeds only by default, each passing `cloud-init schema`", () => {
    const seeds = path.join(out, "..", "seeds");
    expect(example.cluster.seedHosts).toEqual(["worker-1", "worker-2"]);
    expect(fs.readdirSync(seeds).sort()).toEqual([SEED_MARKER, "worker-1", "worker-2"]);
    expect(fs.statSync(seeds).mode & 0o777).toBe(0o700);
    for (const host of example.cluster.seedHosts) {
      const userData = fs.readFileSync(path.join(seeds, host, "user-data"), "utf8");
      expect(userData).toBe(example.cluster.cloudConfig(host));
      expect(fs.statSync(path.join(seeds, host, "user-data")).mode & 0o777).toBe(0o600);
      const schema = cloudInitSchema(userData);
      expect({ host, ...schema }).toEqual({ host, ok: true, output: expect.any(String) });
      expect(yaml.load(fs.readFileSync(path.join(seeds, host, "meta-data"), "utf8"))).toEqual({ "instance-id": `demo-metal-${host}`, "local-hostname": host });
      expect(userData).not.toMatch(/PRIVATE KEY/);
    }
  });

  test("seed files are copied into the synth output; the output names where", () => {
    const json = JSON.parse(fs.readFileSync(path.join(example.dir, "cdk.tf.json"), "utf8"));
    const relative = json.output["demo-metal_seed_directory"].value as string;
    expect(relative).toMatch(/^assets\/[^/]+\/[0-9A-F]{32}$/);
    for (const host of ["worker-1", "worker-2"]) {
      expect(fs.readFileSync(path.join(example.dir, relative, host, "user-data"), "utf8")).toBe(example.cluster.cloudConfig(host));
      expect(fs.statSync(path.join(example.dir, relative, host, "user-data")).mode & 0o777).toBe(0o600);
    }
  });

  test("control-plane seeds only on opt-in, and then with the CA keys; all pass `cloud-init schema`", () => {
    const optIn = synthExample(path.join(tmp, "opt-in", "cdktf.out"), { "baremetal.seedControlPlaneSecrets": "true" });
    const seeds = path.join(tmp, "opt-in", "seeds");
    expect(optIn.cluster.seedHosts).toEqual(["cp-1", "cp-2", "cp-3", "worker-1", "worker-2"]);
    const cp = fs.readFileSync(path.join(seeds, "cp-2", "user-data"), "utf8");
    expect(cp).toContain(`path: ${NODE_LAYOUT.pkiDir}/ca.key`);
    expect(cp).toContain(`- - ${KUBE_VIP_LAYOUT.entry}`);
    for (const host of ["cp-1", "cp-2", "cp-3"]) {
      const schema = cloudInitSchema(fs.readFileSync(path.join(seeds, host, "user-data"), "utf8"));
      expect({ host, ...schema }).toEqual({ host, ok: true, output: expect.any(String) });
    }
  });
});

describe("the user-data budget of bare metal (seed files and SSH: no EC2 cap)", () => {
  test("RSA-2048 keys and 3 control-plane nodes synthesize, with no budget warning", () => {
    const dir = path.join(tmp, "rsa");
    const seeds = path.join(dir, "seeds");
    const { cluster, stack } = build(baseProps({ pki: path.join(dir, "pki"), seeds }, { pki: { keyAlgorithm: "RSA-2048" }, seedFiles: { directory: seeds, includeControlPlaneSecrets: true } }));
    synthJson(stack);
    const warnings = cluster.node.findAll().flatMap((c) => c.node.metadata.map((m) => String(m.data))).filter((m) => /-byte limit/.test(m));
    expect(warnings).toEqual([]);
    const seed = fs.readFileSync(path.join(seeds, "cp-1", "user-data"));
    // the CA keys travel in the seed: over EC2's 16 KiB after gzip, which bare metal used to apply
    expect(seed.toString("utf8")).toMatch(/PRIVATE KEY/);
    expect(gzipSync(seed).length).toBeGreaterThan(16384);
  });
});

describe("seed directory", () => {
  const props = (dir: string, hosts?: BaremetalHost[]) =>
    baseProps({ pki, seeds: dir }, { ...(hosts ? { hosts } : {}), ssh: undefined });

  test("removes the directories of hosts that left the inventory, keeps everything else", () => {
    const dir = path.join(tmp, "seeds-stale");
    synthJson(build(props(dir)).stack);
    fs.writeFileSync(path.join(dir, "notes.txt"), "mine");
    const hosts = baseProps({ pki, seeds: dir }).hosts.filter((h) => h.name !== "worker-2");
    synthJson(build(props(dir, hosts)).stack);
    expect(fs.readdirSync(dir).sort()).toEqual([SEED_MARKER, "notes.txt", "worker-1"]);
  });

  test("nothing is written until the app synthesizes (a construct refused later in the app leaves no seeds and no PKI store)", () => {
    const dir = path.join(tmp, "seeds-deferred");
    const store = path.join(tmp, "pki-deferred");
    const { stack } = build(baseProps({ pki: store, seeds: dir }, { ssh: undefined }));
    // Only the asset's (empty) staging directory exists before synth.
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(fs.existsSync(store)).toBe(false);
    synthJson(stack);
    expect(fs.readdirSync(dir).sort()).toEqual([SEED_MARKER, "worker-1", "worker-2"]);
    expect(fs.existsSync(path.join(store, "ca.key"))).toBe(true);
  });

  test("refuses a non-empty directory it did not write", () => {
    const dir = path.join(tmp, "seeds-foreign");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "important"), "x");
    expect(() => build(props(dir))).toThrow(/is not empty and was not written by cdktf-kubeadm/);
    expect(fs.readdirSync(dir)).toEqual(["important"]);
  });

  test("no seed files when disabled (SSH delivers instead)", () => {
    const dir = path.join(tmp, "seeds-off");
    const { cluster, stack } = build(baseProps({ pki, seeds: dir }, { seedFiles: { enabled: false, directory: dir } }));
    expect(fs.existsSync(dir)).toBe(false);
    expect(cluster.seedAsset).toBeUndefined();
    expect(Object.keys(synthJson(stack).output)).not.toContain("metal_seed_directory");
  });
});

describe("properties over random inventories", () => {
  const ITERATIONS = 20;

  function randomInventory(rand: () => number): { hosts: BaremetalHost[]; apiEndpoint: BaremetalApiEndpoint; secrets: boolean } {
    const pick = <T>(list: readonly T[]) => list[Math.floor(rand() * list.length)];
    const cps = pick([1, 3, 5]);
    const workers = Math.floor(rand() * 7);
    const pools = ["general", "gpu", "edge"].slice(0, 1 + Math.floor(rand() * 3));
    const hosts: BaremetalHost[] = [];
    let octet = 11;
    const address = () => {
      const internal = `192.168.10.${octet++}`;
      return rand() < 0.3 ? { address: `10.20.0.${octet}`, internalAddress: internal } : { address: internal };
    };
    for (let i = 0; i < cps; i++) hosts.push({ name: `cp-${i + 1}`, role: "control-plane", ...address() });
    for (let i = 0; i < workers; i++) hosts.push({ name: `node-${i + 1}`, role: "worker", pool: pick(pools), ...address() });
    // Shuffle: slots follow the order of the control-plane hosts, wherever they are in the list.
    for (let i = hosts.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [hosts[i], hosts[j]] = [hosts[j], hosts[i]];
    }
    const endpoints: BaremetalApiEndpoint[] = [
      { type: "kube-vip", address: VIP, interface: "bond0" },
      { type: "external-load-balancer", address: "api.metal.example.com" },
      ...(cps === 1 ? [{ type: "single-control-plane" } as const] : []),
    ];
    return { hosts, apiEndpoint: pick(endpoints), secrets: rand() < 0.5 };
  }

  test(`${ITERATIONS} inventories: one ordered, hashed, correctly-scoped payload per host`, () => {
    const rand = prng(20261122);
    const seeds = path.join(tmp, "seeds-property");
    for (let iteration = 0; iteration < ITERATIONS; iteration++) {
      const inv = randomInventory(rand);
      const { cluster, stack } = build(
        baseProps({ pki, seeds }, { hosts: inv.hosts, apiEndpoint: inv.apiEndpoint, seedFiles: { directory: seeds, includeControlPlaneSecrets: inv.secrets } }),
      );
      const json = synthJson(stack);
      const resources = json.resource.terraform_data as Record<string, Json>;
      const controlPlane = inv.hosts.filter((h) => h.role === "control-plane");
      const workers = inv.hosts.filter((h) => h.role === "worker");
      const id = (h: BaremetalHost) => `metal_bootstrap_${h.name}`;
      const context = `iteration ${iteration}: ${inv.hosts.map((h) => h.name).join(",")} ${inv.apiEndpoint.type}`;

      // One resource per host; slot order = order of the control-plane hosts in the list.
      expect({ context, ids: Object.keys(resources).sort() }).toEqual({ context, ids: inv.hosts.map(id).sort() });
      controlPlane.forEach((h, slot) => {
        expect(cluster.payload(h.name).nodeName).toBe(`metal-cp-${slot}`);
        expect(resources[id(h)].depends_on).toEqual(slot === 0 ? undefined : [`terraform_data.${id(controlPlane[slot - 1])}`]);
      });
      for (const w of workers) expect(resources[id(w)].depends_on).toEqual(controlPlane.map((h) => `terraform_data.${id(h)}`));

      const hashes = new Set<string>();
      for (const h of inv.hosts) {
        const resource = resources[id(h)];
        const payload = cluster.payload(h.name);
        const internal = h.internalAddress ?? h.address;
        hashes.add(resource.triggers_replace.payload_sha256);
        expect(resource.triggers_replace).toEqual({ payload_sha256: payload.triggerSha256 });
        // Workers' triggers leave the Kubernetes version out (test/baremetal-upgrade.test.ts).
        if (h.role === "control-plane") expect(payload.triggerSha256).toBe(payload.sha256);
        expect(resource.connection).toMatchObject({ type: "ssh", host: h.address, user: "ubuntu", port: 22, private_key: '${file("~/.ssh/id_ed25519")}' });

        // The uploaded installer is exactly the host's payload.
        const [, [fileType, file], [, exec]] = provisioners(resource);
        expect(fileType).toBe("file");
        const installer = decodeTerraformString(file.content);
        expect(installer).toBe(cluster.installer(h.name));
        expect(installer.match(/^put (\S+) (\S+) (\S+) <<'EOF'$/gm)).toEqual(payload.files.map((f) => `put ${f.path} ${f.permissions} ${f.owner} <<'EOF'`));
        // Control-plane hosts then start the upgrade agent (test/baremetal-upgrade.test.ts).
        // and register the payload's join token (test/bootstrap-token.test.ts).
        const start = h.role === "control-plane"
          ? ['sudo -n "/usr/local/sbin/cdktf-kubeadm-bootstrap" token', expect.stringMatching(/^sudo -n systemctl start --no-block cdktf-kubeadm-upgrade\.service \|\| /)]
          : [];
        expect(exec.inline.slice(2)).toEqual([`sudo -n "${payload.entry}"`, ...start]);

        // Role, slot, node name and addresses are the host's own.
        const byPath = Object.fromEntries(payload.files.map((f) => [f.path, f.content]));
        const settings = byPath[NODE_LAYOUT.settings];
        // a host of the user's: never powered off by a failed bootstrap
        expect(settings).not.toContain("POWEROFF_MINUTES");
        const join = yaml.load(byPath[NODE_LAYOUT.joinConfig]) as Json;
        expect(join.nodeRegistration.kubeletExtraArgs).toContainEqual({ name: "node-ip", value: internal });
        expect(join.nodeRegistration.name).toBe(payload.nodeName);
        if (h.role === "control-plane") {
          const slot = controlPlane.indexOf(h);
          expect(settings).toContain(`CP_SLOT='${slot}'`);
          expect(join.controlPlane.localAPIEndpoint.advertiseAddress).toBe(internal);
          const init = (yaml.loadAll(byPath[NODE_LAYOUT.initConfig]) as Json[]).find((d) => d.kind === "InitConfiguration");
          expect(init.localAPIEndpoint.advertiseAddress).toBe(internal);
          expect(byPath[`${NODE_LAYOUT.pkiDir}/ca.key`]).toMatch(/PRIVATE KEY/);
          const kubeVip = inv.apiEndpoint.type === "kube-vip";
          expect(payload.entry).toBe(kubeVip ? KUBE_VIP_LAYOUT.entry : NODE_LAYOUT.script);
          expect(join.nodeRegistration.ignorePreflightErrors).toEqual(kubeVip ? ["DirAvailable--etc-kubernetes-manifests"] : undefined);
          if (kubeVip) expect(byPath[KUBE_VIP_LAYOUT.source]).toContain(`path: ${slot === 0 ? KUBE_VIP_LAYOUT.superAdminConf : KUBE_VIP_LAYOUT.adminConf}`);
        } else {
          expect(settings).toContain(`NODE_NAME='${h.name}'`);
          expect(settings).not.toContain("CP_SLOT");
          expect(payload.entry).toBe(NODE_LAYOUT.script);
          // kubeadm join refuses a worker that has /etc/kubernetes/pki/ca.crt: nothing of ours there
          expect(Object.keys(byPath).filter((p) => p.startsWith(NODE_LAYOUT.pkiDir))).toEqual([]);
          expect(Object.keys(byPath).filter((p) => /\/pki\//.test(p))).toEqual([NODE_LAYOUT.workerCaCert]);
          expect(payload.files.filter((f) => /PRIVATE KEY/.test(f.content)).map((f) => f.path)).toEqual([]);
        }
      }
      expect(hashes.size).toBe(inv.hosts.length);

      // Seeds: workers always, control plane on opt-in; nothing else left in the directory.
      const expectedSeeds = [...(inv.secrets ? controlPlane : []), ...workers].map((h) => h.name);
      expect([...cluster.seedHosts].sort()).toEqual(expectedSeeds.sort());
      expect(fs.readdirSync(seeds).filter((f) => f !== SEED_MARKER).sort()).toEqual(expectedSeeds.sort());

      // Secrets appear only in the provisioners' file content and in sensitive outputs.
      const outside = JSON.parse(JSON.stringify(json));
      for (const r of Object.values<Json>(outside.resource.terraform_data)) r.provisioner = [];
      for (const [name, o] of Object.entries<Json>(outside.output)) if (o.sensitive) delete outside.output[name];
      expect(JSON.stringify(outside)).not.toMatch(/PRIVATE KEY|client-key-data/);
      expect(JSON.stringify(outside)).not.toContain(cluster.kubeadm.pki.bootstrapToken);
    }
  });

  test("patched kubeadm documents use only v1beta4 fields", () => {
    const { cluster } = build(baseProps({ pki, seeds: path.join(tmp, "seeds-fields") }));
    const check = (value: Json, type: string, where: string) => {
      for (const key of Object.keys(value)) expect({ where, key, known: key in V1BETA4[type] }).toEqual({ where, key, known: true });
    };
    for (const host of ["cp-1", "cp-2", "worker-1"]) {
      const files = Object.fromEntries(cluster.payload(host).files.map((f) => [f.path, f.content]));
      for (const doc of [...yaml.loadAll(files[NODE_LAYOUT.joinConfig]), ...(files[NODE_LAYOUT.initConfig] ? yaml.loadAll(files[NODE_LAYOUT.initConfig]) : [])] as Json[]) {
        if (doc.kind === "InitConfiguration") {
          check(doc, "InitConfiguration", host);
          check(doc.nodeRegistration, "NodeRegistrationOptions", host);
          check(doc.localAPIEndpoint, "APIEndpoint", host);
        }
        if (doc.kind === "JoinConfiguration") {
          check(doc, "JoinConfiguration", host);
          check(doc.nodeRegistration, "NodeRegistrationOptions", host);
          if (doc.controlPlane) check(doc.controlPlane.localAPIEndpoint, "APIEndpoint", host);
        }
      }
    }
  });

  test("a payload change reaches exactly the hosts it concerns", () => {
    const seeds = path.join(tmp, "seeds-change");
    const before = build(baseProps({ pki, seeds }));
    const after = build(baseProps({ pki, seeds }, { nodePools: [{ name: "general", labels: { tier: "web" } }] }));
    const changed = before.cluster.payloads.filter((p) => after.cluster.payload(p.host.name).sha256 !== p.sha256).map((p) => p.host.name);
    expect(changed).toEqual(["worker-1", "worker-2"]);
    const moved = build(baseProps({ pki, seeds }, { hosts: baseProps({ pki, seeds }).hosts.map((h) => (h.name === "cp-2" ? { ...h, address: "10.0.0.12", internalAddress: "192.168.10.12" } : h)) }));
    // Only the SSH address changed: same payloads, so nothing is replaced or re-run.
    expect(moved.cluster.payloads.map((p) => p.sha256)).toEqual(before.cluster.payloads.map((p) => p.sha256));
  });
});
