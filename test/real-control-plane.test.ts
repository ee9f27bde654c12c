/**
 * A real control plane from our files. The bare-metal example's first control-plane node gets
 * its files exactly as the seed / SSH delivery writes them, in a node of its own on this machine
 * (network and mount namespaces: /etc/kubernetes, /var/lib/etcd, … private; the node's address and
 * the kube-vip VIP on its eth0). Then real kubeadm runs the init phases on our pre-placed PKI,
 * real etcd, kube-apiserver, kube-controller-manager and kube-scheduler start with the flags of
 * the static pod manifests kubeadm wrote, and kubeadm's API phases, our admin kubeconfig, our
 * agents (join token, upgrade Lease and status), real discovery of a worker and the certificates
 * of a joining control-plane node are judged against it, with real RBAC and the real bootstrap
 * signer. Nothing is stubbed; there is no kubelet (it needs cgroup v2: the VM e2e runs it).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { bootstrapScript } from "../src/bootstrap/bootstrap-script";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import { generateBootstrapToken, isSignedBy } from "../src/bootstrap/pki";
import {
  CommandResult, etcdTool, exampleRoles, KUBERNETES_TEST_VERSION, kubernetesCommand, outcome, RoleConfigs, run,
} from "./support/kubernetes";
import { NodeNamespace } from "./support/node-namespace";
import { waitFor } from "./support/wait";
import { tempDir } from "./support/stack-json";

jest.setTimeout(300_000);

const VERSION = KUBERNETES_TEST_VERSION;
const bin = (tool: string) => kubernetesCommand(VERSION, tool);
const work = tempDir("real-control-plane-");
const roles = exampleRoles(VERSION, work).filter((r) => r.platform === "baremetal");
const roleNamed = (name: string): RoleConfigs => roles.find((r) => r.name === name)!;
const first = roleNamed("control-plane-0");
const cluster = first.cluster;
const pki = cluster.pki;
/** The example's inventory: control-plane hosts 192.168.10.11-13 behind the kube-vip VIP .10. */
const VIP = "192.168.10.10";
const NODE_ADDRESS = "192.168.10.11";
const ADMIN = "/etc/kubernetes/admin.conf";
/** PATH on the node: our builds of kubeadm and kubectl, then the system. */
const NODE_PATH = `${path.dirname(kubernetesCommand(VERSION, "kubectl"))}:/usr/sbin:/usr/bin:/sbin:/bin`;
const INIT = NODE_LAYOUT.initConfig;
const JOIN = NODE_LAYOUT.joinConfig;

/** Writes every file the role gets, at its path and mode, into the node. */
function place(node: NodeNamespace, role: RoleConfigs, overrides: Record<string, string> = {}): void {
  const modes = Object.fromEntries(cluster.nodeFiles(role.role).map((f) => [f.path, parseInt(f.permissions, 8)]));
  for (const [file, content] of Object.entries({ ...role.files, ...overrides })) node.writeFile(file, content, modes[file] ?? 0o600);
}

function kubeadm(node: NodeNamespace, ...args: string[]): CommandResult {
  return node.exec(bin("kubeadm"), args, { timeoutMs: 180_000 });
}

function kubectl(node: NodeNamespace, kubeconfig: string, ...args: string[]): CommandResult {
  return node.exec(bin("kubectl"), ["--kubeconfig", kubeconfig, "--request-timeout", "20s", ...args]);
}

function json(r: CommandResult): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  expect(outcome(r)).toBe("exit 0");
  return JSON.parse(r.stdout);
}


/** The static pod's command line, with the command replaced by our build of it. */
function staticPodCommand(node: NodeNamespace, component: string): string[] {
  const pod = yaml.load(node.readFile(`/etc/kubernetes/manifests/${component}.yaml`)) as { spec: { containers: { command: string[] }[] } };
  const [command, ...args] = pod.spec.containers[0].command;
  expect(command).toBe(component);
  return [bin(component), ...args];
}

/**
 * The packed script's functions in a shell on the node, then `body` (our agents' own code).
 * `script`: another packing of it (e.g. with an AWS or GCE feature) @default the role's copy
 */
function scriptFunctions(node: NodeNamespace, body: string, env: Record<string, string> = {}, role: RoleConfigs = first, script = role.files[NODE_LAYOUT.script]): CommandResult {
  expect(script.trimEnd().endsWith('main "$@"')).toBe(true);
  const functions = path.join(node.dir, "functions.sh");
  fs.writeFileSync(functions, script.trimEnd().replace(/main "\$@"$/, ""));
  return node.exec("bash", ["-c", `. ${functions}\nsettings\n${body}`], {
    env: { PATH: NODE_PATH, ...env },
  });
}

/**
 * Checks a cluster-info signature the way kubeadm discovery does: an HS256 detached JWS over the
 * kubeconfig, keyed with the token secret, its key id the token id. Returns what is wrong, or "valid".
 */
function verifyJws(jws: string, kubeconfig: string, token: string): string {
  const [id, secret] = token.split(".");
  const [header, detached, signature] = jws.split(".");
  if (detached !== "") return "not a detached JWS";
  const fields = JSON.parse(Buffer.from(header, "base64url").toString());
  if (fields.alg !== "HS256" || fields.kid !== id) return `header ${JSON.stringify(fields)}`;
  const payload = Buffer.from(kubeconfig).toString("base64url");
  const expected = crypto.createHmac("sha256", secret).update(`${header}.${payload}`).digest("base64url");
  return expected === signature ? "valid" : "signature mismatch";
}

let node: NodeNamespace;
/** The backup agent's first snapshot (etcd backups), which the restore tests restore. */
let firstSnapshot: Buffer = Buffer.alloc(0);
const phases: Record<string, CommandResult> = {};

beforeAll(() => {
  node = NodeNamespace.create({ address: NODE_ADDRESS, extraAddresses: [VIP] });
  place(node, first);
  for (const phase of ["certs all", "kubeconfig all", "etcd local", "control-plane all"]) {
    phases[phase] = kubeadm(node, "init", "phase", ...phase.split(" "), "--config", INIT);
  }
});

afterAll(() => {
  node?.stop();
  node?.remove();
  fs.rmSync(work, { recursive: true, force: true });
});

describe("kubeadm init phases on the pre-placed PKI", () => {
  test("every phase succeeds", () => {
    expect(Object.fromEntries(Object.entries(phases).map(([p, r]) => [p, outcome(r)]))).toEqual({
      "certs all": "exit 0", "kubeconfig all": "exit 0", "etcd local": "exit 0", "control-plane all": "exit 0",
    });
  });

  test("reuses our CAs and service-account key byte for byte", () => {
    const out = phases["certs all"].output;
    for (const ca of ["ca", "front-proxy-ca", "etcd/ca"]) expect(out).toContain(`Using existing ${ca} certificate authority`);
    expect(out).toContain('Using the existing "sa" key');
    for (const [file, { content }] of Object.entries(first.pki)) expect({ file, same: node.readFile(file) === content }).toEqual({ file, same: true });
  });

  test("signs every leaf with the CA it belongs to", () => {
    const leaves: [string, string][] = [
      ["apiserver", pki.ca.certPem], ["apiserver-kubelet-client", pki.ca.certPem], ["front-proxy-client", pki.frontProxyCa.certPem],
      ["etcd/server", pki.etcdCa.certPem], ["etcd/peer", pki.etcdCa.certPem], ["etcd/healthcheck-client", pki.etcdCa.certPem],
      ["apiserver-etcd-client", pki.etcdCa.certPem],
    ];
    const signed = leaves.map(([leaf, ca]) => [leaf, isSignedBy(node.readFile(`/etc/kubernetes/pki/${leaf}.crt`), ca)]);
    expect(signed).toEqual(leaves.map(([leaf]) => [leaf, true]));
    const apiserver = new crypto.X509Certificate(node.readFile("/etc/kubernetes/pki/apiserver.crt"));
    expect(apiserver.subjectAltName).toContain(`IP Address:${VIP}`);
    expect(apiserver.subjectAltName).toContain("DNS:demo-metal-cp-0");
  });

  test("kubeconfigs embed our CA and point at the VIP (the controllers at their own API server)", () => {
    const servers: Record<string, string> = {
      "admin.conf": VIP, "super-admin.conf": VIP, "kubelet.conf": NODE_ADDRESS, "controller-manager.conf": NODE_ADDRESS, "scheduler.conf": NODE_ADDRESS,
    };
    for (const [file, host] of Object.entries(servers)) {
      const config = yaml.load(node.readFile(`/etc/kubernetes/${file}`)) as { clusters: { cluster: { server: string; "certificate-authority-data": string } }[] };
      expect({ file, server: config.clusters[0].cluster.server }).toEqual({ file, server: `https://${host}:6443` });
      expect(Buffer.from(config.clusters[0].cluster["certificate-authority-data"], "base64").toString()).toBe(pki.ca.certPem);
    }
  });
});

describe("a CA without keyCertSign (what the PKI store now refuses at synth)", () => {
  test("kubeadm signs leaves with it, then refuses them on its next run", () => {
    const bad = NodeNamespace.create({ address: NODE_ADDRESS, extraAddresses: [VIP] });
    try {
      place(bad, first);
      const key = bad.hostPath("/etc/kubernetes/pki/ca.key");
      const cert = bad.hostPath("/etc/kubernetes/pki/ca.crt");
      const made = run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "3650",
        "-subj", "/CN=kubernetes", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,digitalSignature,keyEncipherment"]);
      expect(outcome(made)).toBe("exit 0");
      expect(outcome(kubeadm(bad, "init", "phase", "certs", "all", "--config", INIT))).toBe("exit 0");
      const again = kubeadm(bad, "init", "phase", "certs", "all", "--config", INIT);
      expect(again.code).not.toBe(0);
      expect(again.output).toContain("certificate apiserver not signed by CA certificate ca");
      expect(again.output).toContain("parent certificate cannot sign this kind of certificate");
    } finally {
      bad.stop();
      bad.remove();
    }
  });
});

describe("a real control plane on the node", () => {
  beforeAll(() => {
    for (const component of ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]) {
      const [command, ...args] = staticPodCommand(node, component);
      node.start(component, command, args);
    }
    waitFor("the API server is ready", () => kubectl(node, ADMIN, "get", "--raw", "/readyz").stdout.trim() === "ok", { timeoutMs: 120_000,
      diagnostics: () => ["etcd", "kube-apiserver"].map((c) => `--- ${c} (${node.running(c) ? "running" : "exited"}):\n${node.log(c, 15)}`).join("\n") });
    for (const phase of ["upload-config all", "bootstrap-token", "addon all"]) {
      phases[phase] = kubeadm(node, "init", "phase", ...phase.split(" "), "--config", INIT);
    }
  });

  test("runs the version we built, and kubeadm's API phases succeed against it", () => {
    expect(json(kubectl(node, ADMIN, "version", "-o", "json")).serverVersion.gitVersion).toBe(`v${VERSION}`);
    expect({
      "upload-config all": outcome(phases["upload-config all"]), "bootstrap-token": outcome(phases["bootstrap-token"]), "addon all": outcome(phases["addon all"]),
    }).toEqual({ "upload-config all": "exit 0", "bootstrap-token": "exit 0", "addon all": "exit 0" });
    const config = json(kubectl(node, ADMIN, "-n", "kube-system", "get", "configmap", "kubeadm-config", "-o", "json"));
    expect(config.data.ClusterConfiguration).toContain(`controlPlaneEndpoint: ${VIP}:6443`);
  });

  test("the admin kubeconfig of the stack output is cluster-admin", () => {
    const ours = path.join("/etc/kubernetes", "cdktf-admin.conf");
    node.writeFile(ours, cluster.adminKubeconfig, 0o600);
    expect(kubectl(node, ours, "auth", "can-i", "*", "*", "--all-namespaces").stdout.trim()).toBe("yes");
    expect(json(kubectl(node, ours, "auth", "whoami", "-o", "json")).status.userInfo).toMatchObject({
      username: "kubernetes-admin", groups: expect.arrayContaining(["kubeadm:cluster-admins"]),
    });
  });

  test("kubeadm init registered our join token as we configured it", () => {
    const list = kubeadm(node, "token", "list", "--kubeconfig", ADMIN, "-o", "json");
    expect(outcome(list)).toBe("exit 0");
    const token = JSON.parse(list.stdout);
    expect(token).toMatchObject({
      token: pki.bootstrapToken, description: "cdktf-kubeadm node join token",
      usages: ["authentication", "signing"], groups: ["system:bootstrappers:kubeadm:default-node-token"],
    });
    expect(token.expires).toBeUndefined(); // ttl 0s: never expires
  });

  test("the real bootstrap signer signs cluster-info for our token", () => {
    const id = pki.bootstrapToken.split(".")[0];
    let info: { data: Record<string, string> } = { data: {} };
    waitFor("cluster-info is signed for our token", () => {
      info = json(kubectl(node, ADMIN, "-n", "kube-public", "get", "configmap", "cluster-info", "-o", "json"));
      return `jws-kubeconfig-${id}` in info.data;
    }, { timeoutMs: 60_000, diagnostics: () => `${JSON.stringify(info)}\n--- kube-controller-manager:\n${node.log("kube-controller-manager", 20)}` });
    expect(verifyJws(info.data[`jws-kubeconfig-${id}`], info.data.kubeconfig, pki.bootstrapToken)).toBe("valid");
    expect(verifyJws(info.data[`jws-kubeconfig-${id}`], info.data.kubeconfig, generateBootstrapToken().replace(/^[a-z0-9]{6}/, id))).toBe("signature mismatch");
  });

  test("the real token cleaner deletes an expired bootstrap token", () => {
    const expired = { apiVersion: "v1", kind: "Secret", type: "bootstrap.kubernetes.io/token",
      metadata: { name: "bootstrap-token-expird", namespace: "kube-system" },
      stringData: { "token-id": "expird", "token-secret": "0123456789abcdef", expiration: "2020-01-01T00:00:00Z", "usage-bootstrap-authentication": "true" } };
    const created = node.exec(bin("kubectl"), ["--kubeconfig", ADMIN, "apply", "-f", "-"], { input: JSON.stringify(expired) });
    expect(outcome(created)).toBe("exit 0");
    waitFor("the expired token is cleaned up", () =>
      kubectl(node, ADMIN, "-n", "kube-system", "get", "secret", "bootstrap-token-expird", "--ignore-not-found", "-o", "name").stdout.trim() === "",
    { timeoutMs: 60_000, diagnostics: () => node.log("kube-controller-manager", 20) });
  });

  describe("a worker's discovery, through real kubeadm", () => {
    const worker = roleNamed("worker-general");
    let workerNode: NodeNamespace;
    beforeAll(() => {
      workerNode = NodeNamespace.create({ shareNetworkWith: node });
    });
    afterAll(() => {
      workerNode?.stop();
      workerNode?.remove();
    });

    function joinDryRun(joinConfig: string): CommandResult {
      workerNode.clear("/etc/kubernetes");
      place(workerNode, worker, { [JOIN]: joinConfig });
      // Preflight checks this machine (no kubelet, no containerd), not the config: skipped.
      return kubeadm(workerNode, "join", "--dry-run", "--skip-phases=preflight", "--config", JOIN);
    }

    test("pins our CA: the join config's caCertHashes verify cluster-info", () => {
      const r = joinDryRun(worker.joinConfig);
      expect(outcome(r)).toBe("exit 0");
      // The GET of cluster-info is real (the dry-run client logs it): the signer's signature and our pin were checked.
      expect(r.output).toContain(`jws-kubeconfig-${pki.bootstrapToken.split(".")[0]}`);
      expect(r.output).toContain("This node has joined the cluster");
    });

    test("the worker's wait for the control plane reads each control-plane Node with the join token (kubeadm:get-nodes), and a missing one is no reason to wait", () => {
      workerNode.clear("/etc/kubernetes");
      place(workerNode, worker);
      const slot0 = cluster.controlPlaneNodeName(0);
      const setVersion = (version: string) =>
        expect(outcome(kubectl(node, ADMIN, "patch", "node", slot0, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { nodeInfo: { kubeletVersion: version } } })))).toBe("exit 0");
      node.writeFile("/run/cdktf-kubeadm/slot0-node.json", JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name: slot0 } }), 0o644);
      expect(outcome(kubectl(node, ADMIN, "create", "-f", "/run/cdktf-kubeadm/slot0-node.json"))).toBe("exit 0");
      setVersion(`v${VERSION}`);
      // Slots 1 and 2 have no Node: the token may get Nodes (404, not 403), so they do not hold the worker.
      const ready = scriptFunctions(workerNode, 'echo "CP_NODES=$CP_NODES"; cpnodes "$API_ENDPOINT"', {}, worker);
      expect(ready.output).toContain(`CP_NODES=${[0, 1, 2].map((i) => cluster.controlPlaneNodeName(i)).join(" ")}`);
      expect(outcome(ready)).toBe("exit 0");
      setVersion("v1.35.9");
      const behind = scriptFunctions(workerNode, 'cpnodes "$API_ENDPOINT"', {}, worker);
      expect(behind.code).not.toBe(0);
      expect(behind.output).toContain(`control-plane node ${slot0} runs Kubernetes 1.35, older than this node's ${VERSION.split(".").slice(0, 2).join(".")}`);
      // A token the API server does not know: 401, a wait that names it.
      const stranger = generateBootstrapToken();
      const wrongToken = scriptFunctions(workerNode, `sed -i 's/${pki.bootstrapToken}/${stranger}/' "$JOIN_CONFIG"; cpnodes "$API_ENDPOINT"`, {}, worker);
      expect(wrongToken.output).toContain(`control-plane node ${slot0} runs Kubernetes (unknown: HTTP 401)`);
      expect(outcome(kubectl(node, ADMIN, "delete", "node", slot0))).toBe("exit 0");
    });

    test("a wrong CA hash is refused by discovery", () => {
      const wrong = `sha256:${"0".repeat(64)}`;
      const broken = worker.joinConfig.replace(cluster.caCertHash, wrong);
      expect(broken).not.toBe(worker.joinConfig);
      const r = joinDryRun(broken);
      expect(r.code).not.toBe(0);
      expect(r.output).toMatch(/cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "sha256:[0-9a-f]{64}" are pinned/);
    }, 180_000);
  });

  describe("a worker's drain with its own credentials: the Node authorizer, NodeRestriction and a PodDisruptionBudget decide", () => {
    const worker = roleNamed("worker-general");
    const DRAINED = "drain-worker-1";
    const OTHER = "drain-worker-2";
    const KUBELET_CONF = "/etc/kubernetes/kubelet.conf";
    let workerNode: NodeNamespace;
    /** kubectl on the worker as its kubelet (system:node:drain-worker-1, group system:nodes). */
    const asNode = (...args: string[]) => kubectl(workerNode, KUBELET_CONF, ...args);
    const admin = (...args: string[]) => kubectl(node, ADMIN, ...args);
    const apply = (object: object) => expect(outcome(node.exec(bin("kubectl"), ["--kubeconfig", ADMIN, "apply", "-f", "-"], { input: JSON.stringify(object) }))).toBe("exit 0");
    const pod = (name: string, nodeName: string) => ({ apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "default", labels: { app: name } }, spec: { nodeName, containers: [{ name: "main", image: "registry.k8s.io/pause:3.10.2" }] } });
    const running = (name: string) => expect(outcome(admin("patch", "pod", name, "--subresource=status", "--type=merge", "-p", JSON.stringify({
      status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
    })))).toBe("exit 0");
    let drain: CommandResult;
    let deleteBeforeGrant: CommandResult;

    beforeAll(() => {
      workerNode = NodeNamespace.create({ shareNetworkWith: node });
      place(workerNode, worker);
      // The credential kubeadm's TLS bootstrap gives the kubelet: CN system:node:<name>, O system:nodes.
      const credential = kubeadm(node, "kubeconfig", "user", "--config", INIT, "--client-name", `system:node:${DRAINED}`, "--org", "system:nodes");
      expect(outcome(credential)).toBe("exit 0");
      workerNode.writeFile(KUBELET_CONF, credential.stdout, 0o600);
      for (const name of [DRAINED, OTHER]) apply({ apiVersion: "v1", kind: "Node", metadata: { name } });
      // Pods need the namespace's default ServiceAccount (the controller manager makes it).
      waitFor("the default ServiceAccount", () => admin("get", "serviceaccount", "default", "--ignore-not-found", "-o", "name").stdout.trim() !== "", { timeoutMs: 60_000 });
      for (const [name, on] of [["free", DRAINED], ["guarded", DRAINED], ["elsewhere", OTHER]]) apply(pod(name, on));
      for (const name of ["free", "guarded", "elsewhere"]) running(name);
      apply({ apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name: "guarded", namespace: "default" }, spec: { maxUnavailable: 0, selector: { matchLabels: { app: "guarded" } } } });
      waitFor("the disruption controller has seen the budget", () =>
        json(admin("get", "pdb", "guarded", "-o", "json")).status?.observedGeneration === 1, { timeoutMs: 60_000, diagnostics: () => node.log("kube-controller-manager", 20) });
      deleteBeforeGrant = asNode("delete", "node", DRAINED, "--dry-run=server");
      // The control plane's grant (the node-drain-rbac copy of the bare-metal control-plane script: its settings name the backup agent too), then the worker's drain.
      expect(outcome(scriptFunctions(node, "node_rbac", {}, first, bootstrapScript("control-plane", undefined, "file", "gce", "file")))).toBe("exit 0");
      // The drain stops the kubelet with systemctl: a double on this host, which records the call.
      workerNode.writeFile("/run/cdktf-kubeadm/stub/systemctl", '#!/bin/sh\necho "systemctl $*" >>/run/cdktf-kubeadm/systemctl.calls\n', 0o755);
      drain = scriptFunctions(workerNode, `NODE=${DRAINED} DRAIN_TIMEOUT=10; drain_node`,
        { PATH: `/run/cdktf-kubeadm/stub:${NODE_PATH}` }, worker, bootstrapScript("worker", undefined, undefined, "gce"));
    }, 180_000);
    afterAll(() => {
      workerNode?.stop();
      workerNode?.remove();
    });

    test("without the grant a node may not delete its own Node (kubeadm gives nodes no delete)", () => {
      expect(deleteBeforeGrant.code).not.toBe(0);
      expect(deleteBeforeGrant.output).toMatch(/Forbidden.*"system:node:drain-worker-1" cannot delete resource "nodes"/);
    });

    test("the drain evicts the pod it may evict, the budget holds the other (429), it ends at DRAIN_TIMEOUT, and the Node is gone", () => {
      expect(outcome(drain)).toBe("exit 0");
      expect(drain.output).toContain("evicted default/free");
      expect(drain.output).toContain("default/guarded: its PodDisruptionBudget allows no eviction now: trying again");
      expect(drain.output).toMatch(/drain timed out after 10 s; pods left: default free terminating default guarded running/);
      expect(drain.output).toContain(`deleted Node ${DRAINED}`);
      expect(drain.output).not.toMatch(/cannot (cordon|evict|delete)/);
      expect(json(admin("get", "pod", "free", "-o", "json")).metadata.deletionTimestamp).toBeDefined();
      expect(json(admin("get", "pod", "guarded", "-o", "json")).metadata.deletionTimestamp).toBeUndefined();
      expect(json(admin("get", "pod", "elsewhere", "-o", "json")).metadata.deletionTimestamp).toBeUndefined();
      expect(admin("get", "node", DRAINED, "--ignore-not-found", "-o", "name").stdout.trim()).toBe("");
      expect(workerNode.readFile("/run/cdktf-kubeadm/systemctl.calls")).toContain("systemctl stop kubelet");
    });

    test("NodeRestriction keeps it to itself: no eviction of another node's pod, no deletion of another Node", () => {
      const eviction = { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: "elsewhere", namespace: "default" } };
      const evictOther = workerNode.exec(bin("kubectl"), ["--kubeconfig", KUBELET_CONF, "create", "--raw", "/api/v1/namespaces/default/pods/elsewhere/eviction", "-f", "-"], { input: JSON.stringify(eviction) });
      expect(evictOther.code).not.toBe(0);
      expect(evictOther.output).toMatch(/Forbidden|forbidden/);
      const deleteOther = asNode("delete", "node", OTHER, "--dry-run=server");
      expect(deleteOther.code).not.toBe(0);
      expect(deleteOther.output).toMatch(/node "drain-worker-1" is not allowed to modify node "drain-worker-2"/);
      expect(admin("get", "node", OTHER, "-o", "name").stdout.trim()).toBe(`node/${OTHER}`);
      for (const name of ["free", "guarded", "elsewhere"]) admin("delete", "pod", name, "--grace-period=0", "--force");
      admin("delete", "pdb", "guarded");
      admin("delete", "node", OTHER);
    });
  });

  describe("etcd backups: the backup agent snapshots the real etcd, checks and stores the snapshot, and records it", () => {
    // the example's own settings and script: bare metal backs up by default, into this directory
    const LOCATION = "/var/lib/cdktf-kubeadm/etcd-backups";
    const STUB = "/run/cdktf-kubeadm/stub";
    const admin = (...args: string[]) => kubectl(node, ADMIN, ...args);
    /** The timer's run: `cdktf-kubeadm-bootstrap backup` on a bootstrapped node ($ST/done). */
    const backup = (before = "") => scriptFunctions(node, `${before}agent backup`, { PATH: `${STUB}:${NODE_PATH}` });
    const nodeName = /^NODE_NAME='([^']+)'$/m.exec(first.files[NODE_LAYOUT.settings])![1];
    const status = () => json(admin("-n", "kube-system", "get", "configmap", "cdktf-kubeadm-etcd-backup", "-o", "json")).data as Record<string, string>;
    const stored = (dir: string) => fs.readdirSync(node.hostPath(`${LOCATION}/${dir}`)).sort();
    let firstRun: CommandResult;
    let secondRun: CommandResult;
    /** What the first run left: the directories' listings, the status ConfigMap. */
    let afterFirst: { recent: string[]; hourly: string[]; daily: string[]; status: Record<string, string>; snapshot: Buffer };

    beforeAll(() => {
      // ctr on a node runs etcdctl/etcdutl from the etcd image kubeadm's manifest names, with the
      // etcd PKI and the scratch directory mounted at their own paths: here the double runs our
      // build of the same etcd release on the node, and records the call.
      node.writeFile("/var/lib/cdktf-kubeadm/done", "", 0o644);
      node.writeFile(`${STUB}/ctr`, [
        "#!/bin/bash",
        `echo "ctr $*" >>/run/cdktf-kubeadm/ctr.calls`,
        '[[ $1 == -n && $3 == run ]] || { echo "ctr double: unexpected $*" >&2; exit 2; }',
        "shift 3",
        'while [[ $1 == -* ]]; do case $1 in --mount) shift 2 ;; *) shift ;; esac; done',
        "shift 2 # the image and the container id",
        `tool=$1; shift; exec "${path.dirname(etcdTool("etcdctl"))}/$tool" "$@"`,
        "",
      ].join("\n"), 0o755);
      expect(outcome(admin("create", "configmap", "before-the-snapshot", "--from-literal=k=v"))).toBe("exit 0");
      firstRun = backup();
      afterFirst = { recent: stored("recent"), hourly: stored("hourly"), daily: stored("daily"), status: status(), snapshot: Buffer.alloc(0) };
      afterFirst.snapshot = fs.readFileSync(node.hostPath(JSON.parse(afterFirst.status.lastSnapshot).location));
      firstSnapshot = afterFirst.snapshot;
      expect(outcome(admin("create", "configmap", "after-the-snapshot", "--from-literal=k=v"))).toBe("exit 0");
      // outdated copies of each kind, and a daily one still within its 90 days
      const old: [string, string][] = [["recent", "etcd-20260101T000000Z.db"], ["hourly", "etcd-20260101T00.db"], ["daily", "etcd-20260101.db"]];
      for (const [dir, name] of old) node.writeFile(`${LOCATION}/${dir}/${name}`, "old", 0o600);
      secondRun = backup();
    }, 180_000);

    test("the example's control plane backs up by default: every 15 minutes into the directory, kept 24 hours, 7 days, 90 days", () => {
      expect(first.files[NODE_LAYOUT.settings]).toContain(["BACKUP_TARGET='file'", `BACKUP_LOCATION='${LOCATION}'`, "BACKUP_INTERVAL='15'",
        "BACKUP_RECENT_HOURS='24'", "BACKUP_HOURLY_DAYS='7'", "BACKUP_DAILY_DAYS='90'"].join("\n"));
    });

    test("the first run takes the Lease, stores a snapshot the real etcdutl accepts as recent, hourly and daily copies (0600 in 0700 directories)", () => {
      expect(outcome(firstRun)).toBe("exit 0");
      expect(firstRun.output).toContain("take of the backup Lease kube-system/cdktf-kubeadm-etcd-backup");
      const { recent } = afterFirst;
      expect(recent).toHaveLength(1);
      expect(recent[0]).toMatch(/^etcd-\d{8}T\d{6}Z\.db$/);
      const file = node.hostPath(`${LOCATION}/recent/${recent[0]}`);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      for (const dir of ["", "/recent", "/hourly", "/daily"]) expect({ dir, mode: fs.statSync(node.hostPath(`${LOCATION}${dir}`)).mode & 0o777 }).toEqual({ dir, mode: 0o700 });
      const checked = JSON.parse(run(etcdTool("etcdutl"), ["snapshot", "status", file, "-w", "json"]).stdout);
      const last = JSON.parse(afterFirst.status.lastSnapshot);
      expect(last).toEqual({
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/), node: nodeName, revision: checked.revision, sizeBytes: checked.totalSize,
        hash: checked.hash, location: `${LOCATION}/recent/${recent[0]}`,
      });
      expect(checked.revision).toBeGreaterThan(1);
      const hour = recent[0].slice(5, 16);
      expect(afterFirst.hourly).toEqual([`etcd-${hour}.db`]);
      expect(fs.readFileSync(node.hostPath(`${LOCATION}/hourly/etcd-${hour}.db`)).equals(fs.readFileSync(file))).toBe(true);
      expect(afterFirst.daily).toEqual([`etcd-${hour.slice(0, 8)}.db`]);
      expect(afterFirst.status).toMatchObject({ lastHourly: hour, lastDaily: hour.slice(0, 8), lastError: "" });
      const lease = json(admin("-n", "kube-system", "get", "lease", "cdktf-kubeadm-etcd-backup", "-o", "json")).spec;
      expect(lease).toMatchObject({ holderIdentity: nodeName, leaseDurationSeconds: 1800 });
    });

    test("ctr ran etcdctl and etcdutl from the image of kubeadm's etcd manifest, with the etcd PKI read-only", () => {
      const image = (yaml.load(node.readFile("/etc/kubernetes/manifests/etcd.yaml")) as { spec: { containers: { image: string }[] } }).spec.containers[0].image;
      const calls = node.readFile("/run/cdktf-kubeadm/ctr.calls").trim().split("\n");
      expect(calls.slice(0, 3).map((c) => c.replace(/cdktf-kubeadm-etcd-\d+/, "ID").replace(/ --(cacert|cert|key)=\S+/g, ""))).toEqual([
        `ctr -n k8s.io run --rm --net-host --mount type=bind,src=/etc/kubernetes/pki/etcd,dst=/etc/kubernetes/pki/etcd,options=rbind:ro --mount type=bind,src=/var/lib/cdktf-kubeadm/etcd-backup,dst=/var/lib/cdktf-kubeadm/etcd-backup,options=rbind:rw ${image} ID etcdctl --endpoints=https://127.0.0.1:2379 --command-timeout=30s endpoint status`,
        `ctr -n k8s.io run --rm --net-host --mount type=bind,src=/etc/kubernetes/pki/etcd,dst=/etc/kubernetes/pki/etcd,options=rbind:ro --mount type=bind,src=/var/lib/cdktf-kubeadm/etcd-backup,dst=/var/lib/cdktf-kubeadm/etcd-backup,options=rbind:rw ${image} ID etcdctl --endpoints=https://127.0.0.1:2379 --command-timeout=10m snapshot save /var/lib/cdktf-kubeadm/etcd-backup/snapshot.db`,
        `ctr -n k8s.io run --rm --net-host --mount type=bind,src=/etc/kubernetes/pki/etcd,dst=/etc/kubernetes/pki/etcd,options=rbind:ro --mount type=bind,src=/var/lib/cdktf-kubeadm/etcd-backup,dst=/var/lib/cdktf-kubeadm/etcd-backup,options=rbind:rw ${image} ID etcdutl snapshot status /var/lib/cdktf-kubeadm/etcd-backup/snapshot.db -w json`,
      ]);
      expect(image).toMatch(/\/etcd:3\.6\.\d+-0$/);
    });

    test("the next run within the hour renews the Lease and stores a recent copy only; expired copies of each kind are pruned", () => {
      expect(outcome(secondRun)).toBe("exit 0");
      expect(secondRun.output).toContain("renewed the backup Lease");
      expect(stored("recent")).toHaveLength(2);
      expect(stored("recent")).not.toContain("etcd-20260101T000000Z.db");
      expect(stored("hourly")).toHaveLength(1);
      expect(stored("daily")).toHaveLength(1);
      expect(secondRun.output).toContain("deleted the expired snapshot hourly/etcd-20260101T00.db");
      // nothing left in the scratch directory: the snapshot holds every Secret
      expect(fs.existsSync(node.hostPath("/var/lib/cdktf-kubeadm/etcd-backup"))).toBe(false);
    });

    test("the snapshot restores with etcdutl: a real etcd started on it has the objects made before it, not those made after", () => {
      // the first run's snapshot: taken before after-the-snapshot was created
      const file = node.hostPath(JSON.parse(afterFirst.status.lastSnapshot).location);
      const dataDir = path.join(node.dir, "restored");
      const restored = run(etcdTool("etcdutl"), ["snapshot", "restore", file, "--data-dir", dataDir, "--name", "restored", "--initial-cluster", "restored=http://127.0.0.1:23800", "--initial-advertise-peer-urls", "http://127.0.0.1:23800"]);
      expect(outcome(restored)).toBe("exit 0");
      node.start("restored-etcd", bin("etcd"), ["--name", "restored", "--data-dir", dataDir, "--listen-client-urls", "http://127.0.0.1:23790", "--advertise-client-urls", "http://127.0.0.1:23790",
        "--listen-peer-urls", "http://127.0.0.1:23800", "--initial-advertise-peer-urls", "http://127.0.0.1:23800", "--initial-cluster", "restored=http://127.0.0.1:23800"]);
      const keys = () => node.exec(etcdTool("etcdctl"), ["--endpoints=http://127.0.0.1:23790", "get", "--prefix", "--keys-only", "/registry/configmaps/default/"]);
      waitFor("the restored etcd answers", () => keys().code === 0, { timeoutMs: 60_000, diagnostics: () => node.log("restored-etcd", 20) });
      const names = keys().stdout.split("\n").filter(Boolean);
      expect(names).toContain("/registry/configmaps/default/before-the-snapshot");
      expect(names).not.toContain("/registry/configmaps/default/after-the-snapshot");
    });

    test("while another node holds the Lease, nothing is taken", () => {
      const lease = json(admin("-n", "kube-system", "get", "lease", "cdktf-kubeadm-etcd-backup", "-o", "json"));
      lease.spec.holderIdentity = "bm-cp-1";
      lease.spec.renewTime = new Date().toISOString().replace(/\.\d+Z$/, ".000000Z");
      expect(outcome(node.exec(bin("kubectl"), ["--kubeconfig", ADMIN, "replace", "-f", "-"], { input: JSON.stringify(lease) }))).toBe("exit 0");
      const before = stored("recent");
      const r = backup();
      expect(outcome(r)).toBe("exit 0");
      expect(r.output).toMatch(/bm-cp-1 holds the backup Lease for \d+s more: trying again at the next run/);
      expect(stored("recent")).toEqual(before);
      expect(outcome(admin("-n", "kube-system", "delete", "lease", "cdktf-kubeadm-etcd-backup"))).toBe("exit 0");
    });

    test("a snapshot etcd refuses fails in one line naming the step and the fix, recorded in the ConfigMap; the Lease is let go", () => {
      // a client certificate of another CA (the front proxy's): etcd refuses the TLS handshake
      const r = backup(`PKI=${path.join(node.dir, "wrong-pki")}; cp -a /etc/kubernetes/pki $PKI; cp $PKI/front-proxy-client.crt $PKI/etcd/healthcheck-client.crt; cp $PKI/front-proxy-client.key $PKI/etcd/healthcheck-client.key; `);
      expect(r.code).toBe(1);
      const line = "cdktf-kubeadm backup FAILED in step snapshot: etcdctl snapshot save failed: check this node's etcd (crictl ps --name etcd; crictl logs)";
      expect(r.output).toContain(line);
      expect(status().lastError).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\S+ ${nodeName}, step snapshot: etcdctl snapshot save failed`));
      expect(json(admin("-n", "kube-system", "get", "lease", "cdktf-kubeadm-etcd-backup", "-o", "json")).spec.holderIdentity).toBeUndefined();
    });
  });

  describe("restore: a new control-plane node restores the backup agent's snapshot, and a real control plane starts on it", () => {
    const SNAPSHOT = "/var/lib/cdktf-kubeadm/restore-from.db";
    let restoredNode: NodeNamespace;
    let restore: CommandResult;
    const restoredAdmin = (...args: string[]) => kubectl(restoredNode, ADMIN, ...args);

    beforeAll(() => {
      // a machine of its own (its own network, the same address), with slot 0's files, and the
      // snapshot the backup agent stored on the first node (taken before after-the-snapshot existed)
      restoredNode = NodeNamespace.create({ address: NODE_ADDRESS, extraAddresses: [VIP] });
      place(restoredNode, first);
      expect(firstSnapshot.length).toBeGreaterThan(0);
      restoredNode.writeFile(SNAPSHOT, "", 0o600);
      fs.writeFileSync(restoredNode.hostPath(SNAPSHOT), firstSnapshot);
      restoredNode.writeFile("/run/cdktf-kubeadm/stub/ctr", node.readFile("/run/cdktf-kubeadm/stub/ctr"), 0o755);
      // kubeadm init's certificate and kubeconfig phases first (its etcd phase comes after the restore)
      for (const phase of ["certs all", "kubeconfig all"]) expect(outcome(kubeadm(restoredNode, "init", "phase", ...phase.split(" "), "--config", INIT))).toBe("exit 0");
      restore = scriptFunctions(restoredNode, "restore_etcd", { PATH: `/run/cdktf-kubeadm/stub:${NODE_PATH}`, RESTORE_SNAPSHOT: SNAPSHOT }, first,
        bootstrapScript("control-plane", undefined, "file", undefined, "file", SNAPSHOT));
      for (const phase of ["etcd local", "control-plane all"]) expect(outcome(kubeadm(restoredNode, "init", "phase", ...phase.split(" "), "--config", INIT))).toBe("exit 0");
      for (const component of ["etcd", "kube-apiserver"]) {
        const pod = yaml.load(restoredNode.readFile(`/etc/kubernetes/manifests/${component}.yaml`)) as { spec: { containers: { command: string[] }[] } };
        const [, ...args] = pod.spec.containers[0].command;
        restoredNode.start(component, bin(component), args);
      }
      waitFor("the API server on the restored etcd is ready", () => restoredAdmin("get", "--raw", "/readyz").stdout.trim() === "ok", {
        timeoutMs: 120_000, diagnostics: () => ["etcd", "kube-apiserver"].map((c) => `--- ${c}:\n${restoredNode.log(c, 15)}`).join("\n"),
      });
    }, 300_000);
    afterAll(() => {
      restoredNode?.stop();
      restoredNode?.remove();
    });

    test("the restore step checks the snapshot and makes it the node's etcd data: one member, this node, at its advertise address", () => {
      expect(outcome(restore)).toBe("exit 0");
      expect(restore.output).toMatch(new RegExp(`restored etcd from ${SNAPSHOT} \\(revision \\d+\\) as the data of ${/^NODE_NAME='([^']+)'$/m.exec(first.files[NODE_LAYOUT.settings])![1]} at ${NODE_ADDRESS}`));
      expect(fs.statSync(restoredNode.hostPath("/var/lib/etcd")).mode & 0o777).toBe(0o700);
      const members = restoredNode.exec(etcdTool("etcdctl"), ["--endpoints=https://127.0.0.1:2379", "--cacert=/etc/kubernetes/pki/etcd/ca.crt",
        "--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt", "--key=/etc/kubernetes/pki/etcd/healthcheck-client.key", "member", "list", "-w", "json"]);
      const list = JSON.parse(members.stdout).members as { name: string; peerURLs: string[] }[];
      expect(list.map((m) => [m.name, m.peerURLs])).toEqual([[/^NODE_NAME='([^']+)'$/m.exec(first.files[NODE_LAYOUT.settings])![1], [`https://${NODE_ADDRESS}:2380`]]]);
    });

    test("the restored cluster has the objects made before the snapshot, not those made after; the same admin credentials work", () => {
      expect(restoredAdmin("get", "configmap", "before-the-snapshot", "-o", "name").stdout.trim()).toBe("configmap/before-the-snapshot");
      expect(restoredAdmin("get", "configmap", "after-the-snapshot", "--ignore-not-found", "-o", "name").stdout.trim()).toBe("");
      // kubeadm's own objects came back too: its ClusterConfiguration and the join token it registered
      expect(json(restoredAdmin("-n", "kube-system", "get", "configmap", "kubeadm-config", "-o", "json")).data.ClusterConfiguration).toContain(`controlPlaneEndpoint: ${VIP}:6443`);
    });

    test("a snapshot that is not one is refused before anything is replaced", () => {
      restoredNode.writeFile("/var/lib/cdktf-kubeadm/not-a-snapshot.db", "garbage", 0o600);
      const r = scriptFunctions(restoredNode, "restore_etcd", { PATH: `/run/cdktf-kubeadm/stub:${NODE_PATH}`, RESTORE_SNAPSHOT: "/var/lib/cdktf-kubeadm/not-a-snapshot.db" }, first,
        bootstrapScript("control-plane", undefined, "file", undefined, "file", SNAPSHOT));
      expect(r.code).toBe(1);
      expect(r.output).toContain("etcdutl snapshot status refuses /var/lib/cdktf-kubeadm/not-a-snapshot.db: not a usable etcd snapshot");
      expect(restoredAdmin("get", "configmap", "before-the-snapshot", "-o", "name").stdout.trim()).toBe("configmap/before-the-snapshot");
    });
  });

  describe("a joining control-plane node's certificates", () => {
    const second = roleNamed("control-plane-1");
    let secondNode: NodeNamespace;
    let prepare: CommandResult;
    beforeAll(() => {
      secondNode = NodeNamespace.create({ shareNetworkWith: node });
      place(secondNode, second);
      prepare = kubeadm(secondNode, "join", "phase", "control-plane-prepare", "certs", "--config", JOIN);
    });
    afterAll(() => {
      secondNode?.stop();
      secondNode?.remove();
    });

    test("kubeadm reuses the shared CAs and signs the node's leaves with them", () => {
      expect(outcome(prepare)).toBe("exit 0");
      for (const [file, { content }] of Object.entries(second.pki)) expect({ file, same: secondNode.readFile(file) === content }).toEqual({ file, same: true });
      expect(isSignedBy(secondNode.readFile("/etc/kubernetes/pki/apiserver.crt"), pki.ca.certPem)).toBe(true);
      expect(isSignedBy(secondNode.readFile("/etc/kubernetes/pki/etcd/peer.crt"), pki.etcdCa.certPem)).toBe(true);
      expect(new crypto.X509Certificate(secondNode.readFile("/etc/kubernetes/pki/apiserver.crt")).subjectAltName).toContain("DNS:demo-metal-cp-1");
    });
  });

  describe("the join-token agent", () => {
    const rotated = generateBootstrapToken();
    let agent: CommandResult;
    beforeAll(() => {
      // What the SSH provisioner delivers after a bootstrapTokenRotation: the join config with the new token.
      node.writeFile(JOIN, first.joinConfig.split(pki.bootstrapToken).join(rotated), 0o600);
      node.writeFile(`${NODE_LAYOUT.stateDir}/done`, "", 0o644);
      agent = node.exec("bash", [NODE_LAYOUT.script, "token"], { env: { PATH: NODE_PATH } });
    });
    afterAll(() => node.writeFile(JOIN, first.joinConfig, 0o600));

    test("registers the new token the way kubeadm reads tokens, and deletes the one it replaced", () => {
      expect(outcome(agent)).toBe("exit 0");
      const list = kubeadm(node, "token", "list", "--kubeconfig", ADMIN, "-o", "json");
      expect(outcome(list)).toBe("exit 0");
      const tokens = list.stdout.trim() === "" ? [] : list.stdout.trim().split(/\n(?=\{)/).map((t) => JSON.parse(t));
      expect(tokens).toEqual([expect.objectContaining({
        token: rotated, description: "cdktf-kubeadm node join token",
        usages: ["authentication", "signing"], groups: ["system:bootstrappers:kubeadm:default-node-token"],
      })]);
      expect(agent.output).not.toContain(rotated.split(".")[1]);
    });

    test("the bootstrap signer signs cluster-info for the new token and drops the old signature", () => {
      const [newId] = rotated.split(".");
      const [oldId] = pki.bootstrapToken.split(".");
      let info: { data: Record<string, string> } = { data: {} };
      waitFor("cluster-info is re-signed", () => {
        info = json(kubectl(node, ADMIN, "-n", "kube-public", "get", "configmap", "cluster-info", "-o", "json"));
        return `jws-kubeconfig-${newId}` in info.data && !(`jws-kubeconfig-${oldId}` in info.data);
      }, { timeoutMs: 60_000, diagnostics: () => JSON.stringify(Object.keys(info.data)) });
      expect(verifyJws(info.data[`jws-kubeconfig-${newId}`], info.data.kubeconfig, rotated)).toBe("valid");
    });

    test("with a token lifetime (BOOTSTRAP_TOKEN_TTL, every control plane's setting) kubeadm sees the expiry", () => {
      const third = generateBootstrapToken();
      const settingsFile = NODE_LAYOUT.settings;
      const settings = node.readFile(settingsFile);
      node.writeFile(settingsFile, `${settings}BOOTSTRAP_TOKEN_TTL='7200'\n`, 0o644);
      node.writeFile(JOIN, first.joinConfig.split(pki.bootstrapToken).join(third), 0o600);
      try {
        const before = Date.now();
        const r = node.exec("bash", [NODE_LAYOUT.script, "token"], { env: { PATH: NODE_PATH } });
        expect(outcome(r)).toBe("exit 0");
        const list = kubeadm(node, "token", "list", "--kubeconfig", ADMIN, "-o", "json");
        const tokens = list.stdout.trim().split(/\n(?=\{)/).map((t) => JSON.parse(t));
        expect(tokens.map((t) => t.token)).toEqual([third]);
        const expires = Date.parse(tokens[0].expires);
        expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 7200_000 - 2000);
        expect(expires).toBeLessThanOrEqual(Date.now() + 7200_000 + 2000);
      } finally {
        node.writeFile(settingsFile, settings, 0o644);
        // Back to the token the rest of the suite expects, as a rotation would.
        node.writeFile(JOIN, first.joinConfig.split(pki.bootstrapToken).join(rotated), 0o600);
        expect(outcome(node.exec("bash", [NODE_LAYOUT.script, "token"], { env: { PATH: NODE_PATH } }))).toBe("exit 0");
      }
    });

    test("a second run changes nothing", () => {
      const again = node.exec("bash", [NODE_LAYOUT.script, "token"], { env: { PATH: NODE_PATH } });
      expect(outcome(again)).toBe("exit 0");
      expect(again.output).not.toMatch(/registered|deleted/);
    });
  });

  describe("the certificate renewal agent", () => {
    test("reads real kubeadm's expiry report: a fresh cluster has nothing to renew", () => {
      node.writeFile(`${NODE_LAYOUT.stateDir}/done`, "", 0o644);
      const agent = node.exec("bash", [NODE_LAYOUT.script, "certs"], { env: { PATH: NODE_PATH } });
      expect(outcome(agent)).toBe("exit 0");
      const said = /the first certificate expires in (\d+) days \(renewal within (\d+)\): nothing to renew/.exec(agent.output);
      const days = Number(said?.[1]);
      // Leaves are valid for certificateValidityPeriod (8760 h): 364 or 365 days left.
      expect(days).toBeGreaterThanOrEqual(364);
      expect(days).toBeLessThanOrEqual(365);
      // A third of 365 days is more than 90: renewal at 90 days (CERT_RENEW_DAYS from the settings).
      expect(Number(said?.[2])).toBe(90);
    });
  });

  describe("the upgrade agent's Lease and status ConfigMap", () => {
    const lease = () => json(kubectl(node, ADMIN, "-n", "kube-system", "get", "lease", "cdktf-kubeadm-upgrade", "-o", "json"));

    test("one node takes the Lease; another is refused while it holds it; release lets the other take it", () => {
      const take = scriptFunctions(node, "lease take");
      expect(outcome(take)).toBe("exit 0");
      expect(lease().spec).toMatchObject({ holderIdentity: "demo-metal-cp-0", leaseDurationSeconds: 3600 });
      const other = scriptFunctions(node, "NODE=demo-metal-cp-1; lease take");
      expect(other.code).toBe(1);
      expect(other.output).toMatch(/demo-metal-cp-0 holds the upgrade Lease for \d+s more/);
      expect(outcome(scriptFunctions(node, "lease take"))).toBe("exit 0"); // renewal by the holder
      expect(outcome(scriptFunctions(node, "lease release"))).toBe("exit 0");
      expect(lease().spec.holderIdentity).toBeUndefined();
      expect(outcome(scriptFunctions(node, "NODE=demo-metal-cp-1; lease take"))).toBe("exit 0");
      expect(lease().spec.holderIdentity).toBe("demo-metal-cp-1");
      expect(outcome(scriptFunctions(node, "NODE=demo-metal-cp-1; lease release"))).toBe("exit 0");
    });

    test("a write based on a stale read loses: the API server's resourceVersion check", () => {
      // The Lease is free; between this node's read and its write another writer changes it.
      const intruder = `kubectl --kubeconfig "$K/admin.conf" -n kube-system patch lease cdktf-kubeadm-upgrade --type merge -p '{"spec":{"holderIdentity":"intruder"}}' >/dev/null`;
      const race = scriptFunctions(node, `kc() { if [[ $1 == replace ]]; then ${intruder}; fi; kubectl --kubeconfig "$K/admin.conf" --request-timeout 20s "$@"; }; lease take`);
      expect(race.code).toBe(1);
      expect(race.output).toContain("another node wrote the upgrade Lease first");
      expect(lease().spec.holderIdentity).toBe("intruder");
      expect(outcome(kubectl(node, ADMIN, "-n", "kube-system", "delete", "lease", "cdktf-kubeadm-upgrade"))).toBe("exit 0");
    });

    test("the status lands in ConfigMap kube-system/cdktf-kubeadm-upgrade-status under the node's name", () => {
      const r = scriptFunctions(node, 'FROM=1.36.3 TO=1.37.2; ustatus kubeadm running; NODE=demo-metal-cp-1 ustatus "done" succeeded');
      expect(outcome(r)).toBe("exit 0");
      const data = json(kubectl(node, ADMIN, "-n", "kube-system", "get", "configmap", "cdktf-kubeadm-upgrade-status", "-o", "json")).data;
      expect(JSON.parse(data["demo-metal-cp-0"])).toMatchObject({ from: "1.36.3", to: "1.37.2", phase: "kubeadm", result: "running", error: null });
      expect(JSON.parse(data["demo-metal-cp-1"])).toMatchObject({ phase: "done", result: "succeeded" });
    });
  });
});
