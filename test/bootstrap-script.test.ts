/**
 * Behaviour of the bundled bootstrap script per role, run for real against stub commands
 * (see test/harness). Failure paths are in bootstrap-failures.test.ts.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import {
  appliedManifests, callIndex, clearFailures, CONTROL_PLANE_LABELS, createNodeRoot, DEFAULT_API_ENDPOINT, failCommand,
  inRoot, killAfter, NodeOptions, NodeRoot, readCalls, readLog, readStatus, removeNodeRoot, resetCalls, runBootstrap,
  setApiUp, setControl, setDaemonSet, setEtcd, setNodeRegistered, FLANNEL_MANIFEST, sha256, WORKER_LABELS,
} from "./harness";

const nodes: NodeRoot[] = [];
function node(opts: NodeOptions = {}): NodeRoot {
  const n = createNodeRoot(opts);
  nodes.push(n);
  return n;
}
afterAll(() => nodes.forEach(removeNodeRoot));

/** Asserts that each pattern matches a call, in this order. */
function expectInOrder(calls: string[], patterns: (string | RegExp)[]): void {
  let from = 0;
  for (const p of patterns) {
    const i = callIndex(calls.slice(from), p);
    if (i < 0) throw new Error(`no call matching ${p} after call #${from}:\n${calls.slice(from).join("\n")}`);
    from += i + 1;
  }
}
const count = (calls: string[], p: string | RegExp) =>
  calls.filter((c) => (typeof p === "string" ? c.includes(p) : p.test(c))).length;

const STALE_MEMBERS = [
  "8e9e05c52164694d, started, prod-cp-0, https://10.0.0.10:2380, https://10.0.0.10:2379, false",
  "91bc3c398fb3c146, started, prod-cp-1, https://10.0.0.11:2380, https://10.0.0.11:2379, false",
  "fd422379fda50e48, started, prod-cp-2, https://10.0.0.12:2380, https://10.0.0.12:2379, false",
];
const ETCD_PODS = ["etcd-prod-cp-0 prod-cp-0 Running", "etcd-prod-cp-2 prod-cp-2 Running"];

describe("first control-plane node (slot 0, nothing answers)", () => {
  let n: NodeRoot;
  let calls: string[];
  beforeAll(() => {
    n = node({ role: "control-plane", slot: 0 });
    const run = runBootstrap(n);
    expect(run.code).toBe(0);
    expect(run.lastLine).toMatch(/bootstrap succeeded$/);
    calls = readCalls(n);
  });

  test("runs preflight, apt, image pull, init, CNI apply in order", () => {
    const init = inRoot(n, NODE_LAYOUT.initConfig);
    expectInOrder(calls, [
      "id -u", "uname -m", "swapoff -a", "modprobe overlay", "modprobe br_netfilter", "sysctl --system", "ss -Htln",
      /^apt-get .* update$/, /^apt-get .* install ca-certificates curl gpg iptables$/,
      /^curl .*https:\/\/pkgs\.k8s\.io\/core:\/stable:\/v1\.36\/deb\/Release\.key$/, /^gpg --show-keys/, /^gpg --dearmor/,
      /^curl .*https:\/\/download\.docker\.com\/linux\/ubuntu\/gpg$/, /^gpg --show-keys/, /^gpg --dearmor/,
      /^apt-get .* update$/, "apt-cache madison containerd.io", "apt-cache madison kubeadm",
      /^apt-get .* install --allow-change-held-packages containerd\.io=2\.3\.1-1~ubuntu\.24\.04~noble kubelet=1\.36\.4-1\.1 kubeadm=1\.36\.4-1\.1 kubectl=1\.36\.4-1\.1$/,
      "apt-mark hold containerd.io kubelet kubeadm kubectl",
      "containerd config default", "systemctl restart containerd", "systemctl enable containerd kubelet",
      `kubeadm config images pull --config ${init}`,
      /^curl .*--cacert \S+\/etc\/kubernetes\/pki\/ca\.crt https:\/\/10\.0\.0\.100:6443\/livez$/,
      `kubeadm init --skip-token-print --config ${init}`,
      /^curl .*https:\/\/cni\.example\.test\/calico\/manifest\.yaml$/,
      `kubectl --kubeconfig ${inRoot(n, "/etc/kubernetes/admin.conf")} apply -f`,
    ]);
    expect(count(calls, "kubeadm join")).toBe(0);
    expect(count(calls, "kubeadm kubeconfig user")).toBe(0);
  });

  test("persists the OS settings", () => {
    expect(fs.readFileSync(inRoot(n, "/etc/modules-load.d/k8s.conf"), "utf8")).toBe("overlay\nbr_netfilter\n");
    const sysctl = fs.readFileSync(inRoot(n, "/etc/sysctl.d/99-kubernetes.conf"), "utf8");
    for (const k of ["net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables"]) {
      expect(sysctl).toContain(`${k} = 1`);
    }
    const fstab = fs.readFileSync(inRoot(n, "/etc/fstab"), "utf8");
    expect(fstab).toContain("#/swap.img none swap sw 0 0");
    expect(fstab).toContain("#  UUID=1234\tnone\tswap\tsw\t0\t0");
    expect(fstab).toMatch(/^\/srv\/swapdata \/data ext4/m);
    expect(fstab).toMatch(/^LABEL=cloudimg-rootfs \/ ext4/m);
    expect(fstab).not.toContain("##");
  });

  test("configures containerd 2.x (config version 3) and the pinned, signed repositories", () => {
    const cfg = fs.readFileSync(inRoot(n, "/etc/containerd/config.toml"), "utf8");
    expect(cfg).toMatch(/^\s*\[plugins\.'io\.containerd\.cri\.v1\.images'\.pinned_images\]\n\s*sandbox = "registry\.k8s\.io\/pause:3\.10"$/m);
    expect(cfg).toMatch(/^\s*\[plugins\.'io\.containerd\.cri\.v1\.runtime'\.containerd\.runtimes\.runc\.options\]\n\s*SystemdCgroup = true$/m);
    expect(cfg.match(/SystemdCgroup/g)).toHaveLength(1);
    expect(cfg).toContain("sandboxer = 'podsandbox'");
    // registry mirrors: the CRI's and the transfer service's (2.x pulls through it) host config in certs.d
    expect(cfg.match(/^\s*config_path = "\/etc\/containerd\/certs\.d"$/gm)).toHaveLength(2);
    expect(fs.readFileSync(inRoot(n, "/etc/apt/sources.list.d/kubernetes.list"), "utf8")).toBe(
      "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v1.36/deb/ /\n");
    expect(fs.readFileSync(inRoot(n, "/etc/apt/sources.list.d/docker.list"), "utf8")).toBe(
      "deb [signed-by=/etc/apt/keyrings/docker-apt-keyring.gpg] https://download.docker.com/linux/ubuntu noble stable\n");
    for (const kr of ["kubernetes", "docker"]) {
      expect(fs.statSync(inRoot(n, `/etc/apt/keyrings/${kr}-apt-keyring.gpg`)).mode & 0o777).toBe(0o644);
    }
    expect(fs.readFileSync(inRoot(n, "/etc/apt/keyrings/docker-apt-keyring.gpg"), "utf8")).toContain("fpr 9DC858229FC7DD38854AE2D88D81803C0EBFCD88");
    expect(count(calls, /^apt-get .* install .*[ =]containerd($| )/)).toBe(0); // never the distribution's 1.7
    expect(fs.existsSync(inRoot(n, "/etc/systemd/system/containerd.service.d/http-proxy.conf"))).toBe(false);
  });

  test("applies the verified manifest and records success", () => {
    expect(appliedManifests(n)).toEqual([fs.readFileSync(path.join(n.ctl, "download"), "utf8")]);
    const status = readStatus(n);
    expect(status).toMatchObject({ phase: "done", result: "succeeded", error: null });
    expect(status.finished).toEqual(expect.any(String));
    expect(fs.existsSync(path.join(inRoot(n, NODE_LAYOUT.stateDir), "done"))).toBe(true);
    expect(fs.existsSync(inRoot(n, "/etc/kubernetes/admin.conf"))).toBe(true);
    expect(fs.existsSync(inRoot(n, "/run/cdktf-kubeadm/dl"))).toBe(false);
  });

  test("a re-run after success is a no-op", () => {
    resetCalls(n);
    const again = runBootstrap(n);
    expect(again.code).toBe(0);
    expect(again.output).toMatch(/already bootstrapped/);
    const calls2 = readCalls(n);
    expect(count(calls2, /^(kubeadm|apt-get|apt-mark|kubectl|curl) /)).toBe(0);
    expect(readStatus(n).result).toBe("succeeded");
  });
});

test("containerd 1.x config layout (Kubernetes 1.35 with a 1.7 prefix): sandbox_image and SystemdCgroup are set", () => {
  const n = node({
    containerdMajor: 1, kubeadmVersions: ["1.35.2-1.1"],
    settings: { K8S_VERSION: "1.35.2", K8S_MINOR: "1.35", CONTAINERD_VERSION_PREFIX: "1.7.*" },
  });
  expect(runBootstrap(n).code).toBe(0);
  expect(count(readCalls(n), / install .*containerd\.io=1\.7\.28-1~ubuntu\.24\.04~noble kubelet=1\.35\.2-1\.1 /)).toBe(1);
  const cfg = fs.readFileSync(inRoot(n, "/etc/containerd/config.toml"), "utf8");
  expect(cfg).toMatch(/^\s*sandbox_image = "registry\.k8s\.io\/pause:3\.10"$/m);
  expect(cfg).toMatch(/^\s*SystemdCgroup = true$/m);
  expect(cfg).not.toContain("SystemdCgroup = false");
  // 1.x reads no registry host configuration unless told: pointed at certs.d (registry mirrors)
  expect(cfg).toMatch(/^\s*config_path = "\/etc\/containerd\/certs\.d"$/m);
});

test.each([
  ["no registry config_path", (layout: string) => layout.replace(/^.*config_path.*\n/gm, "")],
  ["a config_path of its own", (layout: string) => layout.replace(/config_path = ''/, "config_path = '/srv/registry-hosts'")],
])("a containerd whose default config has %s: one line naming the file, before anything starts", (_what, edit) => {
  const n = node();
  setControl(n, "containerd-config", edit(fs.readFileSync(path.join(n.ctl, "containerd-config"), "utf8")));
  const r = runBootstrap(n);
  expect(r.code).toBe(1);
  expect(r.lastLine).toMatch(/FAILED in step install: cannot set containerd's registry config_path \(certs\.d\) in .*config\.toml/);
  expect(count(readCalls(n), /^systemctl restart containerd/)).toBe(0);
});

describe("another control-plane node (slot 1) replacing a lost machine", () => {
  let n: NodeRoot;
  let calls: string[];
  beforeAll(() => {
    n = node({ role: "control-plane", slot: 1, apiUp: [DEFAULT_API_ENDPOINT] });
    setEtcd(n, ["etcd-prod-cp-1 prod-cp-1 Pending", ...ETCD_PODS], STALE_MEMBERS);
    const run = runBootstrap(n);
    expect(run.code).toBe(0);
    calls = readCalls(n);
  });

  test("waits for the API, removes its stale etcd member and Node, then joins", () => {
    const join = inRoot(n, NODE_LAYOUT.joinConfig);
    expectInOrder(calls, [
      "swapoff -a", /^apt-get .* install .*kubeadm=1\.36\.4-1\.1/, "kubeadm config images pull",
      /^curl .*https:\/\/10\.0\.0\.100:6443\/livez$/,
      `kubeadm kubeconfig user --config ${inRoot(n, NODE_LAYOUT.initConfig)} --client-name cdktf-kubeadm:etcd-janitor --org kubeadm:cluster-admins`,
      /^kubectl .* --server https:\/\/10\.0\.0\.100:6443 .*get pods -n kube-system -l component=etcd/,
      /^kubectl .* exec -n kube-system etcd-prod-cp-0 -- etcdctl --endpoints=https:\/\/127\.0\.0\.1:2379 .* member list$/,
      /^kubectl .* exec -n kube-system etcd-prod-cp-0 -- etcdctl .* member remove 91bc3c398fb3c146$/,
      /^kubectl .* delete node prod-cp-1 --ignore-not-found$/,
      `kubeadm join --config ${join}`,
    ]);
    expect(count(calls, "member remove")).toBe(1);
    expect(count(calls, "kubeadm init")).toBe(0);
    expect(count(calls, / apply -f /)).toBe(0);
    expect(count(calls, /^curl .*cni\.example\.test/)).toBe(0);
  });

  test("the temporary admin kubeconfig is gone afterwards", () => {
    expect(fs.existsSync(inRoot(n, "/run/cdktf-kubeadm/admin.conf"))).toBe(false);
  });
});

test("GCE: a joining control-plane node probes the peers first and joins through a healthy peer", () => {
  const n = node({
    role: "control-plane", slot: 2, apiUp: ["10.0.0.11:6443", DEFAULT_API_ENDPOINT],
    settings: { API_PEER_ENDPOINTS: "10.0.0.10:6443 10.0.0.11:6443" },
  });
  setEtcd(n, ETCD_PODS, STALE_MEMBERS.slice(0, 2));
  expect(runBootstrap(n).code).toBe(0);
  const calls = readCalls(n);
  expectInOrder(calls, [/https:\/\/10\.0\.0\.10:6443\/livez$/, /https:\/\/10\.0\.0\.11:6443\/livez$/, "kubeadm join"]);
  expect(count(calls, /https:\/\/10\.0\.0\.100:6443\/livez$/)).toBe(0);
  expect(count(calls, /--server https:\/\/10\.0\.0\.11:6443 /)).toBeGreaterThan(0);
  expect(count(calls, "member remove")).toBe(0);
  const join = fs.readFileSync(inRoot(n, NODE_LAYOUT.joinConfig), "utf8");
  expect(join).toContain("\n    apiServerEndpoint: 10.0.0.11:6443\n");
  expect(join).toContain(`\n    token: ${n.token}\n`);
});

test("slot 0 joins instead of initializing when the API already answers (replacement)", () => {
  const n = node({ role: "control-plane", slot: 0, apiUp: [DEFAULT_API_ENDPOINT] });
  setEtcd(n, ETCD_PODS.slice(1), STALE_MEMBERS);
  const run = runBootstrap(n);
  expect(run.code).toBe(0);
  expect(run.output).toMatch(/the API answers at 10\.0\.0\.100:6443: joining as a replacement for slot 0/);
  const calls = readCalls(n);
  expect(count(calls, "kubeadm init")).toBe(0);
  expectInOrder(calls, ["kubeadm config images pull", /exec -n kube-system etcd-prod-cp-2 .* member remove 8e9e05c52164694d$/, "kubeadm join"]);
  expect(count(calls, / apply -f /)).toBe(0);
});

test("worker: waits for the endpoint and joins with its config; no image pull, no init", () => {
  const n = node({ role: "worker", apiUp: [DEFAULT_API_ENDPOINT], listening: [22, 6443, 2379] });
  const run = runBootstrap(n);
  expect(run.code).toBe(0);
  expect(run.output).toMatch(/bootstrap of stub-worker-1 \(worker\)/);
  const calls = readCalls(n);
  expectInOrder(calls, [
    "swapoff -a", /^apt-get .* install .*kubelet=1\.36\.4-1\.1/, /https:\/\/10\.0\.0\.100:6443\/livez$/,
    `kubeadm join --config ${inRoot(n, NODE_LAYOUT.joinConfig)}`,
  ]);
  for (const absent of ["kubeadm config images pull", "kubeadm init", "kubeadm kubeconfig", /^kubectl /, "unsafe-skip"]) {
    expect(count(calls, absent)).toBe(0);
  }
  expect(readStatus(n).result).toBe("succeeded");
});

test("flannel: the pod CIDR is substituted after the checksum of the original manifest passed", () => {
  const n = node({ cni: "flannel", settings: { POD_CIDR: "10.50.0.0/16" } });
  expect(n.settings.CNI_SHA256).toBe(sha256(FLANNEL_MANIFEST));
  expect(runBootstrap(n).code).toBe(0);
  const [applied] = appliedManifests(n);
  expect(applied).toContain('"Network": "10.50.0.0/16"');
  expect(applied).not.toContain("10.244.0.0/16");
  expect(applied).toBe(FLANNEL_MANIFEST.replace("10.244.0.0/16", "10.50.0.0/16"));
});

test("cilium: the verified cilium-cli tarball is unpacked and run with the pinned version and pod CIDR", () => {
  const n = node({ cni: "cilium", settings: { POD_CIDR: "10.60.0.0/16" } });
  expect(runBootstrap(n).code).toBe(0);
  const calls = readCalls(n);
  expect(fs.existsSync(inRoot(n, "/usr/local/bin/cilium"))).toBe(true);
  expectInOrder(calls, ["kubeadm init", /cilium-linux-amd64\.tar\.gz$/,
    "cilium-cli install --version 1.18.1 --set ipam.operator.clusterPoolIPv4PodCIDRList=10.60.0.0/16"]);
  expect(count(calls, / apply -f /)).toBe(0);
});

test("CNI none: nothing is downloaded or applied", () => {
  const n = node({ cni: "none" });
  const run = runBootstrap(n);
  expect(run.code).toBe(0);
  expect(run.output).toMatch(/CNI_PLUGIN=none/);
  expect(count(readCalls(n), /^curl .*-o /)).toBe(2); // the two apt keys only
  expect(appliedManifests(n)).toEqual([]);
});

test("proxy settings reach apt, containerd and kubelet", () => {
  const n = node({
    role: "worker", apiUp: ["*"],
    settings: { HTTP_PROXY: "http://proxy.corp:3128", HTTPS_PROXY: "http://proxy.corp:3128", NO_PROXY: "10.0.0.0/8,.svc" },
  });
  expect(runBootstrap(n).code).toBe(0);
  expect(fs.readFileSync(inRoot(n, "/etc/apt/apt.conf.d/90cdktf-kubeadm-proxy"), "utf8")).toBe(
    'Acquire::http::Proxy "http://proxy.corp:3128";\nAcquire::https::Proxy "http://proxy.corp:3128";\n');
  for (const unit of ["containerd", "kubelet"]) {
    expect(fs.readFileSync(inRoot(n, `/etc/systemd/system/${unit}.service.d/http-proxy.conf`), "utf8")).toBe(
      '[Service]\nEnvironment="HTTP_PROXY=http://proxy.corp:3128" "HTTPS_PROXY=http://proxy.corp:3128" "NO_PROXY=10.0.0.0/8,.svc"\n');
  }
  expect(count(readCalls(n), /^curl .*--noproxy \* .*\/livez$/)).toBeGreaterThan(0);
});

describe("resume after a failure", () => {
  test("kubeadm join fails on every attempt: error line, failed status; after the fix only the join is redone", () => {
    const n = node({ role: "control-plane", slot: 1, apiUp: [DEFAULT_API_ENDPOINT] });
    setEtcd(n, ETCD_PODS, STALE_MEMBERS);
    failCommand(n, "kubeadm join", "always", "error execution phase preflight: couldn't validate the identity of the API Server");
    const first = runBootstrap(n);
    expect(first.code).not.toBe(0);
    expect(first.lastLine).toBe(
      "cdktf-kubeadm bootstrap FAILED in step cluster: kubeadm join through 10.0.0.100:6443 failed. " +
      "Log: /var/log/cdktf-kubeadm-bootstrap.log");
    expect(first.output.match(/FAILED/g)).toHaveLength(1);
    expect(readLog(n)).toContain(first.lastLine);
    expect(readStatus(n)).toMatchObject({ phase: "cluster", result: "failed", error: expect.stringContaining("kubeadm join") });
    const calls1 = readCalls(n);
    expect(count(calls1, "kubeadm join")).toBe(3); // BOOTSTRAP_RETRIES=3
    expect(count(calls1, "kubeadm reset -f")).toBe(2); // before each retry
    expect(count(calls1, "fake-sleep")).toBeGreaterThan(0);

    clearFailures(n);
    resetCalls(n);
    const second = runBootstrap(n);
    expect(second.code).toBe(0);
    const calls2 = readCalls(n);
    for (const done of ["swapoff", "apt-get", "apt-mark", "containerd", "gpg", "kubeadm config images pull", "Release.key"]) {
      expect(count(calls2, done)).toBe(0);
    }
    expectInOrder(calls2, ["kubeadm reset -f", /\/livez$/, "member remove", "kubeadm join"]);
    expect(second.output).toMatch(/\[preflight\] already completed/);
    expect(readStatus(n).result).toBe("succeeded");
    // kubeadm reset empties /etc/kubernetes/pki: the pre-placed CA material must be back
    const pki = inRoot(n, NODE_LAYOUT.pkiDir);
    expect(fs.readFileSync(path.join(pki, "etcd/ca.key"), "utf8")).toContain(`${n.keySecret}-etcd/ca.key`);
    expect(fs.statSync(path.join(pki, "ca.key")).mode & 0o777).toBe(0o600);
    expect(fs.existsSync(path.join(inRoot(n, NODE_LAYOUT.stateDir), "keep"))).toBe(false);
  });

  test("a failed CNI step is resumed without re-running kubeadm init", () => {
    const n = node();
    failCommand(n, " apply -f ", "always", "error: unable to recognize");
    const first = runBootstrap(n);
    expect(first.lastLine).toMatch(/^cdktf-kubeadm bootstrap FAILED in step cni: kubectl apply of the calico manifest failed/);
    expect(count(readCalls(n), "kubeadm init")).toBe(1);
    clearFailures(n);
    resetCalls(n);
    expect(runBootstrap(n).code).toBe(0);
    const calls = readCalls(n);
    expect(count(calls, /^kubeadm /)).toBe(0);
    expect(count(calls, / apply -f /)).toBe(1);
  });
});

test("secrets never reach the log: join token, CA keys, the janitor credential", () => {
  const first = node({ role: "control-plane", slot: 0 });
  const other = node({ role: "control-plane", slot: 1, apiUp: ["*"] });
  setEtcd(other, ETCD_PODS, STALE_MEMBERS);
  for (const n of [first, other]) {
    const run = runBootstrap(n);
    expect(run.code).toBe(0);
    const log = readLog(n);
    expect(log.length).toBeGreaterThan(500);
    for (const text of [log, run.output]) {
      expect(text).not.toContain(n.token);
      expect(text).not.toContain(n.token.split(".")[1]);
      expect(text).not.toContain(n.keySecret);
      expect(text).not.toContain("JANITOR-SECRET-KEY");
    }
  }
  // the stub kubeadm init prints a join command with the token: it is redacted
  expect(readLog(first)).toContain("--token <redacted-token>");
});

test("setApiUp can bring the API up between runs (wait timeout, then success)", () => {
  const n = node({ role: "worker" });
  const first = runBootstrap(n);
  expect(first.lastLine).toMatch(/^cdktf-kubeadm bootstrap FAILED in step cluster: no API server answered at 10\.0\.0\.100:6443 .*after 3 attempts/);
  expect(count(readCalls(n), /\/livez$/)).toBe(3);
  setApiUp(n, [DEFAULT_API_ENDPOINT]);
  expect(runBootstrap(n).code).toBe(0);
});

describe("containerd from Docker's repository", () => {
  test.each([
    [["debian", "12"], "https://download.docker.com/linux/debian bookworm stable"],
    [["ubuntu", "22.04"], "https://download.docker.com/linux/ubuntu jammy stable"],
  ] as const)("%j: the repository of the node's OS and codename", (os, line) => {
    const n = node({ role: "worker", os, apiUp: ["*"] });
    expect(runBootstrap(n).code).toBe(0);
    expect(fs.readFileSync(inRoot(n, "/etc/apt/sources.list.d/docker.list"), "utf8")).toBe(
      `deb [signed-by=/etc/apt/keyrings/docker-apt-keyring.gpg] ${line}\n`);
    expect(count(readCalls(n), `curl -fsSL --connect-timeout 15 -o ${inRoot(n, "/run/cdktf-kubeadm/dl/docker.key")} ${line.split(" ")[0]}/gpg`)).toBe(1);
  });

  test("an air-gapped mirror (with a trailing slash) and another version glob", () => {
    const n = node({
      role: "worker", apiUp: ["*"],
      settings: { CONTAINERD_REPO_URL: "https://mirror.corp/docker/", CONTAINERD_VERSION_PREFIX: "2.4.*" },
    });
    expect(runBootstrap(n).code).toBe(0);
    expect(fs.readFileSync(inRoot(n, "/etc/apt/sources.list.d/docker.list"), "utf8")).toBe(
      "deb [signed-by=/etc/apt/keyrings/docker-apt-keyring.gpg] https://mirror.corp/docker/ubuntu noble stable\n");
    const calls = readCalls(n);
    expect(count(calls, / https:\/\/mirror\.corp\/docker\/ubuntu\/gpg$/)).toBe(1);
    expect(count(calls, / containerd\.io=2\.4\.0-1~ubuntu\.24\.04~noble /)).toBe(1);
  });

  test("re-running the install step regenerates the containerd config: one SystemdCgroup, one sandbox image", () => {
    const n = node({ role: "worker", apiUp: ["*"] });
    failCommand(n, "systemctl enable", 1, "Failed to enable unit");
    expect(runBootstrap(n).code).not.toBe(0);
    resetCalls(n);
    expect(runBootstrap(n).code).toBe(0);
    const calls = readCalls(n);
    expect(count(calls, "containerd config default")).toBe(1);
    expect(count(calls, "systemctl restart containerd")).toBe(1);
    const cfg = fs.readFileSync(inRoot(n, "/etc/containerd/config.toml"), "utf8");
    expect(cfg.match(/SystemdCgroup = true/g)).toHaveLength(1);
    expect(cfg.match(/^\s*sandbox = /gm)).toHaveLength(1);
    expect(cfg.match(/^version = 3$/gm)).toHaveLength(1);
  });
});

describe("cilium", () => {
  test("aarch64 downloads the arm64 cilium-cli and checks it against CNI_SHA256_ARM64", () => {
    const n = node({ cni: "cilium", arch: "aarch64" });
    // the amd64 digest would not match: passing proves the arm64 pair was used
    const settings = fs.readFileSync(inRoot(n, NODE_LAYOUT.settings), "utf8");
    fs.writeFileSync(inRoot(n, NODE_LAYOUT.settings), settings.replace(/^CNI_SHA256=.*$/m, `CNI_SHA256='${"f".repeat(64)}'`));
    expect(runBootstrap(n).code).toBe(0);
    const calls = readCalls(n);
    expect(count(calls, /^curl .* https:\/\/cni\.example\.test\/cilium\/cilium-linux-arm64\.tar\.gz$/)).toBe(1);
    expect(count(calls, /cilium-linux-amd64/)).toBe(0);
    expect(count(calls, "cilium-cli install")).toBe(1);
  });

  test("x86_64 keeps the amd64 cilium-cli", () => {
    const n = node({ cni: "cilium", arch: "x86_64" });
    const settings = fs.readFileSync(inRoot(n, NODE_LAYOUT.settings), "utf8");
    fs.writeFileSync(inRoot(n, NODE_LAYOUT.settings), settings.replace(/^CNI_SHA256_ARM64=.*$/m, `CNI_SHA256_ARM64='${"f".repeat(64)}'`));
    expect(runBootstrap(n).code).toBe(0);
    expect(count(readCalls(n), /^curl .* https:\/\/cni\.example\.test\/cilium\/cilium-linux-amd64\.tar\.gz$/)).toBe(1);
  });

  test("a re-run of the CNI step does not install cilium again when its DaemonSet exists", () => {
    const n = node({ cni: "cilium" });
    expect(runBootstrap(n).code).toBe(0);
    expect(count(readCalls(n), "cilium-cli install")).toBe(1);
    // e.g. the run was killed after `cilium install` returned, before the step was recorded
    for (const f of ["done", "step-cni.done"]) fs.rmSync(path.join(inRoot(n, NODE_LAYOUT.stateDir), f));
    resetCalls(n);
    const again = runBootstrap(n);
    expect(again.code).toBe(0);
    const calls = readCalls(n);
    expect(calls).toContain(`kubectl --kubeconfig ${inRoot(n, "/etc/kubernetes/admin.conf")} -n kube-system get ds cilium --ignore-not-found -o name`);
    expect(count(calls, "cilium-cli install")).toBe(0);
    expect(again.output).toMatch(/cilium is already installed \(daemonset\.apps\/cilium\)/);
  });

  test("a cilium install that failed after creating the DaemonSet is not repeated by the retry", () => {
    const n = node({ cni: "cilium" });
    setControl(n, "cilium-timeout", ""); // the install creates the DaemonSet, then fails waiting for it
    const run = runBootstrap(n);
    expect(run.code).toBe(0);
    const calls = readCalls(n);
    expect(count(calls, "cilium-cli install")).toBe(1);
    expect(count(calls, "get ds cilium")).toBe(2);
    expect(run.output).toMatch(/attempt 1\/3 failed: cilium_up/);
  });

  test("when the API cannot say whether cilium exists, nothing is installed blindly", () => {
    const n = node({ cni: "cilium" });
    failCommand(n, "get ds cilium", "always", "The connection to the server was refused");
    const run = runBootstrap(n);
    expect(run.lastLine).toMatch(/^cdktf-kubeadm bootstrap FAILED in step cni: cilium install failed/);
    const calls = readCalls(n);
    expect(count(calls, "get ds cilium")).toBe(3);
    expect(count(calls, "cilium-cli install")).toBe(0);
  });
});

describe("kubeadm reset keeps what cloud-init pre-placed", () => {
  const KUBE_VIP = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-vip\n";
  const CA = ["ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "etcd/ca.crt", "etcd/ca.key", "sa.key", "sa.pub"];
  function listTree(dir: string): string[] {
    if (!fs.existsSync(dir)) return [];
    return (fs.readdirSync(dir, { recursive: true }) as string[])
      .filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
  }

  test("the harness's kubeadm reset deletes like the real one", () => {
    const n = node({ role: "control-plane", slot: 1, apiUp: ["*"] });
    fs.mkdirSync(inRoot(n, "/etc/kubernetes/manifests"), { recursive: true });
    fs.writeFileSync(inRoot(n, "/etc/kubernetes/manifests/kube-vip.yaml"), KUBE_VIP);
    expect(runBootstrap(n).code).toBe(0);
    expect(listTree(inRoot(n, "/etc/kubernetes/pki"))).toContain("apiserver.key");
    const reset = spawnSync(path.join(n.bin, "kubeadm"), ["reset", "-f"], {
      env: { PATH: "/usr/bin:/bin", BOOTSTRAP_ROOT: n.root, STUB_CTL: n.ctl, STUB_CALLS: n.callsFile }, encoding: "utf8",
    });
    expect(reset.status).toBe(0);
    expect(listTree(inRoot(n, "/etc/kubernetes/pki"))).toEqual([]);
    expect(listTree(inRoot(n, "/etc/kubernetes/manifests"))).toEqual([]);
    expect(listTree(inRoot(n, "/var/lib/etcd"))).toEqual([]);
    for (const f of ["admin.conf", "kubelet.conf"]) expect(fs.existsSync(inRoot(n, `/etc/kubernetes/${f}`))).toBe(false);
  });

  test("CA files (keys 0600) and a kube-vip static pod survive resets; kubeadm's own files do not", () => {
    const n = node({ role: "control-plane", slot: 0 });
    fs.mkdirSync(inRoot(n, "/etc/kubernetes/manifests"), { recursive: true });
    fs.writeFileSync(inRoot(n, "/etc/kubernetes/manifests/kube-vip.yaml"), KUBE_VIP, { mode: 0o600 });
    killAfter(n, "kubeadm init"); // init wrote its files, then the machine went away
    expect(runBootstrap(n).code).toBeNull();
    expect(listTree(inRoot(n, "/etc/kubernetes/manifests"))).toContain("kube-apiserver.yaml");
    expect(fs.statSync(path.join(inRoot(n, NODE_LAYOUT.stateDir), "keep")).mode & 0o777).toBe(0o700);

    // the API never knew the node: reset, then init again (which fails: the state is what reset left)
    failCommand(n, "kubeadm init", "always", "error execution phase preflight");
    resetCalls(n);
    const second = runBootstrap(n);
    expect(second.lastLine).toMatch(/FAILED in step cluster: kubeadm init failed/);
    expectInOrder(readCalls(n), ["kubeadm reset -f", /\/livez$/, "kubeadm init"]);
    const pki = inRoot(n, NODE_LAYOUT.pkiDir);
    expect(listTree(pki)).toEqual([...CA].sort());
    for (const f of CA) {
      expect(fs.statSync(path.join(pki, f)).mode & 0o777).toBe(f.endsWith(".key") ? 0o600 : 0o644);
    }
    expect(fs.readFileSync(path.join(pki, "sa.key"), "utf8")).toContain(`${n.keySecret}-sa.key`);
    expect(listTree(inRoot(n, "/etc/kubernetes/manifests"))).toEqual(["kube-vip.yaml"]);
    expect(fs.readFileSync(inRoot(n, "/etc/kubernetes/manifests/kube-vip.yaml"), "utf8")).toBe(KUBE_VIP);
    expect(fs.statSync(inRoot(n, "/etc/kubernetes/manifests/kube-vip.yaml")).mode & 0o777).toBe(0o600);
    expect(listTree(inRoot(n, "/var/lib/etcd"))).toEqual([]);
    expect(fs.existsSync(inRoot(n, "/etc/kubernetes/admin.conf"))).toBe(false);

    clearFailures(n);
    resetCalls(n);
    expect(runBootstrap(n).code).toBe(0);
    expect(count(readCalls(n), "kubeadm reset -f")).toBe(1);
    expect(listTree(inRoot(n, "/etc/kubernetes/manifests"))).toEqual(
      ["etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml", "kube-vip.yaml"]);
    // the copies of the CA keys are gone once the node is in the cluster
    expect(fs.existsSync(path.join(inRoot(n, NODE_LAYOUT.stateDir), "keep"))).toBe(false);
    expect(fs.existsSync(path.join(inRoot(n, NODE_LAYOUT.stateDir), "cluster.attempt"))).toBe(false);
  });

  test("a joining control-plane node retried within one run gets its files back before every attempt", () => {
    const n = node({ role: "control-plane", slot: 2, apiUp: ["*"] });
    setEtcd(n, ETCD_PODS, STALE_MEMBERS);
    fs.mkdirSync(inRoot(n, "/etc/kubernetes/manifests"), { recursive: true });
    fs.writeFileSync(inRoot(n, "/etc/kubernetes/manifests/kube-vip.yaml"), KUBE_VIP);
    failCommand(n, "kubeadm join", 2, "error execution phase control-plane-prepare");
    expect(runBootstrap(n).code).toBe(0);
    const calls = readCalls(n);
    expect(count(calls, "kubeadm reset -f")).toBe(2);
    expect(count(calls, "kubeadm join")).toBe(3);
    expect(fs.readFileSync(inRoot(n, "/etc/kubernetes/manifests/kube-vip.yaml"), "utf8")).toBe(KUBE_VIP);
    expect(fs.readFileSync(path.join(inRoot(n, NODE_LAYOUT.pkiDir), "etcd/ca.key"), "utf8")).toContain(`${n.keySecret}-etcd/ca.key`);
  });

  test("a worker keeps its CA certificate across a reset, outside kubeadm's directory", () => {
    const n = node({ role: "worker", apiUp: ["*"] });
    failCommand(n, "kubeadm join", 1, "error execution phase kubelet-start");
    expect(runBootstrap(n).code).toBe(0);
    expect(count(readCalls(n), "kubeadm reset -f")).toBe(1);
    expect(fs.readFileSync(inRoot(n, NODE_LAYOUT.workerCaCert), "utf8")).toContain("stub ca.crt");
    // the CA kubeadm join wrote from discovery; ours never went there (kubeadm's preflight refuses it)
    expect(fs.readFileSync(path.join(inRoot(n, NODE_LAYOUT.pkiDir), "ca.crt"), "utf8")).toBe("stub CA from discovery\n");
  });

  test("regression (found by the VM e2e): nothing of ours in /etc/kubernetes/pki before a worker's kubeadm join", () => {
    const n = node({ role: "worker", apiUp: ["*"] });
    fs.mkdirSync(inRoot(n, NODE_LAYOUT.pkiDir), { recursive: true });
    fs.writeFileSync(path.join(inRoot(n, NODE_LAYOUT.pkiDir), "ca.crt"), "left by someone else");
    const run = runBootstrap(n);
    expect(run.code).not.toBe(0);
    expect(run.output).toMatch(/ERROR FileAvailable--etc-kubernetes-pki-ca.crt\]: \/etc\/kubernetes\/pki\/ca.crt already exists/);
  });

  test("a kubeadm reset interrupted before the files were put back is repaired by the next run", () => {
    const n = node({ role: "control-plane", slot: 0 });
    killAfter(n, "kubeadm reset");
    failCommand(n, "kubeadm init", 1, "error execution phase wait-control-plane");
    // run 1: init fails (recorded); run 2: killed right after the reset
    expect(runBootstrap(n).lastLine).toMatch(/kubeadm init failed/);
    expect(runBootstrap(n).code).toBeNull();
    expect(listTree(inRoot(n, NODE_LAYOUT.pkiDir))).toEqual([]);
    resetCalls(n);
    expect(runBootstrap(n).code).toBe(0);
    expect(listTree(inRoot(n, NODE_LAYOUT.pkiDir))).toEqual(expect.arrayContaining([...CA]));
  });
});

describe("a kubeadm init/join that completed but was not recorded is never reset", () => {
  test("first control-plane node killed right after kubeadm init returned: recorded, CNI installed, no reset", () => {
    const n = node({ role: "control-plane", slot: 0 });
    killAfter(n, "kubeadm init");
    const first = runBootstrap(n);
    expect(first.code).toBeNull();
    expect(readStatus(n)).toMatchObject({ phase: "cluster", result: "running" });
    // the cluster came up: it knows the node as a control-plane node, kubeadm init made kube-proxy
    setNodeRegistered(n, CONTROL_PLANE_LABELS);
    setDaemonSet(n, "kube-proxy", true);
    setApiUp(n, [DEFAULT_API_ENDPOINT]);
    resetCalls(n);
    const second = runBootstrap(n);
    expect(second.code).toBe(0);
    expect(second.output).toMatch(/kubeadm init of prod-cp-0 completed in an earlier attempt: not resetting it/);
    const calls = readCalls(n);
    expect(count(calls, /^kubeadm /)).toBe(0);
    expectInOrder(calls, [
      `kubectl --kubeconfig ${inRoot(n, "/etc/kubernetes/admin.conf")} --request-timeout 20s get node prod-cp-0 --ignore-not-found -o jsonpath={.metadata.labels}`,
      "-n kube-system get ds kube-proxy --ignore-not-found -o name", / apply -f /,
    ]);
    expect(count(calls, /\/livez$/)).toBe(0); // no init-or-join decision: the API would answer and slot 0 would "join" itself
    expect(readStatus(n).result).toBe("succeeded");
  });

  test("a worker killed right after kubeadm join returned: its kubelet.conf reaches the API and finds the node", () => {
    const n = node({ role: "worker", apiUp: ["*"] });
    killAfter(n, "kubeadm join");
    expect(runBootstrap(n).code).toBeNull();
    setNodeRegistered(n, WORKER_LABELS);
    resetCalls(n);
    expect(runBootstrap(n).code).toBe(0);
    const calls = readCalls(n);
    expect(count(calls, /^kubeadm /)).toBe(0);
    expect(calls).toContain(`kubectl --kubeconfig ${inRoot(n, "/etc/kubernetes/kubelet.conf")} --request-timeout 20s get node stub-worker-1 --ignore-not-found -o jsonpath={.metadata.labels}`);
  });

  test("the API is waited for (WAIT_RETRIES rounds) before an interrupted attempt is judged", () => {
    const n = node({ role: "worker", apiUp: ["*"] });
    killAfter(n, "kubeadm join");
    expect(runBootstrap(n).code).toBeNull();
    setNodeRegistered(n, WORKER_LABELS);
    failCommand(n, "get node", 2, "The connection to the server 10.0.0.100:6443 was refused");
    resetCalls(n);
    expect(runBootstrap(n).code).toBe(0); // BOOTSTRAP_WAIT_RETRIES=3: the third try answers
    const calls = readCalls(n);
    expect(count(calls, "get node stub-worker-1")).toBe(3);
    expect(count(calls, /^kubeadm /)).toBe(0);
  });

  test("a control-plane join the cluster does not know as control plane is reset and redone", () => {
    const n = node({ role: "control-plane", slot: 1, apiUp: ["*"] });
    setEtcd(n, ETCD_PODS, STALE_MEMBERS.slice(0, 1));
    killAfter(n, "kubeadm join");
    expect(runBootstrap(n).code).toBeNull();
    setNodeRegistered(n, WORKER_LABELS.replace("stub-worker-1", "prod-cp-1")); // kubelet registered, mark-control-plane never ran
    resetCalls(n);
    expect(runBootstrap(n).code).toBe(0);
    expectInOrder(readCalls(n), ["get node prod-cp-1", "kubeadm reset -f", "kubeadm join"]);
  });

  test("an init whose kube-proxy was never made is reset and redone", () => {
    const n = node({ role: "control-plane", slot: 0 });
    killAfter(n, "kubeadm init");
    expect(runBootstrap(n).code).toBeNull();
    setNodeRegistered(n, CONTROL_PLANE_LABELS);
    resetCalls(n);
    expect(runBootstrap(n).code).toBe(0);
    expectInOrder(readCalls(n), ["get node prod-cp-0", "get ds kube-proxy", "kubeadm reset -f", "kubeadm init"]);
  });

  test("an API that never answers: after WAIT_RETRIES rounds the attempt is reset", () => {
    const n = node({ role: "worker", apiUp: ["*"] });
    killAfter(n, "kubeadm join");
    expect(runBootstrap(n).code).toBeNull();
    failCommand(n, "get node", "always", "The connection to the server 10.0.0.100:6443 was refused");
    resetCalls(n);
    expect(runBootstrap(n).code).toBe(0);
    const calls = readCalls(n);
    expect(count(calls, "get node stub-worker-1")).toBe(3);
    expectInOrder(calls, ["get node stub-worker-1", "kubeadm reset -f", "kubeadm join"]);
  });

  test("after a recorded kubeadm failure only PROBE_RETRIES rounds are spent on the check", () => {
    const n = node({ role: "worker", apiUp: ["*"] });
    failCommand(n, "kubeadm join", "always", "error execution phase kubelet-start: timed out");
    expect(runBootstrap(n).code).not.toBe(0);
    // kubeadm had written the kubelet kubeconfig before it failed
    fs.mkdirSync(inRoot(n, "/etc/kubernetes"), { recursive: true });
    fs.writeFileSync(inRoot(n, "/etc/kubernetes/kubelet.conf"), "stub");
    clearFailures(n);
    failCommand(n, "get node", "always", "The connection to the server 10.0.0.100:6443 was refused");
    resetCalls(n);
    expect(runBootstrap(n).code).toBe(0);
    const calls = readCalls(n);
    expect(count(calls, "get node stub-worker-1")).toBe(2); // BOOTSTRAP_PROBE_RETRIES=2
    expectInOrder(calls, ["kubeadm reset -f", "kubeadm join"]);
  });

  test("a join that failed in this run but left a registered node is not reset by the retry", () => {
    const n = node({ role: "worker", apiUp: ["*"] });
    // kubeadm join timed out waiting although the kubelet had joined
    fs.mkdirSync(inRoot(n, "/etc/kubernetes"), { recursive: true });
    failCommand(n, "kubeadm join", 1, "error execution phase kubelet-start: timed out waiting for the condition");
    fs.writeFileSync(inRoot(n, "/etc/kubernetes/kubelet.conf"), "stub");
    setNodeRegistered(n, WORKER_LABELS);
    expect(runBootstrap(n).code).toBe(0);
    const calls = readCalls(n);
    expect(count(calls, "kubeadm join")).toBe(1);
    expect(count(calls, "kubeadm reset")).toBe(0);
  });
});

describe("GCE hairpin (API_HAIRPIN_DNAT=1)", () => {
  const natRules = (n: NodeRoot) => (fs.existsSync(path.join(n.ctl, "iptables-nat")) ? fs.readFileSync(path.join(n.ctl, "iptables-nat"), "utf8").split("\n").filter(Boolean) : []);
  const RULE = "OUTPUT -p tcp -d 10.0.0.100 --dport 6443 -m comment --comment cdktf-kubeadm-hairpin -j DNAT --to-destination 10.0.0.11:6443";
  // The peer would drop a SYN from the LB address (its own local route): DNATed connections leave with ours.
  const SNAT = "POSTROUTING -p tcp -d 10.0.0.11 --dport 6443 -m conntrack --ctstate DNAT --ctorigdst 10.0.0.100 -m comment --comment cdktf-kubeadm-hairpin -j MASQUERADE";

  test("a control-plane node joining through a peer sends the endpoint to that peer only while kubeadm join runs", () => {
    const n = node({
      role: "control-plane", slot: 1, apiUp: ["10.0.0.11:6443", DEFAULT_API_ENDPOINT],
      settings: { API_PEER_ENDPOINTS: "10.0.0.11:6443", API_HAIRPIN_DNAT: "1" },
    });
    setEtcd(n, ETCD_PODS, STALE_MEMBERS.slice(0, 2));
    expect(runBootstrap(n).code).toBe(0);
    const calls = readCalls(n);
    expectInOrder(calls, [`iptables -t nat -A ${SNAT}`, `iptables -t nat -A ${RULE}`, "kubeadm join", `iptables -t nat -D ${RULE}`, `iptables -t nat -D ${SNAT}`]);
    expect(natRules(n)).toEqual([]);
  });

  test("the rule is removed when the join fails, and the failure is reported", () => {
    const n = node({
      role: "control-plane", slot: 1, apiUp: ["10.0.0.11:6443", DEFAULT_API_ENDPOINT],
      settings: { API_PEER_ENDPOINTS: "10.0.0.11:6443", API_HAIRPIN_DNAT: "1" },
    });
    setEtcd(n, ETCD_PODS, STALE_MEMBERS.slice(0, 2));
    failCommand(n, "kubeadm join", "always", "error execution phase preflight");
    const run = runBootstrap(n);
    expect(run.code).not.toBe(0);
    expect(run.lastLine).toMatch(/FAILED in step cluster: kubeadm join through 10\.0\.0\.11:6443 failed/);
    expect(count(readCalls(n), `iptables -t nat -A ${RULE}`)).toBe(1);
    expect(count(readCalls(n), `iptables -t nat -A ${SNAT}`)).toBe(1);
    expect(natRules(n)).toEqual([]);
  });

  test("no rule without the setting, for workers, or when joining through the endpoint itself", () => {
    const plain = node({ role: "control-plane", slot: 1, apiUp: ["10.0.0.11:6443"], settings: { API_PEER_ENDPOINTS: "10.0.0.11:6443" } });
    setEtcd(plain, ETCD_PODS, STALE_MEMBERS.slice(0, 2));
    const worker = node({ role: "worker", apiUp: [DEFAULT_API_ENDPOINT], settings: { API_HAIRPIN_DNAT: "1" } });
    const direct = node({ role: "control-plane", slot: 1, apiUp: [DEFAULT_API_ENDPOINT], settings: { API_HAIRPIN_DNAT: "1" } });
    setEtcd(direct, ETCD_PODS, STALE_MEMBERS.slice(0, 2));
    for (const n of [plain, worker, direct]) {
      expect(runBootstrap(n).code).toBe(0);
      expect(count(readCalls(n), /^iptables -t nat -A/)).toBe(0);
    }
  });
});
