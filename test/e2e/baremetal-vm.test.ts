/**
 * End to end on virtual machines: the bare-metal construct's NoCloud seeds, unmodified, boot
 * Debian 12 VMs (debootstrap, cached) on a network of their own, and real cloud-init, our
 * bootstrap, kubeadm, kubelet, containerd and runc (all built here from source) turn them into a
 * cluster. Air-gapped: packages come from the site's mirrors (pkgs.k8s.io's and Docker's layout,
 * re-signed with a test key: packageRepositoryKeyFingerprint / containerdRepositoryKeyFingerprint),
 * images from the site's registry (registryMirrors), and the VMs have no route anywhere else.
 */
import * as fs from "fs";
import * as path from "path";
import { App, TerraformStack } from "cdktf";
import { BaremetalKubeadmCluster } from "../../src/constructs/baremetal";
import { kubeadmImageContent, mustPushImage, startRegistry } from "../support/images";
import { KUBERNETES_TEST_VERSION, kubernetesCommand, outcome, run } from "../support/kubernetes";
import { tempDir } from "../support/stack-json";
import { buildStep, Site, SITE_ADDRESS, Vm } from "./harness";

jest.setTimeout(60 * 60_000);

const VERSION = KUBERNETES_TEST_VERSION;
const CONTROL_PLANE = { name: "cp-1", address: "10.0.0.11" };
const WORKER = { name: "worker-1", address: "10.0.0.21" };
const work = tempDir("e2e-baremetal-");
let site: Site;
let cluster: BaremetalKubeadmCluster;
const seeds = path.join(work, "seeds");
const timings: Record<string, number> = {};


beforeAll(() => {
  const started = Date.now();
  const image = buildStep("build-image.sh");
  const repos = buildStep("build-repos.sh", VERSION);
  const fingerprint = fs.readFileSync(path.join(repos, "signing-key.fingerprint"), "utf8").trim();
  timings.buildsMs = Date.now() - started;

  site = new Site(image);
  const http = site.serveHttp(repos);
  const registry = startRegistry(site.ns, SITE_ADDRESS);
  const listed = run(kubernetesCommand(VERSION, "kubeadm"), ["config", "images", "list", "--kubernetes-version", `v${VERSION}`]);
  expect(outcome(listed)).toBe("exit 0");
  for (const image of listed.stdout.trim().split("\n")) {
    const content = kubeadmImageContent(VERSION, image);
    mustPushImage(site.ns, image.replace(/^registry\.k8s\.io\//, `${registry}/`), [content], [content.path]);
  }

  const app = new App({ outdir: path.join(work, "out") });
  const stack = new TerraformStack(app, "e2e");
  cluster = new BaremetalKubeadmCluster(stack, "cluster", {
    name: "e2e",
    kubernetesVersion: VERSION,
    hosts: [
      { name: CONTROL_PLANE.name, address: CONTROL_PLANE.address, role: "control-plane" },
      { name: WORKER.name, address: WORKER.address, role: "worker", pool: "general" },
    ],
    nodeCidr: "10.0.0.0/24",
    cni: { plugin: "none" },
    packageRepositoryBaseUrl: `${http}/pkgs/core:/stable:`,
    packageRepositoryKeyFingerprint: fingerprint,
    containerdRepositoryUrl: `${http}/docker`,
    containerdRepositoryKeyFingerprint: fingerprint,
    registryMirrors: { "registry.k8s.io": { endpoint: `http://${registry}`, allowPlainHttp: true } },
    seedFiles: { directory: seeds, includeControlPlaneSecrets: true },
    pkiDirectory: path.join(work, "pki"),
  });
  app.synth();
  timings.siteMs = Date.now() - started - timings.buildsMs;
});

afterAll(() => {
  if (process.env.E2E_KEEP) return;
  site?.stop();
  site?.remove();
  fs.rmSync(work, { recursive: true, force: true });
  console.log(`e2e timings (s): ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v / 1000)])))}`);
});

const kubeconfig = () => {
  const file = path.join(site.ns.dir, "admin.conf");
  fs.writeFileSync(file, cluster.kubeadm.adminKubeconfig, { mode: 0o600 });
  return file;
};

function nodes(): [string, string][] {
  const r = site.ns.exec(kubernetesCommand(VERSION, "kubectl"), ["--kubeconfig", kubeconfig(), "get", "nodes", "-o", "json"]);
  expect(outcome(r)).toBe("exit 0");
  const items = JSON.parse(r.stdout).items as { metadata: { name: string }; status: { nodeInfo: { kubeletVersion: string } } }[];
  return items.map((n) => [n.metadata.name, n.status.nodeInfo.kubeletVersion]);
}

/** Boots a host from its seed and waits for the bootstrap's last line; returns the VM. */
function bootHost(host: { name: string; address: string }, memoryMiB: number, timing: string): Vm {
  const started = Date.now();
  const vm = site.boot({ ...host, seedDirectory: path.join(seeds, host.name), memoryMiB });
  vm.waitForConsole(/cdktf-kubeadm bootstrap (succeeded|FAILED)/, 45 * 60_000);
  timings[timing] = Date.now() - started;
  expect(vm.console().match(/cdktf-kubeadm bootstrap (succeeded|FAILED.*)/)?.[0]).toBe("cdktf-kubeadm bootstrap succeeded");
  return vm;
}

describe("a control plane and a worker from their unmodified seeds", () => {
  test("the control plane boots and its bootstrap (kubeadm init) succeeds", () => {
    bootHost(CONTROL_PLANE, 3072, "controlPlaneBootToDoneMs");
  });

  test("the stack's admin kubeconfig works from the site against the VM's API server", () => {
    expect(nodes()).toEqual([["e2e-cp-0", `v${VERSION}`]]);
  });

  test("the worker boots and joins through discovery with the CA pin", () => {
    bootHost(WORKER, 2048, "workerBootToDoneMs");
    expect(nodes().sort()).toEqual([["e2e-cp-0", `v${VERSION}`], [WORKER.name, `v${VERSION}`]]);
  });
});
