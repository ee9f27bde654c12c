/**
 * End to end over real SSH: five fake hosts (3 control plane, 2 workers), each an sshd on its own
 * loopback address admitting its own unprivileged account; `terraform apply` of the bare-metal
 * example delivers every host's payload and runs the real bootstrap against the stub harness
 * (BOOTSTRAP_ROOT=$HOME/root, stubs first on PATH); then a version bump re-runs the control-plane
 * hosts only, which get the new desired version and start the upgrade agent (systemctl stub).
 * Needs root; skipped (with the reason) otherwise.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App, LocalBackend, TerraformStack } from "cdktf";
import { BAREMETAL_EXAMPLE_STACK, baremetalExample } from "../examples/baremetal/main";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import { BaremetalKubeadmCluster, BaremetalHost, KUBE_VIP_LAYOUT } from "../src/constructs/baremetal";
import { readCalls, readStatus, removeNodeRoot } from "./harness";
import { createStubHost, inHome, kubeadmTimes, STUB_COMMAND_PREFIX, STUB_REMOTE_ROOT, StubHost, StubHostSpec, userName } from "./support/baremetal-stub-hosts";
import { cleanup, freePort, generateKeyPair, KeyPair, sshdUnavailable } from "./support/sshd";
import { ENGINE_NAME, terraform, terraformOk } from "./support/terraform";

const unavailable = sshdUnavailable();
const suite = unavailable ? describe.skip : describe;
if (unavailable) console.warn(`baremetal SSH end-to-end test skipped: ${unavailable}`);

const SPECS: StubHostSpec[] = [
  { name: "cp-1", role: "control-plane", slot: 0, address: "127.0.0.11", internalAddress: "192.168.10.11" },
  { name: "cp-2", role: "control-plane", slot: 1, address: "127.0.0.12", internalAddress: "192.168.10.12" },
  { name: "cp-3", role: "control-plane", slot: 2, address: "127.0.0.13", internalAddress: "192.168.10.13" },
  { name: "worker-1", role: "worker", pool: "general", address: "127.0.0.21", internalAddress: "192.168.10.21" },
  { name: "worker-2", role: "worker", pool: "general", address: "127.0.0.22", internalAddress: "192.168.10.22" },
];

suite("bare metal over SSH (sshd on loopback, stub harness)", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "baremetal-ssh-"));
  const prefix = `ckb${process.pid % 100000}`;
  const hosts: StubHost[] = [];
  let key: KeyPair;
  let port: number;
  let stackDir: string;
  let firstApply = "";

  /** Synthesizes the example with the stub hosts; `tweak` edits the host list, `context` adds settings. */
  function synth(tweak: (hosts: BaremetalHost[]) => BaremetalHost[] = (h) => h, context: Record<string, string> = {}): BaremetalKubeadmCluster {
    const inventory: BaremetalHost[] = hosts.map((h, i) => ({
      name: h.spec.name,
      address: h.spec.address,
      internalAddress: h.spec.internalAddress,
      role: h.spec.role,
      ...(h.spec.pool ? { pool: h.spec.pool } : {}),
      // hosts[0] uses the shared baremetal.sshUser; every other host its own account.
      ssh: { ...(i === 0 ? {} : { user: h.user }), hostKey: h.server.hostKey },
    }));
    const outdir = path.join(tmp, "cdktf.out");
    const app = new App({
      outdir,
      context: {
        "baremetal.clusterName": "e2e-metal",
        "baremetal.hosts": JSON.stringify(tweak(inventory)),
        "baremetal.nodeCidr": "192.168.10.0/24",
        "baremetal.vip": "192.168.10.10",
        "baremetal.interface": "lo",
        "baremetal.sshUser": hosts[0].user,
        "baremetal.sshPort": String(port),
        "baremetal.remoteRoot": STUB_REMOTE_ROOT,
        "baremetal.remoteCommandPrefix": STUB_COMMAND_PREFIX,
        "baremetal.pkiDirectory": path.join(tmp, "pki"),
        "baremetal.seedDirectory": path.join(tmp, "seeds"),
        // The stubbed curl serves no real CNI manifest.
        "baremetal.cni": JSON.stringify({ plugin: "none" }),
        ...context,
      },
    });
    baremetalExample(app);
    const stack = app.node.findChild(BAREMETAL_EXAMPLE_STACK) as TerraformStack;
    new LocalBackend(stack, { path: path.join(tmp, "terraform.tfstate") });
    app.synth();
    stackDir = path.join(outdir, "stacks", BAREMETAL_EXAMPLE_STACK);
    return stack.node.findAll().find((c): c is BaremetalKubeadmCluster => c instanceof BaremetalKubeadmCluster)!;
  }

  const apply = () => terraformOk(stackDir, ["apply", "-auto-approve", "-no-color", "-var", `ssh_private_key_path=${key.privateKeyPath}`], {}, 600_000);
  const host = (name: string) => hosts.find((h) => h.spec.name === name)!;
  const inRoot = (h: StubHost, file: string) => path.join(h.node.root, file);

  beforeAll(async () => {
    fs.chmodSync(tmp, 0o755);
    key = generateKeyPair(tmp);
    port = await freePort(SPECS.map((s) => s.address));
    for (const spec of SPECS) {
      hosts.push(await createStubHost(spec, port, userName(prefix, spec), key, path.join(tmp, "sshd", spec.name)));
    }
    synth();
    terraformOk(stackDir, ["init", "-no-color", "-input=false"]);
    firstApply = apply();
  }, 600_000);

  afterAll(async () => {
    await cleanup();
    for (const h of hosts) removeNodeRoot(h.node);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test(`${ENGINE_NAME} init needs no provider`, () => {
    expect(fs.existsSync(path.join(stackDir, ".terraform", "providers"))).toBe(false);
    expect(firstApply).toMatch(/Apply complete! Resources: 5 added, 0 changed, 0 destroyed/);
  });

  test("every host got its own payload: files, modes, role and slot", () => {
    const cluster = synth();
    for (const h of hosts) {
      const payload = cluster.payload(h.spec.name);
      for (const file of payload.files) {
        const onHost = inRoot(h, file.path);
        expect({ file: onHost, content: fs.readFileSync(onHost, "utf8") }).toEqual({ file: onHost, content: file.content });
        expect((fs.statSync(onHost).mode & 0o777).toString(8)).toBe(file.permissions.replace(/^0/, ""));
      }
      const settings = fs.readFileSync(inRoot(h, NODE_LAYOUT.settings), "utf8");
      expect(settings).toContain(`NODE_ROLE='${h.spec.role}'`);
      if (h.spec.role === "control-plane") {
        expect(settings).toContain(`CP_SLOT='${h.spec.slot}'`);
        expect(settings).toContain(`NODE_NAME='e2e-metal-cp-${h.spec.slot}'`);
        expect(fs.existsSync(inRoot(h, "/etc/kubernetes/pki/ca.key"))).toBe(true);
      } else {
        expect(settings).not.toContain("CP_SLOT");
        expect(settings).toContain(`NODE_NAME='${h.spec.name}'`);
        expect(fs.existsSync(inRoot(h, "/etc/kubernetes/pki/ca.key"))).toBe(false);
        expect(fs.readdirSync(inRoot(h, NODE_LAYOUT.pkiDir))).toEqual(["ca.crt"]);
      }
      const join = fs.readFileSync(inRoot(h, NODE_LAYOUT.joinConfig), "utf8");
      expect(join).toContain(`value: ${h.spec.internalAddress}`);
      // The uploaded installer deleted itself; the upload directory stays private.
      expect(fs.readdirSync(inHome(h, ".cdktf-kubeadm"))).toEqual([]);
      expect(fs.statSync(inHome(h, ".cdktf-kubeadm")).mode & 0o777).toBe(0o700);
      expect(readStatus(h.node).result).toBe("succeeded");
    }
  });

  test("slot 0 inits, the others join", () => {
    const mode = (h: StubHost) => fs.readFileSync(inRoot(h, "/var/lib/cdktf-kubeadm/mode"), "utf8").trim();
    expect(hosts.map(mode)).toEqual(["init", "join", "join", "join", "join"]);
    expect(readCalls(host("cp-1").node).some((c) => c.startsWith("kubeadm init "))).toBe(true);
    for (const h of hosts.slice(1)) expect(readCalls(h.node).some((c) => c.startsWith("kubeadm join "))).toBe(true);
  });

  test("order: first control plane, then the others one by one, then the workers", () => {
    const span = (name: string) => {
      const times = kubeadmTimes(host(name)).map((t) => t.ns);
      expect(times.length).toBeGreaterThan(0);
      return { first: times[0], last: times[times.length - 1] };
    };
    const cp1 = span("cp-1");
    const cp2 = span("cp-2");
    const cp3 = span("cp-3");
    expect(cp1.last < cp2.first).toBe(true);
    expect(cp2.last < cp3.first).toBe(true);
    for (const w of ["worker-1", "worker-2"]) expect(cp3.last < span(w).first).toBe(true);
  });

  test("kube-vip: slot 0 inits with super-admin.conf, everything ends on admin.conf", () => {
    const mounted = (file: string) => /path: (\S+\.conf)/.exec(fs.readFileSync(file, "utf8"))?.[1];
    expect(mounted(inHome(host("cp-1"), "kube-vip-at-init.yaml"))).toBe(KUBE_VIP_LAYOUT.superAdminConf);
    expect(mounted(inHome(host("cp-2"), "kube-vip-at-join.yaml"))).toBe(KUBE_VIP_LAYOUT.adminConf);
    for (const h of hosts.filter((x) => x.spec.role === "control-plane")) {
      expect(mounted(inRoot(h, KUBE_VIP_LAYOUT.manifest))).toBe(KUBE_VIP_LAYOUT.adminConf);
    }
    for (const h of hosts.filter((x) => x.spec.role === "worker")) {
      expect(fs.existsSync(inRoot(h, KUBE_VIP_LAYOUT.manifest))).toBe(false);
      expect(fs.existsSync(inHome(h, "no-kube-vip-at-join"))).toBe(true);
    }
  });

  test("no secret reaches Terraform's output", () => {
    const cluster = synth();
    const pki = cluster.kubeadm.pki;
    for (const secret of [pki.bootstrapToken, pki.ca.keyPem, pki.serviceAccount.privateKeyPem, "PRIVATE KEY"]) {
      expect(firstApply).not.toContain(secret.trim().split("\n")[1] ?? secret);
      expect(firstApply).not.toContain(secret);
    }
    expect(firstApply).toContain("cdktf-kubeadm: installed");
  });

  test("no change, no run: plan is empty and a second apply calls nothing on the hosts", () => {
    synth();
    const plan = terraform(stackDir, ["plan", "-detailed-exitcode", "-no-color", "-var", `ssh_private_key_path=${key.privateKeyPath}`]);
    expect({ status: plan.status, out: plan.stdout.slice(-400) }).toEqual({ status: 0, out: expect.any(String) });
    const before = hosts.map((h) => readCalls(h.node).length);
    expect(apply()).toMatch(/Resources: 0 added, 0 changed, 0 destroyed/);
    expect(hosts.map((h) => readCalls(h.node).length)).toEqual(before);
  });

  const moveWorker2 = (list: BaremetalHost[]) => list.map((h) => (h.name === "worker-2" ? { ...h, internalAddress: "192.168.10.23" } : h));

  test("a changed host payload re-runs only that host", () => {
    synth(moveWorker2);
    const plan = terraform(stackDir, ["plan", "-detailed-exitcode", "-no-color", "-var", `ssh_private_key_path=${key.privateKeyPath}`]);
    expect(plan.status).toBe(2);
    expect(plan.stdout).toMatch(/Plan: 1 to add, 0 to change, 1 to destroy/);
    expect(plan.stdout).toContain("terraform_data.e2e-metal_bootstrap_worker-2 must be replaced");
    const joinsBefore = readCalls(host("worker-2").node).filter((c) => c.startsWith("kubeadm join")).length;
    apply();
    const w2 = host("worker-2");
    expect(fs.readFileSync(inRoot(w2, NODE_LAYOUT.joinConfig), "utf8")).toContain("value: 192.168.10.23");
    // The bootstrap saw its done marker: no second join.
    expect(readCalls(w2.node).filter((c) => c.startsWith("kubeadm join")).length).toBe(joinsBefore);
  });

  test("a version bump re-runs the control-plane hosts only: new desired version, agent started", () => {
    const START = "systemctl start --no-block cdktf-kubeadm-upgrade.service";
    const controlPlane = hosts.filter((h) => h.spec.role === "control-plane");
    const workers = hosts.filter((h) => h.spec.role === "worker");
    // The first apply wrote the cluster's version and started the agent (a no-op at that version).
    for (const h of controlPlane) {
      expect(fs.readFileSync(inRoot(h, NODE_LAYOUT.desiredVersion), "utf8")).toBe("1.36.4\n");
      expect(readCalls(h.node)).toContain(START);
    }
    for (const h of workers) expect(fs.existsSync(inRoot(h, NODE_LAYOUT.desiredVersion))).toBe(false);

    // Same inventory as the previous test (worker-2 moved), one minor up: same PKI store.
    synth(moveWorker2, { "baremetal.kubernetesVersion": "1.37.1" });
    const plan = terraform(stackDir, ["plan", "-detailed-exitcode", "-no-color", "-var", `ssh_private_key_path=${key.privateKeyPath}`]);
    expect(plan.status).toBe(2);
    expect(plan.stdout).toMatch(/Plan: 3 to add, 0 to change, 3 to destroy/);
    for (const h of controlPlane) expect(plan.stdout).toContain(`terraform_data.e2e-metal_bootstrap_${h.spec.name} must be replaced`);
    const before = new Map(hosts.map((h) => [h.spec.name, readCalls(h.node).length]));
    expect(apply()).toMatch(/Resources: 3 added, 0 changed, 3 destroyed/);

    for (const h of controlPlane) {
      expect({ host: h.spec.name, desired: fs.readFileSync(inRoot(h, NODE_LAYOUT.desiredVersion), "utf8") }).toEqual({ host: h.spec.name, desired: "1.37.1\n" });
      const calls = readCalls(h.node).slice(before.get(h.spec.name));
      expect({ host: h.spec.name, started: calls.filter((c) => c === START).length }).toEqual({ host: h.spec.name, started: 1 });
      // The bootstrap found its done marker: no init, join or package change.
      expect(calls.filter((c) => /^kubeadm (init|join)|^apt-get .*install/.test(c))).toEqual([]);
      expect(readStatus(h.node).result).toBe("succeeded");
    }
    // Workers: not contacted at all (their triggers leave the version out).
    for (const h of workers) expect({ host: h.spec.name, calls: readCalls(h.node).length }).toEqual({ host: h.spec.name, calls: before.get(h.spec.name) });
  });
});
