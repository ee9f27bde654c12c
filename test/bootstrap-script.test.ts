/**
 * Behaviour of the bundled bootstrap script per role, run for real against stub commands
 * (see test/harness). Failure paths are in bootstrap-failures.test.ts.
 */
import * as fs from "fs";
import * as path from "path";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import {
  appliedManifests, callIndex, clearFailures, createNodeRoot, DEFAULT_API_ENDPOINT, failCommand, inRoot,
  NodeOptions, NodeRoot, readCalls, readLog, readStatus, removeNodeRoot, resetCalls, runBootstrap, setApiUp,
  setEtcd, FLANNEL_MANIFEST, sha256,
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
      /^apt-get .* update$/, /^apt-get .* install ca-certificates curl gpg apt-transport-https containerd$/,
      "containerd config default", "systemctl restart containerd",
      /^curl .*https:\/\/pkgs\.k8s\.io\/core:\/stable:\/v1\.36\/deb\/Release\.key$/, /^gpg --show-keys/, /^gpg --dearmor/,
      /^apt-get .* update$/, "apt-cache madison kubeadm",
      /^apt-get .* install .*kubelet=1\.36\.4-1\.1 kubeadm=1\.36\.4-1\.1 kubectl=1\.36\.4-1\.1$/,
      "apt-mark hold kubelet kubeadm kubectl", "systemctl enable kubelet",
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

  test("configures containerd 2.x and the pinned, signed Kubernetes repository", () => {
    const cfg = fs.readFileSync(inRoot(n, "/etc/containerd/config.toml"), "utf8");
    expect(cfg).toMatch(/^\s*sandbox = "registry\.k8s\.io\/pause:3\.10"$/m);
    expect(cfg).toMatch(/runtimes\.runc\.options\]\n\s*SystemdCgroup = true$/m);
    expect(cfg).toContain("sandboxer = 'podsandbox'");
    expect(fs.readFileSync(inRoot(n, "/etc/apt/sources.list.d/kubernetes.list"), "utf8")).toBe(
      "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v1.36/deb/ /\n");
    expect(fs.existsSync(inRoot(n, "/etc/apt/keyrings/kubernetes-apt-keyring.gpg"))).toBe(true);
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

test("containerd 1.x config layout: sandbox_image and SystemdCgroup are set", () => {
  const n = node({ containerdMajor: 1 });
  expect(runBootstrap(n).code).toBe(0);
  const cfg = fs.readFileSync(inRoot(n, "/etc/containerd/config.toml"), "utf8");
  expect(cfg).toMatch(/^\s*sandbox_image = "registry\.k8s\.io\/pause:3\.10"$/m);
  expect(cfg).toMatch(/^\s*SystemdCgroup = true$/m);
  expect(cfg).not.toContain("SystemdCgroup = false");
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
  expect(count(readCalls(n), /^curl .*-o /)).toBe(1); // Release.key only
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
    expect(fs.existsSync(path.join(inRoot(n, NODE_LAYOUT.stateDir), "pki-keep"))).toBe(false);
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

  test("a node registered by an interrupted attempt is not reset", () => {
    const n = node({ role: "worker", apiUp: ["*"] });
    fs.mkdirSync(inRoot(n, NODE_LAYOUT.stateDir), { recursive: true });
    for (const s of ["preflight", "install"]) fs.writeFileSync(path.join(inRoot(n, NODE_LAYOUT.stateDir), `step-${s}.done`), "");
    fs.writeFileSync(path.join(inRoot(n, NODE_LAYOUT.stateDir), "cluster.attempt"), "");
    fs.mkdirSync(inRoot(n, "/etc/kubernetes"), { recursive: true });
    fs.writeFileSync(inRoot(n, "/etc/kubernetes/kubelet.conf"), "stub");
    fs.writeFileSync(path.join(n.ctl, "node-registered"), "");
    expect(runBootstrap(n).code).toBe(0);
    const calls = readCalls(n);
    expect(count(calls, /^kubeadm /)).toBe(0);
    expect(calls).toContain(`kubectl --kubeconfig ${inRoot(n, "/etc/kubernetes/kubelet.conf")} get node stub-worker-1`);
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
