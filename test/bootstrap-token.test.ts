/**
 * Join-token rotation on the node side: the control plane's token agent (timer cdktf-kubeadm-token,
 * with a secret store) registers the bundle's token as a bootstrap token Secret and deletes the
 * cdktf-kubeadm tokens it replaced; a worker waits until the cluster knows its token (cluster-info
 * carries a signature for it) before it joins. Run for real against the stub kubectl (a tiny
 * Secret store) and the stub secret store.
 */
import * as fs from "fs";
import * as path from "path";
import {
  BootstrapRun, DEFAULT_TOKEN, httpRespond, inRoot, NodeOptions, NodeRoot, readCalls, readLog,
  resetCalls, runBootstrap, SECRET_SEAMS, serveSecrets, setControl, suiteNodes,
} from "./harness";

const node = suiteNodes();

const ROTATED = "zyxwvu.fedcba9876543210";
const DESCRIPTION = "cdktf-kubeadm node join token";

interface TokenSecret {
  metadata: { name: string; namespace: string };
  type: string;
  stringData: Record<string, string>;
}

/** A bootstrap token Secret in the stub API (as kubeadm init or the agent leaves it). */
function putTokenSecret(n: NodeRoot, token: string, description = DESCRIPTION): void {
  const [id, secret] = token.split(".");
  setControl(n, `secrets/bootstrap-token-${id}.json`, JSON.stringify({
    apiVersion: "v1", kind: "Secret", type: "bootstrap.kubernetes.io/token",
    metadata: { name: `bootstrap-token-${id}`, namespace: "kube-system" },
    stringData: { description, "token-id": id, "token-secret": secret, "usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true" },
  }));
}

function tokenSecrets(n: NodeRoot): Record<string, TokenSecret> {
  const dir = path.join(n.ctl, "secrets");
  if (!fs.existsSync(dir)) return {};
  return Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f.replace(/\.json$/, ""), JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"))]));
}

/** The store now holds a bundle with `token` (what a deploy after bootstrapTokenRotation writes). */
function rotateTo(n: NodeRoot, token: string): void {
  fs.rmSync(path.join(n.ctl, "http"), { recursive: true, force: true });
  serveSecrets(n, { secret: JSON.stringify({ ...JSON.parse(n.bundle!), bootstrapToken: token }) });
}

/** A bootstrapped control-plane node with a secret store; the cluster holds kubeadm init's token. */
function bootstrapped(opts: NodeOptions = {}): NodeRoot {
  const n = node({ role: "control-plane", secrets: "aws-secretsmanager", ...opts });
  serveSecrets(n);
  expect(runBootstrap(n, SECRET_SEAMS).code).toBe(0);
  putTokenSecret(n, DEFAULT_TOKEN);
  putTokenSecret(n, "aaaaaa.0000000000000000", "a token someone else made");
  resetCalls(n);
  return n;
}

const agent = (n: NodeRoot): BootstrapRun => runBootstrap(n, SECRET_SEAMS, ["token"]);

describe("the token agent on a control-plane node", () => {
  test("the bootstrap installs its timer (every 5 minutes) with a secret store, not without (bare metal: the provisioner runs it)", () => {
    const n = bootstrapped();
    const unit = (f: string) => fs.readFileSync(inRoot(n, `/etc/systemd/system/${f}`), "utf8");
    expect(unit("cdktf-kubeadm-token.service")).toContain("ExecStart=/usr/local/sbin/cdktf-kubeadm-bootstrap token");
    expect(unit("cdktf-kubeadm-token.timer")).toMatch(/OnUnitInactiveSec=5min/);
    const plain = node({ role: "control-plane" });
    expect(runBootstrap(plain).code).toBe(0);
    expect(fs.existsSync(inRoot(plain, "/etc/systemd/system/cdktf-kubeadm-token.timer"))).toBe(false);
  });

  test("without a secret store (bare metal) the token comes from the join config the provisioner delivered", () => {
    const n = node({ role: "control-plane", upgrade: "file" });
    expect(runBootstrap(n).code).toBe(0);
    putTokenSecret(n, "oldold.0000000000000000");
    fs.writeFileSync(inRoot(n, "/etc/cdktf-kubeadm/kubeadm-join.yaml"), fs.readFileSync(inRoot(n, "/etc/cdktf-kubeadm/kubeadm-join.yaml"), "utf8").replace(DEFAULT_TOKEN, ROTATED));
    const r = runBootstrap(n, {}, ["token"]);
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/registered join token zyxwvu from \S*\/etc\/cdktf-kubeadm\/kubeadm-join\.yaml/);
    expect(Object.keys(tokenSecrets(n))).toEqual(["bootstrap-token-zyxwvu"]);
    expect(readCalls(n).join("\n")).not.toContain("fedcba9876543210");
  });

  test("the token in the bundle is registered already: nothing changes", () => {
    const n = bootstrapped();
    const before = tokenSecrets(n);
    const r = agent(n);
    expect(r.code).toBe(0);
    expect(tokenSecrets(n)).toEqual(before);
    expect(readCalls(n).filter((c) => / (apply|delete) /.test(c))).toEqual([]);
  });

  test("after a rotation: registers the new token, deletes the one it replaced, leaves other tokens alone", () => {
    const n = bootstrapped();
    rotateTo(n, ROTATED);
    const r = agent(n);
    expect(r.code).toBe(0);
    const secrets = tokenSecrets(n);
    expect(Object.keys(secrets)).toEqual(["bootstrap-token-aaaaaa", "bootstrap-token-zyxwvu"]);
    expect(secrets["bootstrap-token-zyxwvu"]).toEqual({
      apiVersion: "v1", kind: "Secret", type: "bootstrap.kubernetes.io/token",
      metadata: { name: "bootstrap-token-zyxwvu", namespace: "kube-system" },
      stringData: {
        description: DESCRIPTION, "token-id": "zyxwvu", "token-secret": "fedcba9876543210", "usage-bootstrap-authentication": "true",
        "usage-bootstrap-signing": "true", "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token",
      },
    });
    const lines = r.output.split("\n");
    const registered = lines.findIndex((l) => /\[token\] registered join token zyxwvu from secret arn:/.test(l));
    const deleted = lines.findIndex((l) => /\[token\] deleted join token abcdef, replaced by zyxwvu/.test(l));
    expect(registered).toBeGreaterThanOrEqual(0);
    expect(deleted).toBeGreaterThan(registered); // the new one first: joining nodes always have a valid token
    // the token secret never on a command line or in the log
    for (const text of [readCalls(n).join("\n"), readLog(n), fs.readFileSync(inRoot(n, "/var/log/cdktf-kubeadm-token.log"), "utf8")]) {
      expect(text).not.toContain("fedcba9876543210");
      expect(text).not.toContain(DEFAULT_TOKEN.split(".")[1]);
    }
    expect(fs.existsSync(inRoot(n, "/run/cdktf-kubeadm/s"))).toBe(false);
    // the next run has nothing to do
    resetCalls(n);
    expect(agent(n).code).toBe(0);
    expect(readCalls(n).filter((c) => / (apply|delete) /.test(c))).toEqual([]);
  });

  test("with bootstrapTokenTtl the registered token expires that long after registration", () => {
    const epoch = 1_796_000_000;
    const n = bootstrapped({ epoch, settings: { BOOTSTRAP_TOKEN_TTL: "86400" } });
    rotateTo(n, ROTATED);
    expect(agent(n).code).toBe(0);
    expect(tokenSecrets(n)["bootstrap-token-zyxwvu"].stringData.expiration).toBe(new Date((epoch + 86400) * 1000).toISOString().replace(/\.000Z$/, "Z"));
  });

  test("a store that does not answer: one clear line, nothing registered or deleted", () => {
    const n = bootstrapped();
    fs.rmSync(path.join(n.ctl, "http"), { recursive: true, force: true });
    serveSecrets(n, { store: (m) => httpRespond(n, m, 500, "{}") });
    const before = tokenSecrets(n);
    const r = agent(n);
    expect(r.code).not.toBe(0);
    expect(r.lastLine).toMatch(/^cdktf-kubeadm token FAILED in step token: cannot read secret arn:\S+: reading secret .*HTTP 500\. Log: \/var\/log\/cdktf-kubeadm-token\.log$/);
    expect(tokenSecrets(n)).toEqual(before);
  });

  test("the agent does nothing before the bootstrap has finished", () => {
    const n = node({ role: "control-plane", secrets: "gce-secretmanager" });
    const r = agent(n);
    expect(r.code).toBe(0);
    expect(readCalls(n).filter((c) => c.startsWith("kubectl "))).toEqual([]);
  });
});

describe("a worker waits until the cluster knows its join token", () => {
  const info = (ids: string[]) => JSON.stringify({ kind: "ConfigMap", data: Object.fromEntries([...ids.map((id) => [`jws-kubeconfig-${id}`, "sig"]), ["kubeconfig", "stub"]]) });

  test("a signature for its token appears after two checks: it waits, then joins", () => {
    const n = node({ role: "worker", apiUp: ["*"] });
    httpRespond(n, "GET https://10.0.0.100:6443/api/v1/namespaces/kube-public/configmaps/cluster-info", 200, info(["aaaaaa"]), { times: 2 });
    const r = runBootstrap(n);
    expect(r.code).toBe(0);
    expect(r.output.match(/cluster-info at 10\.0\.0\.100:6443 has no signature for join token abcdef yet: waiting for the control plane to register it/g)).toHaveLength(2);
    const calls = readCalls(n);
    expect(calls.filter((c) => c.includes("/configmaps/cluster-info"))).toHaveLength(3);
    expect(calls.findIndex((c) => c.includes("/configmaps/cluster-info"))).toBeLessThan(calls.findIndex((c) => c.startsWith("kubeadm join")));
    expect(calls.join("\n")).not.toContain(DEFAULT_TOKEN.split(".")[1]);
  });

  test("a token the cluster never learns (expired, never registered) fails in one line naming the fix, before kubeadm join", () => {
    const n = node({ role: "worker", apiUp: ["*"] });
    httpRespond(n, "GET https://10.0.0.100:6443/api/v1/namespaces/kube-public/configmaps/cluster-info", 200, info(["aaaaaa"]));
    const r = runBootstrap(n);
    expect(r.code).not.toBe(0);
    expect(r.lastLine).toMatch(/^cdktf-kubeadm bootstrap FAILED in step cluster: the cluster at 10\.0\.0\.100:6443 does not know join token abcdef after 3 attempts: it expired \(bootstrapTokenTtl\) or was never registered; rotate it \(bootstrapTokenRotation\) and deploy\. Log: /);
    expect(readCalls(n).filter((c) => c.startsWith("kubeadm join"))).toEqual([]);
  });
});
