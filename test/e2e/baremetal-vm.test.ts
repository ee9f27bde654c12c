/**
 * End to end on virtual machines: the bare-metal construct's NoCloud seeds, unmodified, boot
 * Debian 12 VMs (debootstrap, cached) on a network of their own, and real cloud-init, our
 * bootstrap, kubeadm, kubelet, containerd and runc (all built here from source) turn them into a
 * cluster. Air-gapped: packages come from the site's mirrors (pkgs.k8s.io's and Docker's layout,
 * re-signed with a test key: packageRepositoryKeyFingerprint / containerdRepositoryKeyFingerprint),
 * images from the site's registry (registryMirrors), and the VMs have no route anywhere else.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { App, Fn, LocalBackend, TerraformStack } from "cdktf";
import { BaremetalKubeadmCluster } from "../../src/constructs/baremetal";
import { busybox, IMAGE_PATH, imageFiles, iptablesUserland, mustPushImage, pushKubeadmImage, startRegistry } from "../support/images";
import { KUBERNETES_NEXT_VERSION, KUBERNETES_TEST_VERSION, kubernetesCommand, outcome, run } from "../support/kubernetes";
import { tempDir } from "../support/stack-json";
import { waitFor } from "../support/wait";
import { generateKeyPair, KeyPair } from "../support/sshd";
import { terraform } from "../support/terraform";
import { buildStep, Site, SITE_ADDRESS, SITE_SSH_USER, Vm } from "./harness";

jest.setTimeout(60 * 60_000);

const VERSION = KUBERNETES_TEST_VERSION;
const CONTROL_PLANE = { name: "cp-1", address: "10.0.0.11" };
const WORKER = { name: "worker-1", address: "10.0.0.21" };
const work = tempDir("e2e-baremetal-");
const www = path.join(work, "www");
const timings: Record<string, number> = {};
/** Boot-to-done, ours over plain kubeadm by hand (the baseline). */
const ratios: Record<string, number> = {};
const suiteStarted = Date.now();
let site: Site;
let registry: string;
let flannel: string;
let fingerprint: string;
let sshKey: KeyPair;
/** The stack as last synthesized (one per version, same PKI directory and Terraform state). */
let cluster: BaremetalKubeadmCluster;
let stackDir: string;
let workerVm: Vm | undefined;
let controlPlaneVm: Vm | undefined;

beforeAll(() => {
  const started = Date.now();
  const image = buildStep("build-image.sh");
  const repos = buildStep("build-repos.sh", VERSION);
  flannel = buildStep(path.join("..", "k8s", "build-tools.sh"), "flannel");
  fingerprint = fs.readFileSync(path.join(repos, "signing-key.fingerprint"), "utf8").trim();
  timings.buildsMs = Date.now() - started;

  sshKey = generateKeyPair(work);
  site = new Site(image, sshKey.publicKey);
  // The site's web server: the package mirrors and the CNI manifest, as a company would host them.
  fs.mkdirSync(path.join(www, "cni"), { recursive: true });
  fs.symlinkSync(path.join(repos, "docker"), path.join(www, "docker"));
  servePackages(repos, VERSION);
  fs.writeFileSync(path.join(www, "cni", "kube-flannel.yml"), flannelManifest(path.join(flannel, "kube-flannel.yml")));
  site.serveHttp(www);
  registry = startRegistry(site.ns, SITE_ADDRESS);
  pushImages(VERSION);
  pushFlannelAndTestImages();
  synthCluster(VERSION);
  timings.siteMs = Date.now() - started - timings.buildsMs;
});

/** Puts one minor's pkgs.k8s.io-style repository (build-repos.sh) on the site's web server. */
function servePackages(repos: string, version: string): void {
  const minor = `v${version.split(".").slice(0, 2).join(".")}`;
  const stable = path.join(www, "pkgs", "core:", "stable:");
  fs.mkdirSync(stable, { recursive: true });
  fs.symlinkSync(path.join(repos, "pkgs", "core:", "stable:", minor), path.join(stable, minor));
}

/**
 * The cluster stack at `version`: both delivery modes. Seed files (NoCloud, what the VMs boot
 * from) and SSH (what `terraform apply` uses on the running VMs: day 2, the version bump).
 */
function synthCluster(version: string): void {
  const http = `http://${SITE_ADDRESS}:8080`;
  const app = new App({ outdir: path.join(work, "out") });
  const stack = new TerraformStack(app, "e2e");
  new LocalBackend(stack, { path: path.join(work, "terraform.tfstate") });
  cluster = new BaremetalKubeadmCluster(stack, "cluster", {
    name: "e2e",
    kubernetesVersion: version,
    hosts: [
      { name: CONTROL_PLANE.name, address: CONTROL_PLANE.address, role: "control-plane" },
      { name: WORKER.name, address: WORKER.address, role: "worker", pool: "general" },
    ],
    nodePools: [{ name: "general", maxPods: WORKER_MAX_PODS }],
    nodeCidr: "10.0.0.0/24",
    cni: {
      plugin: "flannel",
      manifestUrl: `${http}/cni/kube-flannel.yml`,
      manifestSha256: sha256(fs.readFileSync(path.join(www, "cni", "kube-flannel.yml"))),
      allowPlainHttp: true,
    },
    packageRepositoryBaseUrl: `${http}/pkgs/core:/stable:`,
    packageRepositoryKeyFingerprint: fingerprint,
    containerdRepositoryUrl: `${http}/docker`,
    containerdRepositoryKeyFingerprint: fingerprint,
    registryMirrors: {
      "registry.k8s.io": { endpoint: `http://${registry}`, allowPlainHttp: true },
      "ghcr.io": { endpoint: `http://${registry}`, allowPlainHttp: true },
    },
    // Under TCG a new API server takes over kubeadm's 1m (kubernetesAPICall) to answer its first
    // request, and often more than the 5 s a leader-election request may take: with one control
    // plane there is nobody to elect, so the controller manager and scheduler skip it.
    // kubeadm upgrade waits upgradeManifests (5m) for each rewritten static Pod and then rolls it
    // back: under TCG the new API server needs longer (the run of 2026-12-03 rolled back).
    // kubeadm init waits controlPlaneComponentHealthCheck (4m) for the new API server's /livez: the
    // run of 2026-12-07, with builds on the host's 2 cores, needed longer and init failed.
    kubeadmTimeouts: { kubernetesAPICall: "5m", upgradeManifests: "20m", controlPlaneComponentHealthCheck: "10m" },
    // Under TCG, with flannel, kube-proxy and a second VM running, the API server's /livez misses
    // kubeadm's probe (15 s timeout, 8 failures) and the kubelet restarts it every few minutes:
    // give it 10 minutes of failures first. Also proves the patches reach init and the upgrade.
    kubeadmPatches: { kubeApiServer: { spec: { containers: [{ name: "kube-apiserver", livenessProbe: API_SERVER_LIVENESS }] } } },
    controlPlane: { controllerManagerExtraArgs: { "leader-elect": "false" }, schedulerExtraArgs: { "leader-elect": "false" } },
    ssh: { user: SITE_SSH_USER, privateKey: Fn.file(sshKey.privateKeyPath), timeout: "2m" },
    seedFiles: { directory: seedsOf(version), includeControlPlaneSecrets: true },
    pkiDirectory: path.join(work, "pki"),
  });
  app.synth();
  stackDir = path.join(work, "out", "stacks", "e2e");
}

const API_SERVER_LIVENESS = { timeoutSeconds: 60, periodSeconds: 20, failureThreshold: 30 };
/** Not kubelet's 110: the worker's capacity shows that its pool's kubelet patch was applied. */
const WORKER_MAX_PODS = 64;

const seedsOf = (version: string) => path.join(work, `seeds-${version}`);

/**
 * flannel's release manifest (kube-flannel.yml of the module we build) as a site serves it. One
 * change: cniVersion 0.4.0, the newest the flannel CNI plugin we can build speaks (build.env).
 */
function flannelManifest(release: string): string {
  const text = fs.readFileSync(release, "utf8");
  expect(text).toContain('"cniVersion": "1.0.0"');
  return text.replace('"cniVersion": "1.0.0"', '"cniVersion": "0.4.0"');
}

const TEST_IMAGE = "registry.k8s.io/e2e-test-images/busybox:1.35.0-deb12";
const mirrored = (image: string) => image.replace(/^(registry\.k8s\.io|ghcr\.io)\//, `${registry}/`);

/**
 * Kubeadm's images for `version`, built here and pushed to the site's registry under the upstream
 * names (the nodes reach them through registryMirrors); kube-proxy with the iptables userland it execs.
 */
function pushImages(version: string): void {
  const listed = run(kubernetesCommand(version, "kubeadm"), ["config", "images", "list", "--kubernetes-version", `v${version}`]);
  expect(outcome(listed)).toBe("exit 0");
  for (const image of listed.stdout.trim().split("\n")) pushKubeadmImage(site.ns, registry, version, image);
}

/** flannel's two images (the names its manifest gives) and the test pods' busybox. */
function pushFlannelAndTestImages(): void {
  const manifest = fs.readFileSync(path.join(flannel, "kube-flannel.yml"), "utf8");
  const imageOf = (name: string) => manifest.match(new RegExp(`image: (ghcr\\.io/flannel-io/${name}:\\S+)`))![1];
  mustPushImage(site.ns, mirrored(imageOf("flannel-cni-plugin")), [
    { path: "/flannel", source: path.join(flannel, "flannel") },
    ...busybox(["cp", "sh"]),
  ], { env: IMAGE_PATH });
  mustPushImage(site.ns, mirrored(imageOf("flannel")), imageFiles(
    [{ path: "/opt/bin/flanneld", source: path.join(flannel, "flanneld") }, { path: "/opt/bin/install-conf", source: path.join(flannel, "install_conf") }],
    iptablesUserland(),
  ), { env: IMAGE_PATH });
  mustPushImage(site.ns, mirrored(TEST_IMAGE), busybox(["sh", "cat", "wget", "httpd", "hostname", "sleep", "nslookup"]), { env: IMAGE_PATH });
}

function sha256(data: Buffer): string {
  return crypto.createHash("sha256").update(data).digest("hex");
}

afterAll(() => {
  timings.totalMs = Date.now() - suiteStarted;
  console.log([
    `e2e timings (s): ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v / 1000)])))}`,
    `e2e overhead, boot to done, ours / plain kubeadm: ${JSON.stringify(ratios)}`,
  ].join("\n"));
  if (process.env.E2E_KEEP) return;
  site?.stop();
  site?.remove();
  fs.rmSync(work, { recursive: true, force: true });
});

const kubeconfig = () => {
  const file = path.join(site.ns.dir, "admin.conf");
  fs.writeFileSync(file, cluster.kubeadm.adminKubeconfig, { mode: 0o600 });
  return file;
};

/** kubectl (the test version) from the site, with the stack's admin kubeconfig. */
function kubectl(args: readonly string[], input?: string, timeoutMs?: number): ReturnType<typeof run> {
  return site.ns.exec(kubernetesCommand(VERSION, "kubectl"), ["--kubeconfig", kubeconfig(), "--request-timeout=30s", ...args], { input, timeoutMs });
}

function kubectlJson<T>(args: readonly string[]): T {
  const r = kubectl([...args, "-o", "json"]);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${outcome(r)}`);
  return JSON.parse(r.stdout) as T;
}

interface NodeItem {
  metadata: { name: string };
  status: { nodeInfo: { kubeletVersion: string }; conditions: { type: string; status: string }[] };
}

const allReady = () => kubectlJson<{ items: NodeItem[] }>(["get", "nodes"]).items
  .every((n) => n.status.conditions.some((c) => c.type === "Ready" && c.status === "True"));

/** Every pod of kube-system and kube-flannel Ready (static pods, kube-proxy, flannel, CoreDNS). */
function systemPodsReady(): boolean {
  const pods = ["kube-system", "kube-flannel"].flatMap((ns) =>
    kubectlJson<{ items: { status: { phase: string; conditions?: { type: string; status: string }[] } }[] }>(["-n", ns, "get", "pods"]).items);
  return pods.length >= 7 && pods.every((p) => p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
}

function nodes(): [string, string][] {
  return kubectlJson<{ items: NodeItem[] }>(["get", "nodes"]).items.map((n) => [n.metadata.name, n.status.nodeInfo.kubeletVersion]);
}

/**
 * Waits until the API server lists exactly `expected` (name, kubelet version), sorted. kubeadm join
 * returns once the kubelet has its client certificate; the kubelet registers its Node a moment
 * later (seconds under TCG, once over a minute in CI), so a single look right after the bootstrap
 * races it. Returns ms waited.
 */
function waitForNodes(expected: [string, string][]): number {
  const want = JSON.stringify([...expected].sort());
  return waitFor(`nodes ${want}`, () => JSON.stringify(nodes().sort()) === want, {
    timeoutMs: 5 * 60_000, intervalMs: 3000, tolerateErrors: true, diagnostics: () => JSON.stringify(nodes().sort()),
  });
}

/** Boots a host from its seed and waits for the bootstrap's last line; returns the VM. */
function bootHost(host: { name: string; address: string }, version: string, memoryMiB: number, timing: string): Vm {
  const started = Date.now();
  // Two TCG guests share this machine's 2 cores: the worker gets one vCPU at the lowest priority,
  // so the control plane's API server keeps answering its liveness probe.
  const worker = host.name === WORKER.name;
  const vm = site.boot({ ...host, seedDirectory: path.join(seedsOf(version), host.name), memoryMiB, ...(worker ? { cpus: 1, nice: 19 } : {}) });
  vm.waitForConsole(/cdktf-kubeadm bootstrap (succeeded|FAILED)/, 45 * 60_000);
  timings[timing] = Date.now() - started;
  const last = vm.console().match(/cdktf-kubeadm bootstrap (succeeded|FAILED.*)/)?.[0];
  if (last !== "cdktf-kubeadm bootstrap succeeded") {
    throw new Error(`${host.name}: ${last}\n${vm.console().split("\n").filter((l) => /\[(cluster|preflight|install|images)\]|kubeadm|error|rror:/i.test(l)).slice(-60).join("\n")}`);
  }
  return vm;
}

/** A pod pinned to `node` (any taint tolerated) running busybox `script`; its logs once it exits 0. */
function runOnNode(name: string, node: string, script: string, hostPath?: string): string {
  const volume = hostPath === undefined ? "" : [
    "    volumeMounts: [{ name: host, mountPath: /host, readOnly: true }]",
    "  volumes: [{ name: host, hostPath: { path: " + hostPath + ", type: Directory } }]",
  ].join("\n");
  const manifest = [
    "apiVersion: v1",
    "kind: Pod",
    `metadata: { name: ${name}, namespace: default }`,
    "spec:",
    `  nodeName: ${node}`,
    "  restartPolicy: OnFailure",
    "  tolerations: [{ operator: Exists }]",
    "  containers:",
    `  - name: main`,
    `    image: ${TEST_IMAGE}`,
    `    command: [sh, -c, ${JSON.stringify(script)}]`,
    volume,
    "",
  ].join("\n");
  const applied = kubectl(["apply", "-f", "-"], manifest);
  if (applied.code !== 0) throw new Error(`pod ${name}: ${outcome(applied)}`);
  waitFor(`pod ${name} on ${node} succeeds`, () => kubectlJson<{ status: { phase: string } }>(["get", "pod", name]).status.phase === "Succeeded", {
    timeoutMs: 10 * 60_000, intervalMs: 5000, tolerateErrors: true,
    diagnostics: () => `${kubectl(["describe", "pod", name]).stdout}\n${kubectl(["logs", name]).stdout}`,
  });
  const logs = kubectl(["logs", name]);
  if (logs.code !== 0) throw new Error(`logs of ${name}: ${outcome(logs)}`);
  kubectl(["delete", "pod", name, "--wait=false"]); // nothing of the test left for a later drain
  return logs.stdout;
}

const CONTROL_PLANE_NODE = "e2e-cp-0";

/** The liveness probe of the API server's static Pod, as the kubelet runs it. */
function apiServerLiveness(): Record<string, unknown> {
  const pod = kubectlJson<{ spec: { containers: { name: string; livenessProbe: Record<string, unknown> }[] } }>(["-n", "kube-system", "get", "pod", `kube-apiserver-${CONTROL_PLANE_NODE}`]);
  return pod.spec.containers.find((c) => c.name === "kube-apiserver")!.livenessProbe;
}

describe("a control plane and a worker from their unmodified seeds", () => {
  test("the control plane boots and its bootstrap (kubeadm init, flannel) succeeds", () => {
    controlPlaneVm = bootHost(CONTROL_PLANE, VERSION, 3072, "controlPlaneBootToDoneMs");
  });

  test("the stack's admin kubeconfig works from the site against the VM's API server", () => {
    expect(nodes()).toEqual([[CONTROL_PLANE_NODE, `v${VERSION}`]]);
  });

  test("the control plane alone settles: Ready with flannel, kube-proxy and CoreDNS running", () => {
    const started = Date.now();
    waitFor("the control plane Ready with its DaemonSets and CoreDNS", () => allReady() && systemPodsReady(), {
      timeoutMs: 20 * 60_000, intervalMs: 5000, tolerateErrors: true, diagnostics: () => kubectl(["get", "pods", "-A", "-o", "wide"]).stdout,
    });
    timings.controlPlaneSettledMs = Date.now() - started;
  });

  test("the worker boots and joins through discovery with the CA pin", () => {
    workerVm = bootHost(WORKER, VERSION, 2048, "workerBootToDoneMs");
    timings.workerRegisteredAfterDoneMs = waitForNodes([[CONTROL_PLANE_NODE, `v${VERSION}`], [WORKER.name, `v${VERSION}`]]);
  });

  test("kubeadm patches reached the nodes: the API server's liveness probe, the worker pool's maxPods", () => {
    expect(apiServerLiveness()).toMatchObject(API_SERVER_LIVENESS);
    const worker = kubectlJson<{ status: { capacity: { pods: string } } }>(["get", "node", WORKER.name]);
    expect(worker.status.capacity.pods).toBe(String(WORKER_MAX_PODS));
  });

  test("both nodes are Ready (flannel's vxlan network is up) and CoreDNS runs", () => {
    const started = Date.now();
    const everything = () => `${kubectl(["get", "nodes", "-o", "wide"]).stdout}\n${kubectl(["get", "pods", "-A", "-o", "wide"]).stdout}`;
    waitFor("both nodes Ready", () => {
      const items = kubectlJson<{ items: NodeItem[] }>(["get", "nodes"]).items;
      return items.filter((n) => n.status.conditions.some((c) => c.type === "Ready" && c.status === "True")).length === 2;
    }, { timeoutMs: 15 * 60_000, intervalMs: 5000, tolerateErrors: true, diagnostics: everything });
    timings.nodesReadyAfterWorkerMs = Date.now() - started;
    waitFor("CoreDNS Ready", () => {
      const pods = kubectlJson<{ items: { status: { conditions?: { type: string; status: string }[] } }[] }>(["-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns"]).items;
      const ready = pods.filter((p) => p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
      return pods.length > 0 && ready.length === pods.length;
    }, {
      timeoutMs: 15 * 60_000, intervalMs: 5000, tolerateErrors: true,
      diagnostics: () => `${everything()}\n${kubectl(["-n", "kube-system", "describe", "pods", "-l", "k8s-app=kube-dns"]).stdout.slice(-3000)}`,
    });
    timings.coreDnsReadyMs = Date.now() - started;
  });

  test("a pod on the worker answers through a Service, by name, from a pod on the control plane", () => {
    const web = [
      "apiVersion: v1",
      "kind: Pod",
      "metadata: { name: web, namespace: default, labels: { app: web } }",
      "spec:",
      `  nodeName: ${WORKER.name}`,
      "  containers:",
      "  - name: httpd",
      `    image: ${TEST_IMAGE}`,
      "    command: [httpd, -f, -p, '8080', -h, /etc]",
      "    readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 2 }",
      "---",
      "apiVersion: v1",
      "kind: Service",
      "metadata: { name: web, namespace: default }",
      "spec: { selector: { app: web }, ports: [{ port: 80, targetPort: 8080 }] }",
      "",
    ].join("\n");
    expect(outcome(kubectl(["apply", "-f", "-"], web))).toBe("exit 0");
    // busybox httpd serves /etc/hostname: the answer names the pod that gave it. No `wget -T`:
    // Debian's busybox 1.35 segfaults on it (also natively on this host). Until the web pod is
    // ready the Service has no endpoints and kube-proxy rejects: those refusals are not the answer.
    const started = Date.now();
    const answer = runOnNode("client", CONTROL_PLANE_NODE,
      "until wget -q -O - http://web.default.svc.cluster.local/hostname 2>/dev/null; do sleep 2; done");
    timings.serviceAnswerMs = Date.now() - started;
    expect(answer.trim()).toBe("web");
    const where = kubectlJson<{ spec: { nodeName: string } }>(["get", "pod", "web"]);
    expect(where.spec.nodeName).toBe(WORKER.name);
  });

  test("status.json says done on both nodes", () => {
    for (const [name, node] of [["status-cp", CONTROL_PLANE_NODE], ["status-worker", WORKER.name]]) {
      const status = JSON.parse(runOnNode(name, node, "cat /host/status.json", "/var/lib/cdktf-kubeadm")) as { phase: string; result: string; error: unknown };
      expect({ node, phase: status.phase, result: status.result, error: status.error }).toEqual({ node, phase: "done", result: "succeeded", error: null });
    }
  });

  test("the control plane's backup agent (on by default) takes a snapshot with the etcd image's own etcdctl and etcdutl (real ctr), stored and recorded", () => {
    const started = Date.now();
    const run = controlPlaneVm!.ssh(sshKey.privateKeyPath, [
      "sudo systemctl is-enabled cdktf-kubeadm-backup.timer",
      "sudo systemctl start cdktf-kubeadm-backup.service",
      "sudo systemctl show -p Result --value cdktf-kubeadm-backup.service",
      // the glob in root's shell: the directory is 0700
      `sudo sh -c "stat -c '%a %n' /var/lib/cdktf-kubeadm/etcd-backups /var/lib/cdktf-kubeadm/etcd-backups/recent/*"`,
    ].join(" && "), { timeoutMs: 10 * 60_000 });
    timings.backupMs = Date.now() - started;
    const log = () => controlPlaneVm!.ssh(sshKey.privateKeyPath, "sudo tail -n 30 /var/log/cdktf-kubeadm-backup.log").stdout;
    expect({ outcome: outcome(run), log: run.code === 0 ? "" : log() }).toEqual({ outcome: "exit 0", log: "" });
    const [enabled, result, directory, ...files] = run.stdout.trim().split("\n");
    expect([enabled, result, directory]).toEqual(["enabled", "success", "700 /var/lib/cdktf-kubeadm/etcd-backups"]);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(file).toMatch(/^600 \/var\/lib\/cdktf-kubeadm\/etcd-backups\/recent\/etcd-\d{8}T\d{6}Z\.db$/);
    const status = kubectlJson<{ data: Record<string, string> }>(["-n", "kube-system", "get", "configmap", "cdktf-kubeadm-etcd-backup"]).data;
    expect(status.lastError).toBe("");
    const last = JSON.parse(status.lastSnapshot) as { node: string; revision: number; sizeBytes: number; location: string };
    expect(last).toMatchObject({ node: CONTROL_PLANE_NODE, location: expect.stringMatching(/^\/var\/lib\/cdktf-kubeadm\/etcd-backups\/recent\/etcd-\d{8}T\d{6}Z\.db$/) });
    expect(last.revision).toBeGreaterThan(100);
    expect(last.sizeBytes).toBeGreaterThan(100_000);
  });
});

const NEXT = KUBERNETES_NEXT_VERSION;

/** terraform in the stack directory, from the site's network (where the VMs' SSH is). */
function tf(args: string[]): ReturnType<typeof terraform> {
  return terraform(stackDir, args, {}, 30 * 60_000, site.ns.networkLauncher());
}

function tfOk(args: string[]): string {
  const r = tf(args);
  if (r.status !== 0) throw new Error(`terraform ${args.join(" ")} (${r.status}):\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
  return r.stdout;
}

interface UpgradeStatus { from: string; to: string; phase: string; result: string; error: string | null }

function upgradeStatus(): Record<string, UpgradeStatus> {
  const map = kubectl(["-n", "kube-system", "get", "configmap", "cdktf-kubeadm-upgrade-status", "-o", "json", "--ignore-not-found"]);
  if (map.code !== 0 || map.stdout.trim() === "") return {};
  const data = (JSON.parse(map.stdout) as { data?: Record<string, string> }).data ?? {};
  return Object.fromEntries(Object.entries(data).map(([node, json]) => [node, JSON.parse(json) as UpgradeStatus]));
}

describe("upgrade to the next minor through the bare-metal desired-version channel", () => {
  let worker: Vm | undefined;

  test("terraform apply over SSH reaches the running VMs and changes nothing (their bootstrap is done)", () => {
    tfOk(["init", "-no-color", "-input=false"]);
    tfOk(["apply", "-auto-approve", "-no-color"]);
    expect(nodes().sort()).toEqual([[CONTROL_PLANE_NODE, `v${VERSION}`], [WORKER.name, `v${VERSION}`]]);
    expect(tf(["plan", "-detailed-exitcode", "-no-color"]).status).toBe(0);
  });

  test("the version bump re-runs the control plane's delivery only, and its upgrade agent upgrades it in place", () => {
    const built = Date.now();
    buildStep(path.join("..", "k8s", "build.sh"), `v${NEXT}`);
    const repos = buildStep("build-repos.sh", NEXT);
    expect(fs.readFileSync(path.join(repos, "signing-key.fingerprint"), "utf8").trim()).toBe(fingerprint);
    servePackages(repos, NEXT);
    pushImages(NEXT);
    timings.upgradeBuildsMs = Date.now() - built;

    const started = Date.now();
    synthCluster(NEXT);
    const plan = tf(["plan", "-detailed-exitcode", "-no-color"]);
    expect(plan.status).toBe(2);
    const replaced = [...plan.stdout.matchAll(/# (\S+) must be replaced/g)].map((m) => m[1]);
    expect(replaced).toEqual(["terraform_data.e2e_bootstrap_cp-1"]);
    tfOk(["apply", "-auto-approve", "-no-color"]);
    waitFor(`the control plane at v${NEXT} (upgrade agent done)`, () => {
      const status = upgradeStatus()[CONTROL_PLANE_NODE];
      if (status?.result === "failed") return true; // the expectation below shows it
      return status?.phase === "done" && status.result === "succeeded" && nodes().some(([n, v]) => n === CONTROL_PLANE_NODE && v === `v${NEXT}`);
    }, { timeoutMs: 40 * 60_000, intervalMs: 10_000, tolerateErrors: true, diagnostics: () => [
      JSON.stringify(upgradeStatus()),
      kubectl(["get", "nodes", "-o", "wide"]).stdout,
      controlPlaneVm!.ssh(sshKey.privateKeyPath, "sudo systemctl status --no-pager cdktf-kubeadm-upgrade.service; sudo tail -n 40 /var/log/cdktf-kubeadm-upgrade.log").stdout,
    ].join("\n") });
    timings.controlPlaneUpgradeMs = Date.now() - started;
    expect(upgradeStatus()[CONTROL_PLANE_NODE]).toMatchObject({ from: VERSION, to: NEXT, phase: "done", result: "succeeded", error: null });
    const server = kubectlJson<{ serverVersion: { gitVersion: string } }>(["version"]).serverVersion.gitVersion;
    expect(server).toBe(`v${NEXT}`);
    // kubeadm read the node's UpgradeConfiguration: our timeout, and (below) our patches.
    const upgradeLog = controlPlaneVm!.ssh(sshKey.privateKeyPath, "sudo cat /var/log/cdktf-kubeadm-upgrade.log");
    expect(upgradeLog.stdout).toMatch(/\[upgrade\/control-plane\] Upgrading your static Pod-hosted control plane to version "v[\d.]+" \(timeout: 20m0s\)/);
    // kubeadm upgrade rewrote the static Pod manifests: with the patches, the patch is still there.
    waitFor("the upgraded API server's Pod", () => apiServerLiveness() !== undefined, { timeoutMs: 5 * 60_000, intervalMs: 5000, tolerateErrors: true });
    expect(apiServerLiveness()).toMatchObject(API_SERVER_LIVENESS);
  });

  test("the worker is replaced: drained, deleted, and a new machine boots from its new seed", () => {
    const started = Date.now();
    // kubectl's own --timeout, not the exec's default of 2 minutes, bounds the drain
    expect(outcome(kubectl(["drain", WORKER.name, "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=10m"], undefined, 11 * 60_000))).toBe("exit 0");
    expect(outcome(kubectl(["delete", "node", WORKER.name]))).toBe("exit 0");
    workerVm?.stop();
    worker = bootHost(WORKER, NEXT, 2048, "workerReplaceBootToDoneMs");
    workerVm = worker;
    waitForNodes([[CONTROL_PLANE_NODE, `v${NEXT}`], [WORKER.name, `v${NEXT}`]]);
    waitFor("both nodes Ready after the upgrade", allReady, { timeoutMs: 15 * 60_000, intervalMs: 5000, tolerateErrors: true, diagnostics: () => kubectl(["get", "pods", "-A", "-o", "wide"]).stdout });
    timings.workerReplaceMs = Date.now() - started;
    expect(nodes().sort()).toEqual([[CONTROL_PLANE_NODE, `v${NEXT}`], [WORKER.name, `v${NEXT}`]]);
    expect(worker.running()).toBe(true);
  });
});

/**
 * The baseline: the same image, booted with an empty user-data, set up by hand as kubeadm's docs
 * say (test/e2e/plain-kubeadm.sh over SSH), from the same mirrors. Our overhead is the ratio.
 */
describe("baseline: plain kubeadm by hand on the same image", () => {
  const plain = (name: string, address: string) => {
    const seed = path.join(work, "plain-seeds", name);
    fs.mkdirSync(seed, { recursive: true });
    fs.writeFileSync(path.join(seed, "user-data"), "#cloud-config\n{}\n");
    fs.writeFileSync(path.join(seed, "meta-data"), `instance-id: ${name}\nlocal-hostname: ${name}\n`);
    return { name, address, seedDirectory: seed };
  };
  const script = () => fs.readFileSync(path.join(__dirname, "plain-kubeadm.sh"), "utf8");
  /** Boots, waits for SSH, runs the script; returns power-on-to-done ms. */
  function byHand(vm: Vm, args: string[]): number {
    const started = Date.now();
    waitFor(`${vm.spec.name} answers SSH`, () => vm.ssh(sshKey.privateKeyPath, "true").code === 0,
      { timeoutMs: 15 * 60_000, intervalMs: 5000, tolerateErrors: true, hopeless: () => !vm.running(), diagnostics: () => vm.console().split("\n").slice(-20).join("\n") });
    const r = vm.ssh(sshKey.privateKeyPath, `sudo bash -s -- ${args.join(" ")}`, { input: script(), timeoutMs: 40 * 60_000 });
    if (r.code !== 0) throw new Error(`plain-kubeadm.sh ${args[0]} on ${vm.spec.name}: ${outcome(r)}`);
    console.log(`${vm.spec.name}: ${r.stdout.split("\n").filter((l) => l.startsWith("plain-kubeadm:")).join("; ")}`);
    return Date.now() - started;
  }

  test("kubeadm init and join by hand succeed; the overhead ratio is printed", () => {
    for (const vm of [workerVm, controlPlaneVm]) vm?.stop(); // one cluster at a time on 2 cores
    const mirror = `http://${SITE_ADDRESS}:8080`;
    const cpStarted = Date.now();
    const cp = site.boot({ ...plain("plain-cp", "10.0.0.31"), memoryMiB: 3072 });
    byHand(cp, ["init", mirror, registry, VERSION, "10.244.0.0/16"]);
    timings.plainControlPlaneBootToDoneMs = Date.now() - cpStarted;
    const join = cp.ssh(sshKey.privateKeyPath, "sudo kubeadm token create --print-join-command");
    expect(outcome(join)).toBe("exit 0");
    const [, endpoint, token, hash] = join.stdout.match(/kubeadm join (\S+) --token (\S+) --discovery-token-ca-cert-hash (\S+)/)!;
    const workerStarted = Date.now();
    const worker = site.boot({ ...plain("plain-worker", "10.0.0.41"), memoryMiB: 2048, nice: 10 });
    byHand(worker, ["join", mirror, registry, VERSION, endpoint, token, hash]);
    timings.plainWorkerBootToDoneMs = Date.now() - workerStarted;
    const nodesSeen = cp.ssh(sshKey.privateKeyPath, "sudo kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes -o name");
    expect(nodesSeen.stdout.trim().split("\n").sort()).toEqual(["node/plain-cp", "node/plain-worker"]);
    const ratio = (ours: number, theirs: number) => Math.round((ours / theirs) * 100) / 100;
    ratios.controlPlane = ratio(timings.controlPlaneBootToDoneMs, timings.plainControlPlaneBootToDoneMs);
    ratios.worker = ratio(timings.workerBootToDoneMs, timings.plainWorkerBootToDoneMs);
  });
});
