/**
 * The upgrade agent (`cdktf-kubeadm-bootstrap upgrade`, control-plane nodes, systemd timer) and the
 * certificate renewal (`... certs`), run for real in the stub harness after a real bootstrap: the
 * desired version comes from the channel (SSM with IMDSv2 + SigV4, GCE project metadata, a file),
 * the Lease kube-system/cdktf-kubeadm-upgrade serializes nodes, status lands in a ConfigMap. Also
 * the worker's version-skew wait before `kubeadm join`.
 */
import * as fs from "fs";
import * as path from "path";
import { certificateRenewalDays } from "../src/bootstrap/cloud-init";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import {
  BootstrapRun, callIndex, createNodeRoot, DEFAULT_TOKEN, failCommand, GCE_UPGRADE_KEY, httpRespond, IMDS_ENDPOINT, inRoot, leaseHistory, NodeOptions, NodeRoot,
  readCalls, readLease, readUpgradeStatus, removeNodeRoot, resetCalls, runBootstrap, serveDesiredVersion, setControl, setLease, SSM_ENDPOINT, writeSettings,
  SSM_PARAMETER, UPGRADE_SEAMS, UpgradeChannelKind,
} from "./harness";

const nodes: NodeRoot[] = [];
afterAll(() => nodes.forEach(removeNodeRoot));

/** A bootstrapped control-plane node (slot 0, Kubernetes 1.36.4) whose repository also offers 1.37.1. */
function controlPlane(upgrade: UpgradeChannelKind = "aws-ssm", opts: NodeOptions = {}): NodeRoot {
  const n = createNodeRoot({ role: "control-plane", upgrade, kubeadmVersions: ["1.37.1-1.1", "1.36.4-1.1", "1.35.2-1.1"], ...opts });
  nodes.push(n);
  const boot = runBootstrap(n);
  expect(boot.lastLine).toMatch(/bootstrap succeeded$/);
  resetCalls(n);
  return n;
}
const agent = (n: NodeRoot, mode = "upgrade"): BootstrapRun => runBootstrap(n, UPGRADE_SEAMS, [mode]);
/** The agent's kubeadm commands, with the node's UpgradeConfiguration (patches, timeouts). */
const upgradeApply = (n: NodeRoot, version: string) => `kubeadm upgrade apply -y --config ${inRoot(n, NODE_LAYOUT.upgradeConfig)} v${version}`;
const upgradeNode = (n: NodeRoot) => `kubeadm upgrade node --config ${inRoot(n, NODE_LAYOUT.upgradeConfig)}`;
const LOG_SUFFIX = ". Log: /var/log/cdktf-kubeadm-upgrade.log";
const upgrading = (c: string) => /^(apt-get .* install|kubeadm upgrade|kubectl .* (drain|uncordon))/.test(c);

function expectFailure(r: BootstrapRun, step: string, reason: RegExp): void {
  expect(r.code).not.toBe(0);
  expect(r.lastLine.startsWith(`cdktf-kubeadm upgrade FAILED in step ${step}: `)).toBe(true);
  expect(r.lastLine.endsWith(LOG_SUFFIX)).toBe(true);
  expect(r.lastLine).toMatch(reason);
  expect(r.output.match(/FAILED/g)).toHaveLength(1);
}

describe("the bootstrap installs the timers on control-plane nodes", () => {
  test("certificate renewal always, the upgrade agent with a channel; workers get neither", () => {
    const n = createNodeRoot({ role: "control-plane", upgrade: "file" });
    nodes.push(n);
    expect(runBootstrap(n).code).toBe(0);
    const unit = (f: string) => fs.readFileSync(inRoot(n, `/etc/systemd/system/${f}`), "utf8");
    expect(unit("cdktf-kubeadm-upgrade.service")).toContain("ExecStart=/usr/local/sbin/cdktf-kubeadm-bootstrap upgrade");
    expect(unit("cdktf-kubeadm-upgrade.timer")).toMatch(/OnUnitInactiveSec=5min\nRandomizedDelaySec=2min/);
    expect(unit("cdktf-kubeadm-certs.service")).toContain("ExecStart=/usr/local/sbin/cdktf-kubeadm-bootstrap certs");
    expect(unit("cdktf-kubeadm-certs.timer")).toMatch(/OnCalendar=daily/);
    const calls = readCalls(n);
    expect(calls).toContain("systemctl enable --now cdktf-kubeadm-certs.timer cdktf-kubeadm-upgrade.timer");
    expect(callIndex(calls, "enable --now cdktf-kubeadm-certs")).toBeGreaterThan(callIndex(calls, "kubeadm init"));

    const plain = createNodeRoot({ role: "control-plane" });
    const w = createNodeRoot({ role: "worker", apiUp: ["*"] });
    nodes.push(plain, w);
    expect(runBootstrap(plain).code).toBe(0);
    expect(readCalls(plain)).toContain("systemctl enable --now cdktf-kubeadm-certs.timer");
    expect(fs.existsSync(inRoot(plain, "/etc/systemd/system/cdktf-kubeadm-upgrade.timer"))).toBe(false);
    expect(runBootstrap(w).code).toBe(0);
    expect(fs.existsSync(inRoot(w, "/etc/systemd/system"))).toBe(false);
    expect(fs.readFileSync(w.script, "utf8")).not.toMatch(/kubeadm upgrade|cdktf-kubeadm-upgrade|certs renew|step_timers/);
    const r = runBootstrap(w, {}, ["upgrade"]);
    expect(r.code).not.toBe(0);
    expect(r.lastLine).toMatch(/'upgrade' runs on control-plane nodes only/);
  });
});

describe("first control-plane node, SSM channel: 1.36.4 -> 1.37.1", () => {
  let n: NodeRoot;
  let r: BootstrapRun;
  let fixture: ReturnType<typeof serveDesiredVersion>;
  beforeAll(() => {
    n = controlPlane("aws-ssm");
    fixture = serveDesiredVersion(n, "1.37.1");
    r = agent(n);
  });

  test("succeeds", () => {
    expect(r.code).toBe(0);
    expect(r.output).toContain("upgraded prod-cp-0 to 1.37.1");
  });

  test("reads the parameter with IMDSv2 role credentials and a SigV4-signed GetParameter, no secret on a command line", () => {
    const calls = readCalls(n);
    const ssm = calls.filter((c) => c.startsWith("curl ") && c.includes(SSM_ENDPOINT));
    expect(ssm).toHaveLength(1);
    expect(ssm[0]).toContain("--aws-sigv4 aws:amz:eu-west-1:ssm");
    expect(ssm[0]).toContain("X-Amz-Target: AmazonSSM.GetParameter");
    expect(ssm[0]).toContain(`{"Name":"${SSM_PARAMETER}"}`);
    expect(callIndex(calls, `PUT ${IMDS_ENDPOINT}`) === -1 ? callIndex(calls, `${IMDS_ENDPOINT}/latest/api/token`) : 0).toBeLessThan(callIndex(calls, SSM_ENDPOINT));
    const all = calls.join("\n");
    for (const v of fixture.values) expect(all).not.toContain(v);
  });

  test("takes the Lease, upgrades in the kubeadm order, releases the Lease", () => {
    const calls = readCalls(n);
    const order = [
      /kubectl .* get lease cdktf-kubeadm-upgrade/, /kubectl .* create -f -/,
      /apt-get .* install --allow-change-held-packages kubeadm=1\.37\.1-1\.1$/, "apt-mark hold kubeadm",
      upgradeApply(n, "1.37.1"),
      /kubectl .* drain prod-cp-0 --ignore-daemonsets --delete-emptydir-data/,
      "apt-mark unhold kubelet kubectl", /apt-get .* install --allow-change-held-packages kubelet=1\.37\.1-1\.1 kubectl=1\.37\.1-1\.1$/,
      "systemctl daemon-reload", "systemctl restart kubelet", /kubectl .* get --raw=\/readyz$/, /kubectl .* uncordon prod-cp-0/,
    ];
    const writes = calls.map((c, i) => (/kubectl .* replace -f -/.test(c) ? i : -1)).filter((i) => i >= 0);
    // renewed after kubeadm upgrade apply and after the drain; released after the uncordon
    expect(writes).toHaveLength(3);
    expect(writes[0]).toBeGreaterThan(callIndex(calls, upgradeApply(n, "1.37.1")));
    expect(writes[0]).toBeLessThan(callIndex(calls, " drain prod-cp-0"));
    expect(writes[1]).toBeGreaterThan(callIndex(calls, " drain prod-cp-0"));
    expect(writes[1]).toBeLessThan(callIndex(calls, "apt-mark unhold kubelet kubectl"));
    expect(writes[2]).toBeGreaterThan(callIndex(calls, " uncordon prod-cp-0"));
    const idx = order.map((p) => callIndex(calls, p));
    idx.forEach((i, k) => expect([order[k], i]).not.toEqual([order[k], -1]));
    expect([...idx].sort((a, b) => a - b)).toEqual(idx);
    expect(callIndex(calls, "kubeadm upgrade node")).toBe(-1);
    // taken, renewed after the control-plane upgrade and after the drain, released
    expect(leaseHistory(n)).toEqual(["create prod-cp-0", "replace prod-cp-0", "replace prod-cp-0", "replace "]);
    expect(readLease(n)!.spec.holderIdentity).toBeUndefined();
  });

  test("switches the package repository to the new minor", () => {
    expect(fs.readFileSync(inRoot(n, "/etc/apt/sources.list.d/kubernetes.list"), "utf8")).toContain("https://pkgs.k8s.io/core:/stable:/v1.37/deb/ /");
  });

  test("status: ConfigMap key per node and the local file say succeeded", () => {
    const s = readUpgradeStatus(n)!;
    expect(s).toMatchObject({ from: "1.36.4", to: "1.37.1", phase: "done", result: "succeeded", error: null });
    expect(JSON.parse(fs.readFileSync(inRoot(n, NODE_LAYOUT.upgradeStatus), "utf8"))).toMatchObject({ result: "succeeded" });
  });

  test("the next run (desired == installed) does nothing and says nothing", () => {
    resetCalls(n);
    const again = agent(n);
    expect(again.code).toBe(0);
    expect(again.output).toBe("");
    expect(readCalls(n).filter((c) => c.startsWith("kubectl") || c.startsWith("apt-get") || c.startsWith("kubeadm upgrade"))).toEqual([]);
  });
});

describe("other nodes and the Lease", () => {
  test("a node of a cluster already at the desired version runs kubeadm upgrade node", () => {
    const n = controlPlane("aws-ssm");
    serveDesiredVersion(n, "1.37.1");
    setControl(n, "cluster-version", "v1.37.1");
    const r = agent(n);
    expect(r.code).toBe(0);
    const calls = readCalls(n);
    expect(calls).toContain(upgradeNode(n));
    expect(callIndex(calls, "kubeadm upgrade apply")).toBe(-1);
    expect(callIndex(calls, upgradeNode(n))).toBeLessThan(callIndex(calls, " drain prod-cp-0"));
    expect(leaseHistory(n)).toEqual(["create prod-cp-0", "replace prod-cp-0", "replace prod-cp-0", "replace "]);
  });

  test("without its UpgradeConfiguration the agent stops before kubeadm upgrade, Lease released", () => {
    const n = controlPlane("aws-ssm");
    serveDesiredVersion(n, "1.37.1");
    fs.rmSync(inRoot(n, NODE_LAYOUT.upgradeConfig));
    const r = agent(n);
    expectFailure(r, "control-plane", /kubeadm-upgrade\.yaml is missing: it is delivered with this node's files/);
    expect(callIndex(readCalls(n), "kubeadm upgrade")).toBe(-1);
    expect(leaseHistory(n)).toEqual(["create prod-cp-0", "replace "]);
  });

  test("a Lease held by another live node: no upgrade, exit 0, the Lease untouched", () => {
    const n = controlPlane("aws-ssm");
    serveDesiredVersion(n, "1.37.1");
    setLease(n, "prod-cp-1", 120);
    const r = agent(n);
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/prod-cp-1 holds the upgrade Lease for \d+s more: trying again at the next run/);
    expect(readCalls(n).filter(upgrading)).toEqual([]);
    expect(leaseHistory(n)).toEqual([]);
    expect(readUpgradeStatus(n)).toBeUndefined();
  });

  test("an expired Lease of another node is taken over (conditioned on its resourceVersion)", () => {
    const n = controlPlane("aws-ssm");
    serveDesiredVersion(n, "1.37.1");
    setLease(n, "prod-cp-1", 4000);
    expect(agent(n).code).toBe(0);
    expect(leaseHistory(n)).toEqual(["replace prod-cp-0", "replace prod-cp-0", "replace prod-cp-0", "replace "]);
    expect(readLease(n)!.metadata.resourceVersion).toBe("11");
  });

  test("losing the race for the Lease (conflict): no upgrade, exit 0", () => {
    const n = controlPlane("aws-ssm");
    serveDesiredVersion(n, "1.37.1");
    setLease(n, null);
    failCommand(n, "replace -f -", 1, "Error from server (Conflict): Operation cannot be fulfilled on leases.coordination.k8s.io \"cdktf-kubeadm-upgrade\": the object has been modified");
    const r = agent(n);
    expect(r.code).toBe(0);
    expect(r.output).toContain("another node wrote the upgrade Lease first");
    expect(readCalls(n).filter(upgrading)).toEqual([]);
  });
});

describe("an API server that does not answer while the Lease is renewed (it restarts after kubeadm upgrade)", () => {
  const REFUSED = "The connection to the server 10.0.0.10:6443 was refused - did you specify the right host or port?";

  test("is waited for, not taken for a lost Lease: the upgrade goes on (the VM e2e of 2026-12-07 failed there)", () => {
    const n = controlPlane("aws-ssm");
    serveDesiredVersion(n, "1.37.1");
    // kubeadm's first try times out; the renewal before its second meets the restarting API server twice
    failCommand(n, "kubeadm upgrade apply", 1, "[upgrade/addon] FATAL: context deadline exceeded");
    failCommand(n, "replace -f -", 2, REFUSED);
    const r = agent(n);
    expect(r.code).toBe(0);
    expect(r.output).toContain("WARNING: cannot write the upgrade Lease: The connection to the server 10.0.0.10:6443 was refused");
    expect(readCalls(n).filter((c) => c.startsWith("kubeadm upgrade apply"))).toHaveLength(2);
    expect(readUpgradeStatus(n)).toMatchObject({ phase: "done", result: "succeeded" });
  });

  test("an API server that never answers ends the upgrade with that reason, not a lost Lease", () => {
    const n = controlPlane("aws-ssm");
    serveDesiredVersion(n, "1.37.1");
    failCommand(n, "replace -f -", "always", REFUSED);
    const r = runBootstrap(n, { ...UPGRADE_SEAMS, BOOTSTRAP_WAIT_RETRIES: "3" }, ["upgrade"]);
    expectFailure(r, "control-plane", /cannot renew the upgrade Lease \(the API server did not answer 3 times\): stopping before the next step/);
    expect(callIndex(readCalls(n), " drain ")).toBe(-1);
  });
});

describe("failures leave the Lease released and a clear status", () => {
  test("the Lease cannot be renewed after the control-plane upgrade (taken over): stops before the drain, releases", () => {
    const n = controlPlane("aws-ssm");
    serveDesiredVersion(n, "1.37.1");
    // the first replace is the renewal (the take was a create)
    failCommand(n, "replace -f -", 1, 'Error from server (Conflict): Operation cannot be fulfilled on leases.coordination.k8s.io "cdktf-kubeadm-upgrade": the object has been modified');
    const r = agent(n);
    expectFailure(r, "control-plane", /cannot renew the upgrade Lease \(another node took it over\): stopping before the next step/);
    const calls = readCalls(n);
    expect(callIndex(calls, " drain ")).toBe(-1);
    expect(callIndex(calls, upgradeApply(n, "1.37.1"))).toBeGreaterThan(-1);
    expect(leaseHistory(n)).toEqual(["create prod-cp-0", "replace "]);
    expect(readUpgradeStatus(n)).toMatchObject({ phase: "control-plane", result: "failed" });
  });

  test("kubeadm upgrade apply fails: no drain, Lease released, status failed, exit non-zero", () => {
    const n = controlPlane("aws-ssm");
    serveDesiredVersion(n, "1.37.1");
    // (matches neither the status patch nor the error text, which name the command without -y)
    failCommand(n, "kubeadm upgrade apply -y", "always", "[upgrade/apply] FATAL: couldn't upgrade control plane. kubeadm has tried to recover everything into the earlier state.");
    const r = agent(n);
    expectFailure(r, "control-plane", /kubeadm upgrade apply v1\.37\.1 failed/);
    const calls = readCalls(n);
    expect(calls.filter((c) => c === upgradeApply(n, "1.37.1"))).toHaveLength(3); // tried 3 times
    expect(callIndex(calls, " drain ")).toBe(-1);
    expect(callIndex(calls, " uncordon ")).toBe(-1);
    expect(leaseHistory(n)).toEqual(["create prod-cp-0", "replace prod-cp-0", "replace prod-cp-0", "replace "]);
    expect(readUpgradeStatus(n)).toMatchObject({ from: "1.36.4", to: "1.37.1", phase: "control-plane", result: "failed", error: "kubeadm upgrade apply v1.37.1 failed" });
  });

  test("kubeadm upgrade apply failing once (an addon's request timing out on a slow API server) is run again, the Lease renewed first: kubeadm upgrade is idempotent", () => {
    const n = controlPlane("aws-ssm");
    serveDesiredVersion(n, "1.37.1");
    failCommand(n, "kubeadm upgrade apply -y", 1, 'error: error execution phase addon/coredns: unable to create a new DNS service: Post "https://10.0.0.11:6443/api/v1/namespaces/kube-system/services?timeout=10s": net/http: request canceled (Client.Timeout exceeded while awaiting headers)');
    const r = agent(n);
    expect(r.code).toBe(0);
    const calls = readCalls(n);
    expect(calls.filter((c) => c === upgradeApply(n, "1.37.1"))).toHaveLength(2);
    expect(r.output).toMatch(/attempt 1\/3 failed: kupgrade apply -y/);
    // take, the renewal before the retry, the renewals after the upgrade and the drain, the release
    expect(leaseHistory(n)).toEqual(["create prod-cp-0", "replace prod-cp-0", "replace prod-cp-0", "replace prod-cp-0", "replace "]);
    expect(readUpgradeStatus(n)).toMatchObject({ from: "1.36.4", to: "1.37.1", phase: "done", result: "succeeded" });
  });

  test("a failure after the drain uncordons the node (the old kubelet still runs) and releases the Lease", () => {
    const n = controlPlane("aws-ssm");
    serveDesiredVersion(n, "1.37.1");
    failCommand(n, "install --allow-change-held-packages kubelet=", "always", "E: Unable to fetch some archives");
    const r = agent(n);
    expectFailure(r, "kubelet", /installing kubelet=1\.37\.1-1\.1 kubectl=1\.37\.1-1\.1 failed/);
    const calls = readCalls(n);
    expect(callIndex(calls, " uncordon prod-cp-0")).toBeGreaterThan(callIndex(calls, " drain prod-cp-0"));
    expect(callIndex(calls, "restart kubelet")).toBe(-1);
    expect(leaseHistory(n)).toEqual(["create prod-cp-0", "replace prod-cp-0", "replace prod-cp-0", "replace "]);
    expect(readUpgradeStatus(n)).toMatchObject({ phase: "kubelet", result: "failed" });
  });

  test("the API server restarting after the kubelet restart (static pods re-created): waits for /readyz (BOOTSTRAP_WAIT_RETRIES 3), retries the uncordon and the final status", () => {
    const n = controlPlane("aws-ssm");
    serveDesiredVersion(n, "1.37.1");
    failCommand(n, "get --raw=/readyz", 2, "The connection to the server 10.0.0.11:6443 was refused");
    failCommand(n, "uncordon prod-cp-0", 1, "Unable to connect to the server: EOF");
    // the "done" write: patch, create (exists), patch again fail; the retry lands it
    failCommand(n, 'phase\\":\\"done', 2, "Unable to connect to the server: EOF");
    const r = agent(n);
    expect(r.code).toBe(0);
    const calls = readCalls(n);
    expect(calls.filter((c) => c.includes("get --raw=/readyz"))).toHaveLength(3);
    expect(calls.filter((c) => c.includes(" uncordon prod-cp-0"))).toHaveLength(2);
    expect(callIndex(calls, "get --raw=/readyz")).toBeGreaterThan(callIndex(calls, "restart kubelet"));
    expect(r.output).toMatch(/attempt 1\/\d+ failed: uput .*phase.*done/);
    expect(readUpgradeStatus(n)).toMatchObject({ from: "1.36.4", to: "1.37.1", phase: "done", result: "succeeded" });
  });

  test("an API server that never comes back after the kubelet restart fails the upgrade clearly", () => {
    const n = controlPlane("aws-ssm"); // the harness's BOOTSTRAP_WAIT_RETRIES is 3
    serveDesiredVersion(n, "1.37.1");
    failCommand(n, "get --raw=/readyz", "always", "The connection to the server 10.0.0.11:6443 was refused");
    expectFailure(agent(n), "uncordon", /the API server is not ready after the kubelet restart/);
  });

  test("the next run after a failure resumes (the kubeadm package is already new)", () => {
    const n = controlPlane("aws-ssm");
    serveDesiredVersion(n, "1.37.1");
    failCommand(n, "drain prod-cp-0", 1, "error: cannot evict pod as it would violate the pod's disruption budget");
    expectFailure(agent(n), "drain", /kubectl drain prod-cp-0 failed/);
    resetCalls(n);
    const r = agent(n);
    expect(r.code).toBe(0);
    const calls = readCalls(n);
    expect(calls).toContain(upgradeNode(n));
    expect(callIndex(calls, " uncordon prod-cp-0")).toBeGreaterThan(-1);
    expect(readUpgradeStatus(n)).toMatchObject({ from: "1.36.4", to: "1.37.1", result: "succeeded" });
  });

  test.each([
    ["a downgrade", "1.35.2", /the desired version 1\.35\.2 is older than the installed 1\.36\.4: kubeadm cannot downgrade/],
    ["a skipped minor", "1.38.0", /the desired version 1\.38\.0 skips a minor version after 1\.36\.4: upgrade one minor at a time/],
    ["not a version", "latest", /the desired version 'latest' \(aws-ssm\) is not a version like 1\.37\.1/],
  ])("%s is refused before the Lease", (_name, version, reason) => {
    const n = controlPlane("aws-ssm");
    serveDesiredVersion(n, version);
    const r = agent(n);
    expectFailure(r, "check", reason);
    expect(readCalls(n).filter(upgrading)).toEqual([]);
    expect(leaseHistory(n)).toEqual([]);
    expect(readUpgradeStatus(n)).toMatchObject({ phase: "check", result: "failed" });
  });

  test("a missing SSM parameter is one clear line", () => {
    const n = controlPlane("aws-ssm");
    serveDesiredVersion(n, null);
    expectFailure(agent(n), "check", /SSM parameter \/cdktf-kubeadm\/prod\/kubernetes-version does not exist \(HTTP 400 ParameterNotFound\): check UPGRADE_PARAMETER and UPGRADE_REGION/);
  });
});

describe("other channels", () => {
  test("GCE: the project metadata key, asked with Metadata-Flavor: Google", () => {
    const n = controlPlane("gce-metadata");
    serveDesiredVersion(n, "1.37.1");
    expect(agent(n).code).toBe(0);
    const calls = readCalls(n);
    expect(calls.some((c) => c.includes(`${IMDS_ENDPOINT}/computeMetadata/v1/project/attributes/${GCE_UPGRADE_KEY}`) && c.includes("Metadata-Flavor: Google"))).toBe(true);
    expect(calls).toContain(upgradeApply(n, "1.37.1"));
  });

  test("file (bare metal): absent -> nothing to do; written by the provisioner -> upgrade", () => {
    const n = controlPlane("file");
    const r = agent(n);
    expect(r.code).toBe(0);
    expect(r.output).toContain("desired-version does not exist: nothing to do");
    expect(readCalls(n).filter(upgrading)).toEqual([]);
    serveDesiredVersion(n, "v1.36.5");
    setControl(n, "madison-kubeadm", "   kubeadm | 1.36.5-1.1 | https://pkgs.k8s.io/core:/stable:/v1.36/deb  Packages\n");
    expect(agent(n).code).toBe(0);
    expect(readCalls(n)).toContain(upgradeApply(n, "1.36.5"));
    expect(fs.readFileSync(inRoot(n, "/etc/apt/sources.list.d/kubernetes.list"), "utf8")).toContain("/v1.36/deb/");
  });

  test("before the bootstrap finished, the agent does nothing", () => {
    const n = controlPlane("aws-ssm");
    serveDesiredVersion(n, "1.37.1");
    fs.rmSync(path.join(inRoot(n, NODE_LAYOUT.stateDir), "done"));
    const r = agent(n);
    expect(r.code).toBe(0);
    expect(readCalls(n).filter((c) => c.startsWith("curl") || upgrading(c))).toEqual([]);
  });
});

describe("certificate renewal", () => {
  const expiry = (days: number) => JSON.stringify({ kind: "CertificateExpirationInfo", certificates: [
    { name: "apiserver", expirationDate: new Date(Date.now() + days * 86400_000).toISOString().replace(/\.\d+Z$/, "Z") },
    { name: "admin.conf", expirationDate: "2099-01-01T00:00:00Z" }, { name: "front-proxy-client", missing: true, expirationDate: "0001-01-01T00:00:00Z" }] });

  test("nothing to do when every certificate has 90 days or more", () => {
    const n = controlPlane("aws-ssm");
    setControl(n, "certs-expiry", expiry(200));
    const r = agent(n, "certs");
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/the first certificate expires in (199|200) days \(renewal within 90\): nothing to renew/);
    expect(callIndex(readCalls(n), "kubeadm certs renew")).toBe(-1);
  });

  test("within 90 days: holding the Lease, renew all and restart the static pods", () => {
    const n = controlPlane();
    setControl(n, "certs-expiry", expiry(30));
    const r = agent(n, "certs");
    expect(r.code).toBe(0);
    const calls = readCalls(n);
    expect(callIndex(calls, "kubeadm certs renew all")).toBeGreaterThan(callIndex(calls, "create -f -"));
    expect(callIndex(calls, "fake-sleep 20")).toBeGreaterThan(callIndex(calls, "kubeadm certs renew all"));
    expect(leaseHistory(n)).toEqual(["create prod-cp-0", "replace "]);
    expect(fs.readdirSync(inRoot(n, "/etc/kubernetes/manifests")).sort()).toEqual(["etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml"]);
  });
});

describe("certificate renewal of short-lived certificates (pki.certificateValidityHours 720: 30 days)", () => {
  const expiry = (days: number) => JSON.stringify({ kind: "CertificateExpirationInfo", certificates: [
    { name: "apiserver", expirationDate: new Date(Date.now() + days * 86400_000).toISOString().replace(/\.\d+Z$/, "Z") }] });
  const monthly = () => controlPlane("aws-ssm", { settings: { CERT_RENEW_DAYS: String(certificateRenewalDays(720)) } });

  test("a fresh 30-day certificate is left alone (a fixed 90 days renewed it, and restarted etcd, every day)", () => {
    const n = monthly();
    setControl(n, "certs-expiry", expiry(25));
    const r = agent(n, "certs");
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/expires in 2[45] days \(renewal within 10\): nothing to renew/);
    expect(callIndex(readCalls(n), "kubeadm certs renew")).toBe(-1);
    expect(leaseHistory(n)).toEqual([]);
  });

  test("with a third of its lifetime left it is renewed", () => {
    const n = monthly();
    setControl(n, "certs-expiry", expiry(9));
    expect(agent(n, "certs").code).toBe(0);
    expect(callIndex(readCalls(n), "kubeadm certs renew all")).toBeGreaterThan(-1);
  });
});

describe("workers wait for the API server's version (version-skew policy)", () => {
  const worker = () => {
    const n = createNodeRoot({ role: "worker", apiUp: ["*"], kubeadmVersions: ["1.37.1-1.1"],
      settings: { K8S_VERSION: "1.37.1", K8S_MINOR: "1.37", PKG_REPO_URL: "https://pkgs.k8s.io/core:/stable:/v1.37/deb/" } });
    nodes.push(n);
    return n;
  };
  const older = '{"major":"1","minor":"36","gitVersion":"v1.36.4"}';

  test("an older API server for two tries, then a new one: the join proceeds", () => {
    const n = worker();
    httpRespond(n, "GET https://10.0.0.100:6443/version", 200, older, { times: 2 });
    setControl(n, "api-version", '{"major":"1","minor":"37","gitVersion":"v1.37.1"}');
    const r = runBootstrap(n);
    expect(r.code).toBe(0);
    expect(r.output.match(/reports Kubernetes 1\.36, older than this node's 1\.37: waiting/g)).toHaveLength(2);
    const calls = readCalls(n);
    expect(calls.filter((c) => c.includes("/version"))).toHaveLength(3);
    const lastVersionCall = calls.map((c, i) => (c.includes("/version") ? i : -1)).reduce((a, b) => Math.max(a, b));
    expect(lastVersionCall).toBeLessThan(callIndex(calls, "kubeadm join"));
  });

  test("an API server that never reaches the node's version: clear failure, no join", () => {
    const n = worker();
    setControl(n, "api-version", older);
    const r = runBootstrap(n);
    expect(r.code).not.toBe(0);
    expect(r.lastLine).toMatch(/^cdktf-kubeadm bootstrap FAILED in step cluster: the API server at 10\.0\.0\.100:6443 still reports Kubernetes 1\.36 after 3 attempts, older than this node's 1\.37: a kubelet must not be newer than the API server; upgrade the control plane first/);
    expect(callIndex(readCalls(n), "kubeadm join")).toBe(-1);
    expect(callIndex(readCalls(n), "shutdown")).toBe(-1);
  });

  describe("and for every control-plane Node's kubelet (CP_NODES): one upgraded API server behind the load balancer is not enough", () => {
    const CP = ["prod-cp-0", "prod-cp-1", "prod-cp-2"];
    const node = (version: string) => JSON.stringify({ kind: "Node", status: { nodeInfo: { kubeletVersion: `v${version}`, kubeProxyVersion: "" } } });
    const serveNodes = (n: ReturnType<typeof worker>, answers: Record<string, [number, string, number | "always"][]>) => {
      for (const [name, list] of Object.entries(answers)) {
        for (const [status, version, times] of list) {
          httpRespond(n, `GET https://10.0.0.100:6443/api/v1/nodes/${name}`, status, status === 200 ? node(version) : "{}", { times, require: [`Authorization: Bearer ${DEFAULT_TOKEN}`] });
        }
      }
    };

    test("a slot still on 1.36 holds the join until its kubelet reports 1.37; a missing slot does not; the token stays off command lines", () => {
      const n = worker();
      writeSettings(n, { CP_NODES: CP.join(" ") });
      setControl(n, "api-version", '{"major":"1","minor":"37","gitVersion":"v1.37.1"}');
      serveNodes(n, { "prod-cp-0": [[200, "1.37.1", "always"]], "prod-cp-1": [[200, "1.36.4", 2], [200, "1.37.1", "always"]], "prod-cp-2": [[404, "", "always"]] });
      const r = runBootstrap(n);
      expect(r.code).toBe(0);
      expect(r.output.match(/control-plane node prod-cp-1 runs Kubernetes 1\.36, older than this node's 1\.37: waiting for every control-plane node's upgrade/g)).toHaveLength(2);
      const calls = readCalls(n);
      expect(calls.filter((c) => c.includes("/api/v1/nodes/prod-cp-1"))).toHaveLength(3);
      expect(calls.filter((c) => c.includes("/api/v1/nodes/prod-cp-2")).length).toBeGreaterThan(0);
      const lastNodeCall = calls.map((c, i) => (c.includes("/api/v1/nodes/") ? i : -1)).reduce((a, b) => Math.max(a, b));
      expect(lastNodeCall).toBeLessThan(callIndex(calls, "kubeadm join"));
      expect(calls.join("\n")).not.toContain(DEFAULT_TOKEN);
    });

    test("a slot that never upgrades (or a denied token): a failure naming the node and its version, no join", () => {
      const n = worker();
      writeSettings(n, { CP_NODES: CP.join(" ") });
      setControl(n, "api-version", '{"major":"1","minor":"37","gitVersion":"v1.37.1"}');
      serveNodes(n, { "prod-cp-0": [[200, "1.36.4", "always"]] });
      const r = runBootstrap(n);
      expect(r.code).not.toBe(0);
      expect(r.lastLine).toMatch(/^cdktf-kubeadm bootstrap FAILED in step cluster: control-plane node prod-cp-0 still runs Kubernetes 1\.36 after 3 attempts, older than this node's 1\.37: workers join only once every control-plane node is upgraded/);
      expect(callIndex(readCalls(n), "kubeadm join")).toBe(-1);

      const denied = worker();
      writeSettings(denied, { CP_NODES: CP.join(" ") });
      setControl(denied, "api-version", '{"major":"1","minor":"37","gitVersion":"v1.37.1"}');
      httpRespond(denied, "GET https://10.0.0.100:6443/api/v1/nodes/prod-cp-0", 403, '{"kind":"Status","code":403}');
      const d = runBootstrap(denied);
      expect(d.output).toContain("control-plane node prod-cp-0 runs Kubernetes (unknown: HTTP 403)");
      expect(d.lastLine).toMatch(/control-plane node prod-cp-0 still runs Kubernetes \(unknown\) after 3 attempts/);
    });
  });

  test("with POWEROFF_MINUTES (AWS, GCE) the worker that never joined powers off, so that its group replaces it", () => {
    const n = worker();
    writeSettings(n, { POWEROFF_MINUTES: "10" });
    setControl(n, "api-version", older);
    const r = runBootstrap(n);
    expect(r.code).not.toBe(0);
    expect(r.lastLine).toMatch(/^cdktf-kubeadm bootstrap FAILED in step cluster: the API server at 10\.0\.0\.100:6443 still reports Kubernetes 1\.36/);
    expect(r.output).toContain("powering off in 10 minutes so that the group replaces this worker ('shutdown -c' keeps it)");
    expect(readCalls(n)).toContain("shutdown -h +10 cdktf-kubeadm bootstrap failed");
    expect(r.output.match(/FAILED/g)).toHaveLength(1);
  });
});
