/**
 * Failure paths of the bundled bootstrap script: preflight, settings, retries, integrity checks.
 * Each failure must end with exactly one clear final line.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import { packScript } from "../src/bootstrap/pack-script";
import * as path from "path";
import { gzipSync } from "zlib";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import {
  appliedManifests, BOOTSTRAP_SCRIPT, BootstrapRun, createNodeRoot, DEFAULT_FINGERPRINT, DOCKER_FINGERPRINT, failCommand, inRoot,
  NodeOptions, NodeRoot, readCalls, readStatus, removeNodeRoot, runBootstrap, setDownload, sha256, STUB_SCRIPT,
} from "./harness";

const nodes: NodeRoot[] = [];
function node(opts: NodeOptions = {}): NodeRoot {
  const n = createNodeRoot(opts);
  nodes.push(n);
  return n;
}
afterAll(() => nodes.forEach(removeNodeRoot));

const LOG_SUFFIX = ". Log: /var/log/cdktf-kubeadm-bootstrap.log";

/** Asserts a failed run whose last (and only FAILED) line names the step and matches `reason`. */
function expectFailure(run: BootstrapRun, step: string, reason: RegExp): void {
  expect(run.code).not.toBe(0);
  expect(run.lastLine.startsWith(`cdktf-kubeadm bootstrap FAILED in step ${step}: `)).toBe(true);
  expect(run.lastLine.endsWith(LOG_SUFFIX)).toBe(true);
  expect(run.lastLine).toMatch(reason);
  expect(run.output.match(/bootstrap FAILED/g)).toHaveLength(1);
}
const count = (calls: string[], p: string | RegExp) =>
  calls.filter((c) => (typeof p === "string" ? c.includes(p) : p.test(c))).length;

test("regression (found by the VM e2e): a node without a route to the Service network stops in preflight", () => {
  // No default route: kube-proxy's DNAT to the API server never happens, flannel cannot start.
  const n = node({ role: "worker" });
  failCommand(n, "ip route get 10.96.0.1", "always", "RTNETLINK answers: Network is unreachable");
  const run = runBootstrap(n);
  expectFailure(run, "preflight", /no route to the Service network \(10\.96\.0\.1, the kubernetes Service\): add a default route, or a route for the service CIDR/);
  expect(readCalls(n).filter((c) => /^(apt-get|kubeadm) /.test(c))).toEqual([]);
});

describe("static checks", () => {
  test("shellcheck passes on the script and the stubs", () => {
    for (const file of [BOOTSTRAP_SCRIPT, STUB_SCRIPT]) {
      const r = spawnSync("shellcheck", ["-x", file], { encoding: "utf8" });
      expect(r.error).toBeUndefined();
      expect(`${r.stdout}${r.stderr}`).toBe("");
      expect(r.status).toBe(0);
    }
  });

  test.each([
    ...["control-plane", "worker"].flatMap((role) => ["", "aws-secretsmanager", "gce-secretmanager"].map((f) => [role, f] as const)),
    // control-plane copies with the upgrade agent and a channel's reader (workers never get them)
    ...["upgrade", "upgrade upgrade-aws-ssm", "aws-secretsmanager upgrade upgrade-aws-ssm", "upgrade upgrade-gce-metadata", "gce-secretmanager upgrade upgrade-gce-metadata"].map((f) => ["control-plane", f] as const),
  ])("shellcheck passes on the packed %s copy nodes run (features: %s)", (role, feature) => {
    // SC2034 on workers: settings() still parses control-plane settings whose users are left out.
    const r = spawnSync("shellcheck", ["-s", "bash", ...(role === "worker" ? ["-e", "SC2034"] : []), "-"], { input: packScript(fs.readFileSync(BOOTSTRAP_SCRIPT, "utf8"), role as "worker", feature ? feature.split(" ") : []), encoding: "utf8" });
    expect(`${r.stdout}${r.stderr}`).toBe("");
    expect(r.status).toBe(0);
  });

  test.each(["aws-secretsmanager", "gce-secretmanager"])("shellcheck passes on the loader user data carries (%s)", (feature) => {
    const r = spawnSync("shellcheck", ["-s", "bash", "-"], { input: packScript(fs.readFileSync(BOOTSTRAP_SCRIPT, "utf8"), "worker", [feature], "loader"), encoding: "utf8" });
    expect(`${r.stdout}${r.stderr}`).toBe("");
    expect(r.status).toBe(0);
  });

  test("the packed scripts nodes run stay small enough for user data (EC2: 16 KiB before base64)", () => {
    // Measured 2026-11-24: control plane 15.3 KiB / 6.3 KiB gzipped, worker 12.5 KiB / 5.3 KiB.
    // 2026-12-01, with the secrets step: without a store 15.6 / 6.3 and 12.8 / 5.4; with the AWS
    // store's code 19.4 / 7.9 and 16.6 / 6.9 (GCE ~0.2 KiB less).
    // 2026-12-01, day-2 (worker skew wait; control plane: timers, Lease, certificate renewal): control
    // plane 20.1 / 7.9, worker 14.0 / 5.8; AWS store 23.9 / 9.5 and 17.8 / 7.4; with the upgrade agent
    // and the SSM reader (control plane only) 28.1 / 10.7.
    // 2026-12-01, two stages: with a secret store user data carries the loader, AWS 6.2 / 2.98 and
    // GCE 5.6 / 2.77, and the bundle the full copy (AWS control plane with SSM 28.2 / 10.8).
    const source = fs.readFileSync(BOOTSTRAP_SCRIPT, "utf8");
    for (const [role, raw, gz, feature, stage] of [
      // with the join-token agent and the workers' wait for their token: control plane 23.0 / 8.9,
      // worker 14.7 / 6.1; AWS control plane with SSM 31.0 / 11.5 (all but the loader travel in the bundle)
      // 2026-12-02, containerd registry config_path for mirrors (containerd_config): control plane 23.5 / 9.0,
      // worker 15.0 / 6.2, GCE control plane 26.7 / 10.3, with the GCE upgrade reader 30.7 / 11.4
      // 2026-12-03, what the VM e2e found (workers' CA outside /etc/kubernetes/pki, the preflight
      // route to the Service network): control plane 23.8 / 9.1, worker 15.3 / 6.3, AWS control
      // plane with SSM 31.9 / 11.8, GCE with the upgrade reader 31.0 / 11.5
      // 2026-12-03, the GCE hairpin's SNAT (control-plane only now: workers' copy has a no-op),
      // renewal within a third of the lifetime, upgrade --patches: control plane 24.2 / 9.3,
      // worker 14.9 / 6.1, AWS control plane with SSM 32.4 / 12.0, GCE with the upgrade reader 31.5 / 11.7
      // 2026-12-03, kubeadm upgrade --config (the UpgradeConfiguration): GCE with the upgrade reader 31.6 / 11.7
      // 2026-12-03, a failed worker powers off (POWEROFF_MINUTES, in die: the loader too): control plane
      // 24.6 / 9.4, worker 15.3 / 6.3, AWS control plane with SSM 32.7 / 12.1, loaders 6.4 / 3.1 and 5.8 / 2.8
      // 2026-12-04, the upgrade agent waits for /readyz after the kubelet restart and retries its status
      // writes: AWS control plane with SSM 32.9 / 12.2, GCE with the upgrade reader 32.1 / 11.9
      // 2026-12-04, workers wait for every control-plane Node's kubelet (cpnodes; the worker waits now in a
      // worker-only section): control plane 23.3 / 9.0, worker 16.3 / 6.6, AWS worker 20.2 / 8.2, GCE worker 19.6 / 8.0
      // 2026-12-04, the AWS launch lifecycle hook (lifecycle: heartbeat, CONTINUE, ABANDON in die): control plane
      // 23.6 / 9.1, worker 16.7 / 6.7, AWS control plane 28.7 / 11.0 (with SSM 33.1 / 12.3), AWS worker 21.8 / 8.7
      // 2026-12-07, the drain before termination (drain-aws / drain-gce in workers' full copies, the
      // node-drain-rbac grant in control planes'; the loaders are unchanged): worker 16.95 / 6.8, AWS
      // worker 25.8 / 10.0, GCE worker 22.4 / 9.0, AWS control plane with SSM 34.3 / 12.6, GCE with the
      // upgrade reader 32.3 / 11.9; then kubeadm upgrade tried again (kupgrade): AWS control plane with SSM 33.5 / 12.4
      // 2026-12-07, the etcd backup agent (backup, backup-<target>; the control-plane settings moved to a
      // control-plane-only cpsettings, which workers no longer carry), restore (restore, restore-<scheme>)
      // and the Lease's no-answer case; the join-token agent only in copies that run it (token: a secret
      // store's timer, bare metal's provisioner): control plane 22.4 / 8.8, worker 16.7 / 6.7, AWS
      // control plane with SSM and drain 35.3 / 13.0 and with backups to S3 39.9 / 14.5, GCE with
      // backups to GCS 38.2 / 13.9, bare metal with backups to a directory 32.8 / 12.1
      ["control-plane", 22.5, 8.9, "", "full"], ["worker", 16.7, 6.7, "", "full"],
      ["worker", 25.5, 10.0, "aws-secretsmanager drain-aws", "full"], ["worker", 22.2, 9.0, "gce-secretmanager drain-gce", "full"],
      ["control-plane", 35.4, 13.1, "aws-secretsmanager upgrade upgrade-aws-ssm node-drain-rbac token", "full"],
      ["control-plane", 33.4, 12.4, "gce-secretmanager upgrade upgrade-gce-metadata node-drain-rbac token", "full"],
      ["control-plane", 40.0, 14.6, "aws-secretsmanager upgrade upgrade-aws-ssm node-drain-rbac backup backup-aws-s3 token", "full"],
      ["control-plane", 38.4, 14.0, "gce-secretmanager upgrade upgrade-gce-metadata node-drain-rbac backup backup-gce-gcs token", "full"],
      ["control-plane", 33.0, 12.2, "upgrade token backup backup-file", "full"],
      ["control-plane", 30.0, 11.5, "aws-secretsmanager token", "full"], ["worker", 21.8, 8.8, "aws-secretsmanager", "full"],
      ["control-plane", 28.2, 10.9, "gce-secretmanager token", "full"], ["worker", 20.0, 8.1, "gce-secretmanager", "full"],
      ["control-plane", 34.5, 12.8, "aws-secretsmanager upgrade upgrade-aws-ssm token", "full"],
      ["control-plane", 32.5, 12.1, "gce-secretmanager upgrade upgrade-gce-metadata token", "full"],
      // the loader is the bulk of a worker's user data (goal: 4 KiB for all of it)
      ["worker", 6.5, 3.1, "aws-secretsmanager", "loader"], ["worker", 5.9, 2.9, "gce-secretmanager", "loader"],
    ] as const) {
      const packed = packScript(source, role, feature ? feature.split(" ") : [], stage);
      expect(packed.length).toBeLessThanOrEqual(raw * 1024);
      expect(gzipSync(packed, { level: 9 }).length).toBeLessThanOrEqual(gz * 1024);
    }
    expect(source).not.toMatch(/set -x|xtrace/);
  });
});

describe("preflight failures print what is wrong and how to fix it", () => {
  const cases: [string, NodeOptions, string, RegExp][] = [
    ["not root", { uid: 1000 }, "preflight", /must run as root: run it with sudo/],
    ["unsupported OS", { os: ["ubuntu", "20.04"] }, "preflight", /unsupported OS 'ubuntu 20\.04': use Ubuntu 22\.04, Ubuntu 24\.04 or Debian 12/],
    ["unsupported OS family", { os: ["centos", "9"] }, "preflight", /unsupported OS 'centos 9'/],
    ["unsupported architecture", { arch: "armv7l" }, "preflight", /unsupported architecture 'armv7l': use an x86_64 or aarch64 machine/],
    ["API port in use", { listening: [22, 6443] }, "preflight", /port 6443 is already in use: stop the process \('ss -tlnp sport = :6443' shows it\)/],
    ["etcd port in use", { listening: [2380] }, "preflight", /port 2380 is already in use/],
    ["kubelet port in use on a worker", { role: "worker", listening: [10250] }, "preflight", /port 10250 is already in use/],
    ["clock before 2026", { epoch: 1_600_000_000 }, "preflight", /system clock .* is before 2026: .*timedatectl set-ntp true/],
    ["missing setting", { settings: { API_ENDPOINT: null } }, "settings", /missing required setting API_ENDPOINT in \S*\/etc\/cdktf-kubeadm\/bootstrap\.env/],
    ["missing control-plane setting", { settings: { CP_SLOT: null } }, "settings", /missing required setting CP_SLOT/],
    ["missing CNI checksum", { settings: { CNI_SHA256: "" } }, "settings", /missing required setting CNI_SHA256/],
    ["bad role", { settings: { NODE_ROLE: "master" } }, "settings", /NODE_ROLE 'master' must be control-plane or worker/],
    ["bad CNI", { settings: { CNI_PLUGIN: "weave" } }, "settings", /CNI_PLUGIN 'weave' is not one of calico, flannel, cilium, none/],
    ["version/minor mismatch", { settings: { K8S_MINOR: "1.35" } }, "settings", /K8S_VERSION '1\.36\.4' is not a patch of K8S_MINOR '1\.35'/],
    ["missing containerd repository", { settings: { CONTAINERD_REPO_URL: null } }, "settings", /missing required setting CONTAINERD_REPO_URL/],
    ["missing containerd version glob", { role: "worker", settings: { CONTAINERD_VERSION_PREFIX: "" } }, "settings", /missing required setting CONTAINERD_VERSION_PREFIX/],
    ["containerd 1.x for Kubernetes 1.36", { settings: { CONTAINERD_VERSION_PREFIX: "1.7.*" } }, "settings",
      /CONTAINERD_VERSION_PREFIX '1\.7\.\*': Kubernetes 1\.36 needs containerd 2\.0 or later/],
    ["cilium on aarch64 without the arm64 cilium-cli", { cni: "cilium", arch: "aarch64", settings: { CNI_URL_ARM64: null } }, "settings",
      /missing required setting CNI_URL_ARM64/],
  ];
  test.each(cases)("%s", (_name, opts, step, reason) => {
    const n = node(opts);
    const run = runBootstrap(n);
    expectFailure(run, step, reason);
    // a non-root run cannot write the status file (checked before anything is written)
    if (opts.uid === undefined) expect(readStatus(n)).toMatchObject({ phase: step, result: "failed", error: expect.any(String) });
    else expect(fs.existsSync(inRoot(n, NODE_LAYOUT.stateDir))).toBe(false);
    expect(count(readCalls(n), /^(apt-get|kubeadm) /)).toBe(0);
  });

  test("a module that cannot be loaded", () => {
    const n = node();
    failCommand(n, "modprobe br_netfilter", "always", "modprobe: FATAL: Module br_netfilter not found");
    expectFailure(runBootstrap(n), "preflight", /cannot load kernel module br_netfilter: install linux-modules-extra-6\.8\.0-stub/);
  });

  test("missing pre-placed CA material on a control-plane node", () => {
    const n = node();
    fs.rmSync(path.join(inRoot(n, NODE_LAYOUT.pkiDir), "etcd/ca.key"));
    expectFailure(runBootstrap(n), "settings", /\/etc\/kubernetes\/pki\/etcd\/ca\.key is missing: check the user data and cloud-init logs/);
  });

  test("unsynchronized NTP only warns", () => {
    const n = node({ role: "worker", apiUp: ["*"] });
    fs.writeFileSync(path.join(n.ctl, "ntp"), "no\n");
    const run = runBootstrap(n);
    expect(run.code).toBe(0);
    expect(run.output).toMatch(/WARNING: the clock is not NTP-synchronized/);
  });

  test("Debian 12 on aarch64 is accepted", () => {
    const n = node({ role: "worker", os: ["debian", "12"], arch: "aarch64", apiUp: ["*"] });
    expect(runBootstrap(n).code).toBe(0);
  });
});

describe("retries with capped exponential backoff", () => {
  test("curl fails twice, then works: the bootstrap succeeds", () => {
    const n = node({ role: "worker", apiUp: ["*"] });
    failCommand(n, "Release.key", 2, "curl: (6) Could not resolve host: pkgs.k8s.io", 6);
    const run = runBootstrap(n);
    expect(run.code).toBe(0);
    const calls = readCalls(n);
    expect(count(calls, /^curl .*Release\.key$/)).toBe(3);
    const keyCalls = calls.slice(calls.findIndex((c) => c.includes("Release.key")));
    expect(keyCalls.filter((c) => c.startsWith("fake-sleep")).slice(0, 2)).toEqual(["fake-sleep 2", "fake-sleep 4"]);
    expect(run.output).toMatch(/attempt 1\/3 failed: curl .*Release\.key; retrying in 2s/);
  });

  test("curl always fails: clear error after the configured attempts, backoff capped", () => {
    const n = node({ role: "worker" });
    failCommand(n, "Release.key", "always", "curl: (6) Could not resolve host: pkgs.k8s.io", 6);
    const run = runBootstrap(n, { BOOTSTRAP_RETRIES: "6", BOOTSTRAP_MAX_BACKOFF: "5" });
    expectFailure(run, "install", /cannot download https:\/\/pkgs\.k8s\.io\/core:\/stable:\/v1\.36\/deb\/Release\.key/);
    const calls = readCalls(n);
    expect(count(calls, /Release\.key$/)).toBe(6);
    expect(calls.filter((c) => c.startsWith("fake-sleep"))).toEqual(
      ["fake-sleep 2", "fake-sleep 4", "fake-sleep 5", "fake-sleep 5", "fake-sleep 5"]);
    expect(count(calls, /kubelet=/)).toBe(0);
  });

  test("apt-get update and image pulls are retried too", () => {
    const n = node();
    failCommand(n, " update", 1, "E: Could not get lock /var/lib/apt/lists/lock");
    failCommand(n, "images pull", 2, "failed to pull image registry.k8s.io/kube-apiserver:v1.36.4");
    expect(runBootstrap(n).code).toBe(0);
    const calls = readCalls(n);
    expect(count(calls, /^apt-get .* update$/)).toBe(3);
    expect(count(calls, "kubeadm config images pull")).toBe(3);
  });
});

describe("integrity checks", () => {
  test("a tampered CNI manifest is refused and never applied", () => {
    const n = node();
    setDownload(n, "# calico manifest (tampered)\nkind: ClusterRoleBinding\n");
    const run = runBootstrap(n);
    const expected = n.settings.CNI_SHA256;
    const actual = sha256("# calico manifest (tampered)\nkind: ClusterRoleBinding\n");
    expectFailure(run, "cni", new RegExp(`does not match its checksum \\(expected sha256 ${expected}, actual ${actual}\\): refusing to apply it`));
    expect(count(readCalls(n), " apply ")).toBe(0);
    expect(appliedManifests(n)).toEqual([]);
    expect(readStatus(n)).toMatchObject({ phase: "cni", result: "failed" });
  });

  test("a flannel manifest is checked before the pod CIDR substitution, not after", () => {
    const n = node({ cni: "flannel", settings: { POD_CIDR: "10.50.0.0/16" } });
    // a digest of the already-substituted manifest must not be accepted
    const substituted = fs.readFileSync(path.join(n.ctl, "download"), "utf8").replace("10.244.0.0/16", "10.50.0.0/16");
    fs.writeFileSync(inRoot(n, NODE_LAYOUT.settings), fs.readFileSync(inRoot(n, NODE_LAYOUT.settings), "utf8")
      .replace(n.settings.CNI_SHA256, sha256(substituted)));
    expectFailure(runBootstrap(n), "cni", /does not match its checksum/);
    expect(appliedManifests(n)).toEqual([]);
  });

  test("a Release.key with the wrong fingerprint is refused before it is installed", () => {
    const n = node({ keyFingerprints: ["0123456789ABCDEF0123456789ABCDEF01234567"] });
    expectFailure(runBootstrap(n), "install",
      new RegExp(`fingerprint '0123456789ABCDEF0123456789ABCDEF01234567', expected '${DEFAULT_FINGERPRINT}': refusing to trust it`));
    const calls = readCalls(n);
    expect(count(calls, "gpg --dearmor")).toBe(0);
    expect(count(calls, /kubeadm=/)).toBe(0);
    expect(fs.existsSync(inRoot(n, "/etc/apt/sources.list.d/kubernetes.list"))).toBe(false);
    expect(fs.existsSync(inRoot(n, "/etc/apt/keyrings/kubernetes-apt-keyring.gpg"))).toBe(false);
  });

  test("a Release.key carrying an extra primary key is refused", () => {
    const n = node({ keyFingerprints: [DEFAULT_FINGERPRINT, "0123456789ABCDEF0123456789ABCDEF01234567"] });
    expectFailure(runBootstrap(n), "install", /refusing to trust it/);
  });

  test("the expected fingerprint may be given with spaces and lowercase", () => {
    const spaced = DEFAULT_FINGERPRINT.toLowerCase().replace(/(.{4})/g, "$1 ").trim();
    const n = node({ role: "worker", apiUp: ["*"], settings: { PKG_KEY_FINGERPRINT: spaced } });
    expect(runBootstrap(n).code).toBe(0);
  });

  test("Docker's key with the wrong fingerprint is refused: no repository, no containerd.io", () => {
    const n = node({ containerdKeyFingerprints: ["0123456789ABCDEF0123456789ABCDEF01234567"] });
    expectFailure(runBootstrap(n), "install", new RegExp(
      `https://download\\.docker\\.com/linux/ubuntu/gpg has fingerprint '0123456789ABCDEF0123456789ABCDEF01234567', expected '${DOCKER_FINGERPRINT}': refusing to trust it`));
    expect(fs.existsSync(inRoot(n, "/etc/apt/sources.list.d/docker.list"))).toBe(false);
    expect(fs.existsSync(inRoot(n, "/etc/apt/keyrings/docker-apt-keyring.gpg"))).toBe(false);
    expect(count(readCalls(n), /containerd\.io=/)).toBe(0);
  });

  test("Docker's key carrying the pkgs.k8s.io fingerprint instead is refused", () => {
    const n = node({ containerdKeyFingerprints: [DEFAULT_FINGERPRINT] });
    expectFailure(runBootstrap(n), "install", /linux\/ubuntu\/gpg has fingerprint .*: refusing to trust it/);
  });

  test("no containerd.io matching CONTAINERD_VERSION_PREFIX fails clearly, before installing anything", () => {
    const n = node({ containerdVersions: ["2.4.0-1~ubuntu.24.04~noble", "2.30.1-1~ubuntu.24.04~noble", "2.2.9-1~ubuntu.24.04~noble", "1.7.28-1~ubuntu.24.04~noble"] });
    expectFailure(runBootstrap(n), "install",
      /containerd\.io 2\.3\.\* is not available from https:\/\/download\.docker\.com\/linux\/ubuntu: check CONTAINERD_VERSION_PREFIX/);
    expect(count(readCalls(n), /^apt-get .* install .*kubelet=/)).toBe(0);
  });

  test("a Kubernetes version missing from the repository fails clearly", () => {
    const n = node({ kubeadmVersions: ["1.36.3-1.1", "1.36.40-1.1"] });
    expectFailure(runBootstrap(n), "install", /kubeadm 1\.36\.4 is not available from https:\/\/pkgs\.k8s\.io\/core:\/stable:\/v1\.36\/deb\/: check K8S_VERSION/);
    expect(count(readCalls(n), /kubelet=/)).toBe(0);
  });
});

test("an unexpected command failure still ends with one FAILED line naming the step", () => {
  const n = node();
  failCommand(n, "systemctl restart containerd", "always", "Job for containerd.service failed");
  expectFailure(runBootstrap(n), "install", /command failed \(exit 1\): systemctl restart containerd\. Log/);
});
