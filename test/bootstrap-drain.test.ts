/**
 * The drain before termination (bootstrap.sh drain_node, drain_watch): a GCE worker's shutdown
 * script (`drain`) and an AWS worker's cdktf-kubeadm-drain service (`drain-watch`, IMDS's target
 * lifecycle state, the termination hook) cordon the node, evict its pods (a PodDisruptionBudget's
 * 429 is tried again), give up at DRAIN_TIMEOUT, stop the kubelet and delete the Node; control-plane
 * nodes grant nodes their own Node's deletion. Run against the stubs; test/real-control-plane
 * runs the same functions against a real API server (Node authorizer, NodeRestriction, PDBs).
 */
import * as fs from "fs";
import {
  AWS_DRAIN_SETTINGS, appliedManifests, blockEviction, BootstrapRun, callIndex, httpRespond, IMDS_ENDPOINT, inRoot, NodeRoot, readCalls,
  resetCalls, runBootstrap, SECRET_SEAMS, serveSecrets, setControl, setNodePods, StubPod, suiteNodes,
} from "./harness";

const node = suiteNodes();
const WORKER = "stub-worker-1";
const APP: StubPod = { namespace: "shop", name: "web-1" };
const PODS: StubPod[] = [
  APP,
  { namespace: "shop", name: "db-0", owner: "StatefulSet" },
  { namespace: "kube-system", name: "kube-proxy-x1", owner: "DaemonSet" },
  { namespace: "kube-system", name: "static-web", owner: "Node", mirror: true },
  { namespace: "batch", name: "report-1", owner: "Job", phase: "Succeeded" },
];
const evictions = (n: NodeRoot) => readCalls(n).filter((c) => c.includes("/eviction")).map((c) => c.match(/namespaces\/([^/]+)\/pods\/([^/]+)\/eviction/)!.slice(1).join("/"));
const DRAIN_LOG = "/var/log/cdktf-kubeadm-drain.log";

/** A bootstrapped worker (the drain runs only after the bootstrap is done). */
function bootstrapped(opts: Parameters<typeof node>[0], env: Record<string, string> = {}): NodeRoot {
  const n = node({ role: "worker", apiUp: ["*"], ...opts });
  if (n.secrets) serveSecrets(n);
  expect(runBootstrap(n, env).code).toBe(0);
  resetCalls(n);
  return n;
}

describe("GCE: the shutdown script's drain", () => {
  const drain = (n: NodeRoot): BootstrapRun => runBootstrap(n, {}, ["drain"]);

  test("cordons, evicts what a drain moves (not DaemonSet, mirror or finished pods), stops the kubelet, then deletes its Node", () => {
    const n = bootstrapped({ drain: "gce" });
    setNodePods(n, PODS);
    const r = drain(n);
    expect(r.code).toBe(0);
    expect(evictions(n).sort()).toEqual(["shop/db-0", "shop/web-1"]);
    const calls = readCalls(n);
    const cordon = callIndex(calls, `cordon ${WORKER}`);
    const stop = callIndex(calls, "systemctl stop kubelet");
    const remove = callIndex(calls, `delete node ${WORKER}`);
    expect(cordon).toBeGreaterThanOrEqual(0);
    expect(cordon).toBeLessThan(callIndex(calls, "/eviction"));
    expect(stop).toBeGreaterThan(calls.map((c, i) => (c.includes("/eviction") ? i : -1)).reduce((a, b) => Math.max(a, b)));
    expect(remove).toBeGreaterThan(stop);
    // every API call with the node's own credentials
    expect(calls.filter((c) => c.startsWith("kubectl ")).every((c) => c.includes(`--kubeconfig ${inRoot(n, "/etc/kubernetes/kubelet.conf")}`))).toBe(true);
    expect(r.output).toContain("no pods left to evict");
    expect(fs.readFileSync(inRoot(n, DRAIN_LOG), "utf8")).toContain(`deleted Node ${WORKER}`);
    // the bootstrap's status is not the drain's
    expect(JSON.parse(fs.readFileSync(inRoot(n, "/var/lib/cdktf-kubeadm/status.json"), "utf8"))).toMatchObject({ phase: "done", result: "succeeded" });
  });

  test("a PodDisruptionBudget's refusal (429) is tried again until the eviction is allowed", () => {
    const n = bootstrapped({ drain: "gce" });
    setNodePods(n, [APP]);
    blockEviction(n, "shop", "web-1", 2);
    const r = drain(n);
    expect(r.code).toBe(0);
    expect(evictions(n)).toEqual(["shop/web-1", "shop/web-1", "shop/web-1"]);
    expect(r.output.match(/shop\/web-1: its PodDisruptionBudget allows no eviction now: trying again/g)).toHaveLength(2);
    expect(r.output).toContain("evicted shop/web-1");
    expect(callIndex(readCalls(n), `delete node ${WORKER}`)).toBeGreaterThan(0);
  });

  test("bounded: a budget that never allows it ends the drain at DRAIN_TIMEOUT, naming the pods left; the Node is deleted anyway", () => {
    const n = bootstrapped({ drain: "gce", settings: { DRAIN_TIMEOUT: "30" } });
    setNodePods(n, [APP]);
    blockEviction(n, "shop", "web-1", -1);
    setControl(n, "epoch", "1000000\n");
    setControl(n, "sleep-advances-epoch", "");
    const r = drain(n);
    expect(r.code).toBe(0);
    expect(evictions(n)).toHaveLength(6); // one round every 5 s for 30 s
    expect(r.output).toMatch(/WARNING: drain timed out after 30 s; pods left: shop web-1 running/);
    expect(callIndex(readCalls(n), `delete node ${WORKER}`)).toBeGreaterThan(0);
  });

  test("an API server that does not answer: the drain still ends at DRAIN_TIMEOUT and says why", () => {
    const n = bootstrapped({ drain: "gce", settings: { DRAIN_TIMEOUT: "20" } });
    setControl(n, "fail/list", "get pods -A\n-1\n1\nUnable to connect to the server: dial tcp 10.0.0.100:6443: i/o timeout\n");
    setControl(n, "epoch", "1000000\n");
    setControl(n, "sleep-advances-epoch", "");
    const r = drain(n);
    expect(r.code).toBe(0);
    expect(r.output).toContain("drain timed out after 20 s; pods left: (the API server did not list them)");
    expect(readCalls(n).filter((c) => c.includes("get pods -A"))).toHaveLength(5);
  });

  test("a VM whose bootstrap has not finished has nothing to drain", () => {
    const n = node({ role: "worker", drain: "gce" });
    const r = drain(n);
    expect(r.code).toBe(0);
    expect(r.output).toContain("the bootstrap has not finished: nothing to drain");
    expect(readCalls(n).filter((c) => c.startsWith("kubectl "))).toEqual([]);
  });

  test("the worker's bootstrap installs no drain service (the shutdown script is GCE's)", () => {
    const n = node({ role: "worker", drain: "gce", apiUp: ["*"] });
    expect(runBootstrap(n).code).toBe(0);
    expect(fs.existsSync(inRoot(n, "/etc/systemd/system/cdktf-kubeadm-drain.service"))).toBe(false);
  });
});

test("a script without drain code (bare metal) refuses 'drain' in one line", () => {
  const n = node({ role: "worker", apiUp: ["*"] });
  const r = runBootstrap(n, {}, ["drain"]);
  expect(r.code).not.toBe(0);
  expect(r.lastLine).toMatch(/FAILED in step preflight: 'drain' runs on workers of AWS and GCE node pools only/);
});

describe("AWS: the cdktf-kubeadm-drain service and the group's termination hook", () => {
  const AUTOSCALING = "https://autoscaling.stub";
  const INSTANCE = "i-0123456789abcdef0";
  const seams = { ...SECRET_SEAMS, BOOTSTRAP_AUTOSCALING_ENDPOINT: AUTOSCALING };
  const watch = (n: NodeRoot): BootstrapRun => runBootstrap(n, seams, ["drain-watch"]);
  const aws = () => {
    // no launch hook in these settings: the bootstrap completes nothing before the drain tests
    const n = bootstrapped({ secrets: "aws-secretsmanager", drain: "aws" }, seams);
    // the full script, as the loader installed it
    fs.copyFileSync(inRoot(n, "/usr/local/sbin/cdktf-kubeadm-bootstrap"), n.script);
    const f = serveSecrets(n);
    const token = [`X-aws-ec2-metadata-token: ${f.imdsToken}`];
    httpRespond(n, `GET ${IMDS_ENDPOINT}/latest/meta-data/instance-id`, 200, INSTANCE, { require: token });
    return { n, f, token };
  };
  const continueCall = (n: NodeRoot) => readCalls(n).filter((c) => c.includes(AUTOSCALING));

  test("the bootstrap installs and starts the service that runs drain-watch", () => {
    const n = bootstrapped({ secrets: "aws-secretsmanager", drain: "aws" }, seams);
    const unit = fs.readFileSync(inRoot(n, "/etc/systemd/system/cdktf-kubeadm-drain.service"), "utf8");
    expect(unit).toContain("ExecStart=/usr/local/sbin/cdktf-kubeadm-bootstrap drain-watch");
    expect(unit).toContain("WantedBy=multi-user.target");
    const status = JSON.parse(fs.readFileSync(inRoot(n, "/var/lib/cdktf-kubeadm/status.json"), "utf8"));
    expect(status).toMatchObject({ phase: "done", result: "succeeded" });
    expect(fs.existsSync(inRoot(n, "/var/lib/cdktf-kubeadm/step-drain_watch.done"))).toBe(true);
  });

  test("waits while the group keeps the instance in service; on Terminated drains, then CONTINUEs the drain hook, SigV4-signed", () => {
    const { n, f, token } = aws();
    setNodePods(n, [APP]);
    httpRespond(n, `GET ${IMDS_ENDPOINT}/latest/meta-data/autoscaling/target-lifecycle-state`, 200, "InService", { times: 2, require: token });
    httpRespond(n, `GET ${IMDS_ENDPOINT}/latest/meta-data/autoscaling/target-lifecycle-state`, 200, "Terminated", { require: token });
    httpRespond(n, `GET ${IMDS_ENDPOINT}/latest/meta-data/spot/instance-action`, 404, "", { require: token });
    httpRespond(n, `POST ${AUTOSCALING}/`, 200, "<CompleteLifecycleActionResponse/>", {
      times: 1,
      require: [`user ${f.accessKeyId}:${f.secretAccessKey}`, `x-amz-security-token: ${f.sessionToken}`, "aws-sigv4 aws:amz:eu-west-1:autoscaling",
        `data Action=CompleteLifecycleAction&LifecycleActionResult=CONTINUE&LifecycleHookName=${AWS_DRAIN_SETTINGS.TERMINATION_HOOK}&AutoScalingGroupName=${AWS_DRAIN_SETTINGS.LIFECYCLE_GROUP}&InstanceId=${INSTANCE}&Version=2011-01-01`],
    });
    const r = watch(n);
    expect(r.code).toBe(0);
    const calls = readCalls(n);
    expect(calls.filter((c) => c.includes("target-lifecycle-state"))).toHaveLength(3);
    expect(evictions(n)).toEqual(["shop/web-1"]);
    expect(continueCall(n)).toHaveLength(1);
    expect(callIndex(calls, AUTOSCALING)).toBeGreaterThan(callIndex(calls, `delete node ${WORKER}`));
    expect(r.output).toContain("the autoscaling group is terminating this instance");
    expect(r.output).not.toMatch(/WARNING/);
    for (const secret of [f.secretAccessKey, f.sessionToken, f.imdsToken]) expect(calls.join("\n")).not.toContain(secret);
  });

  test("a Spot interruption notice drains at once, within 90 s; the hook is completed once, without a second drain", () => {
    const { n, token } = aws();
    setNodePods(n, [APP]);
    httpRespond(n, `GET ${IMDS_ENDPOINT}/latest/meta-data/autoscaling/target-lifecycle-state`, 200, "InService", { times: 1, require: token });
    httpRespond(n, `GET ${IMDS_ENDPOINT}/latest/meta-data/autoscaling/target-lifecycle-state`, 200, "Terminated", { require: token });
    httpRespond(n, `GET ${IMDS_ENDPOINT}/latest/meta-data/spot/instance-action`, 200, '{"action":"terminate","time":"2026-12-07T20:00:00Z"}', { require: token });
    httpRespond(n, `POST ${AUTOSCALING}/`, 200, "<CompleteLifecycleActionResponse/>", { times: 1 });
    const r = watch(n);
    expect(r.code).toBe(0);
    expect(r.output).toContain('Spot interruption notice: {"action":"terminate"');
    expect(r.output).toContain(`draining ${WORKER}: evictions for at most 90 s`);
    expect(readCalls(n).filter((c) => c.includes(`cordon ${WORKER}`))).toHaveLength(1);
    expect(continueCall(n)).toHaveLength(1);
  });

  test("a refused CONTINUE is retried, then logged: the hook's timeout (default CONTINUE) lets the group go on", () => {
    const { n, token } = aws();
    httpRespond(n, `GET ${IMDS_ENDPOINT}/latest/meta-data/autoscaling/target-lifecycle-state`, 200, "Terminated", { require: token });
    httpRespond(n, `POST ${AUTOSCALING}/`, 403, "<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>");
    const r = watch(n);
    expect(r.code).toBe(0);
    expect(continueCall(n).length).toBeGreaterThan(1);
    expect(r.output).toMatch(/WARNING: cannot complete lifecycle hook cdktf-kubeadm-drain: the lifecycle hook cdktf-kubeadm-drain of group prod-pool-general refused CONTINUE \(HTTP 403 AccessDenied\)/);
  });
});

describe("control-plane nodes of a cluster whose workers drain", () => {
  test("grant system:nodes the deletion of Nodes (NodeRestriction: their own only), before the timers", () => {
    const n = node({ role: "control-plane", drain: "aws", apiUp: ["*"] });
    const r = runBootstrap(n);
    expect(r.code).toBe(0);
    const rbac = appliedManifests(n).map((m) => JSON.parse(m)).find((m) => m.kind === "List");
    expect(rbac.items).toEqual([
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "cdktf-kubeadm:node-self-delete" }, rules: [{ apiGroups: [""], resources: ["nodes"], verbs: ["delete"] }] },
      {
        apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: "cdktf-kubeadm:node-self-delete" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cdktf-kubeadm:node-self-delete" },
        subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "system:nodes" }],
      },
    ]);
    const log = fs.readFileSync(inRoot(n, "/var/log/cdktf-kubeadm-bootstrap.log"), "utf8");
    expect(log.indexOf("[node_rbac] starting")).toBeLessThan(log.indexOf("[timers] starting"));
  });

  test("no grant without drain (bare metal)", () => {
    const n = node({ role: "control-plane", apiUp: ["*"] });
    expect(runBootstrap(n).code).toBe(0);
    expect(appliedManifests(n).join("\n")).not.toContain("node-self-delete");
  });
});
