/**
 * The bootstrap script's `secrets` step (SECRETS_SOURCE set): CA keys and the join token come from
 * AWS Secrets Manager (IMDSv2 role credentials, SigV4) or GCE Secret Manager (metadata token),
 * run for real against the stub curl, which answers like the metadata servers and stores do and
 * only when the request carries the right token / credentials.
 */
import * as fs from "fs";
import * as path from "path";
import { caCertHash, generateClusterPki } from "../src/bootstrap/pki";
import { resolveCluster } from "../src/bootstrap/resolve-cluster";
import { renderInitConfig, renderJoinConfig } from "../src/bootstrap/kubeadm-config";
import { scriptForBundle } from "../src/bootstrap/bootstrap-script";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import { packScript } from "../src/bootstrap/pack-script";
import { BOOTSTRAP_TOKEN_PLACEHOLDER, secretBundle } from "../src/bootstrap/secret-bundle";
import {
  AWS_SECRET_ARN, BOOTSTRAP_SCRIPT, BootstrapRun, callIndex, failCommand, GCE_SECRET_VERSION, httpRespond, IMDS_ENDPOINT, inRoot,
  NodeRoot, readCalls, readLog, readStatus, resetCalls, runBootstrap, SECRET_SEAMS, SecretFixture,
  SecretStoreKind, serveSecrets, sha256, suiteNodes, writeSettings,
} from "./harness";

const node = suiteNodes();

const run = (n: NodeRoot): BootstrapRun => runBootstrap(n, SECRET_SEAMS);
const KEYS = ["ca.key", "front-proxy-ca.key", "etcd/ca.key", "sa.key"];
const pkiPath = (n: NodeRoot, f: string) => path.join(inRoot(n, NODE_LAYOUT.pkiDir), f);
const mode = (file: string) => fs.statSync(file).mode & 0o777;
const isStoreCall = (c: string) => c.startsWith("curl ") && c.includes("https://secrets.stub/");
const isMetadataCall = (c: string) => c.startsWith("curl ") && c.includes(IMDS_ENDPOINT);
const LOG_SUFFIX = ". Log: /var/log/cdktf-kubeadm-bootstrap.log";

function expectFailure(r: BootstrapRun, reason: RegExp): void {
  expect(r.code).not.toBe(0);
  expect(r.lastLine.startsWith("cdktf-kubeadm bootstrap FAILED in step secrets: ")).toBe(true);
  expect(r.lastLine.endsWith(LOG_SUFFIX)).toBe(true);
  expect(r.lastLine).toMatch(reason);
  expect(r.output.match(/bootstrap FAILED/g)).toHaveLength(1);
}

/** Neither a command line nor the log carries a secret. */
function expectNoSecretLeak(n: NodeRoot, fixture: SecretFixture): void {
  const calls = readCalls(n).join("\n");
  const log = readLog(n);
  for (const value of [...fixture.values, n.keySecret, n.token, "PRIVATE KEY"]) {
    expect(calls).not.toContain(value);
    expect(log).not.toContain(value);
  }
}

const STORES: [SecretStoreKind, string][] = [["aws-secretsmanager", AWS_SECRET_ARN], ["gce-secretmanager", GCE_SECRET_VERSION]];

describe.each(STORES)("%s", (kind, secretId) => {
  describe("control-plane node", () => {
    let n: NodeRoot;
    let fixture: SecretFixture;
    let first: BootstrapRun;
    beforeAll(() => {
      n = node({ role: "control-plane", slot: 0, secrets: kind });
      fixture = serveSecrets(n);
      first = run(n);
    });

    test("succeeds: the loader in user data fetches the bundle once; the full script runs preflight, installs the bundle, then the rest", () => {
      expect(first.code).toBe(0);
      expect(first.lastLine).toMatch(/bootstrap succeeded$/);
      const calls = readCalls(n);
      const store = calls.findIndex((c) => isStoreCall(c));
      expect(calls.findIndex((c) => isMetadataCall(c))).toBeLessThan(store);
      expect(store).toBeLessThan(callIndex(calls, "ss -Htln"));
      expect(callIndex(calls, "ss -Htln")).toBeLessThan(callIndex(calls, /^apt-get /));
      expect(calls.filter(isStoreCall)).toHaveLength(1);
      const lines = first.lines;
      const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
      expect(at(/\[secrets\] fetching the bootstrap script from /)).toBe(0);
      expect(at(/\[secrets\] installed the bootstrap script; handing over/)).toBeLessThan(at(/\[preflight\] starting/));
      expect(at(/\[preflight\] starting/)).toBeLessThan(at(new RegExp(`\\[secrets\\] installed the bootstrap token and 8 files from ${secretId.replace(/[/:]/g, "\\$&")}`)));
      expect(at(/\[secrets\] installed the bootstrap token/)).toBeLessThan(at(/\[install\] starting/));
    });

    test("the full script from the bundle replaced the loader (0755): later runs and the timers run it", () => {
      const installed = fs.readFileSync(n.script, "utf8");
      expect(sha256(installed)).toBe(n.settings.BOOTSTRAP_SHA256);
      expect(installed).toContain("step_install()");
      expect(mode(n.script)).toBe(0o755);
      expect(fs.existsSync(`${n.script}.t`)).toBe(false);
    });

    test("the log has each line once (the loader's pipeline is closed before the hand-over); status keeps the loader's start", () => {
      const log = readLog(n).split("\n").filter((l) => l.length > 0);
      expect(log.filter((l) => l.includes("installed the bootstrap token"))).toHaveLength(1);
      expect(log.filter((l) => l.includes("bootstrap succeeded"))).toHaveLength(1);
      const loaderStart = /^(\S+) \[secrets\] fetching the bootstrap script/.exec(log[0]!);
      expect(loaderStart).not.toBeNull();
      expect(readStatus(n)).toMatchObject({ phase: "done", result: "succeeded" });
      expect(Date.parse(readStatus(n).started)).toBeLessThanOrEqual(Date.parse(loaderStart![1].replace(/([+-]\d\d)(\d\d)$/, "$1:$2")));
    });

    test("writes every key with mode 0600, the certificates 0644, with the content of the bundle (user data has none)", () => {
      for (const f of KEYS) {
        expect(mode(pkiPath(n, f))).toBe(0o600);
        expect(fs.readFileSync(pkiPath(n, f), "utf8")).toBe(`-----BEGIN PRIVATE KEY-----\n${n.keySecret}-${f}\n-----END PRIVATE KEY-----\n`);
      }
      for (const f of ["ca.crt", "front-proxy-ca.crt", "etcd/ca.crt", "sa.pub"]) {
        expect(mode(pkiPath(n, f))).toBe(0o644);
        expect(fs.readFileSync(pkiPath(n, f), "utf8")).toContain(`stub ${f}`);
      }
      expect(mode(inRoot(n, NODE_LAYOUT.pkiDir))).toBe(0o755);
      expect(fs.readdirSync(path.join(inRoot(n, NODE_LAYOUT.pkiDir), "etcd")).filter((f) => f.endsWith(".t"))).toEqual([]);
    });

    test("puts the token in place of the placeholder in both kubeadm configs (still 0600)", () => {
      for (const file of [NODE_LAYOUT.initConfig, NODE_LAYOUT.joinConfig]) {
        const text = fs.readFileSync(inRoot(n, file), "utf8");
        expect(text).toContain(`token: ${n.token}`);
        expect(text).not.toContain(BOOTSTRAP_TOKEN_PLACEHOLDER);
        expect(mode(inRoot(n, file))).toBe(0o600);
      }
    });

    test("no secret on a command line or in the log; the temporary files are gone", () => {
      expectNoSecretLeak(n, fixture);
      expect(fs.existsSync(inRoot(n, "/run/cdktf-kubeadm/s"))).toBe(false);
    });

    test("a re-run after success is a no-op", () => {
      resetCalls(n);
      const again = run(n);
      expect(again.code).toBe(0);
      expect(again.lastLine).toMatch(/already bootstrapped/);
      expect(readCalls(n).filter((c) => c.startsWith("curl "))).toEqual([]);
    });
  });

  test("worker: the bundle has the token and the CA certificate only; the join config gets the token", () => {
    const n = node({ role: "worker", secrets: kind, apiUp: ["*"] });
    const fixture = serveSecrets(n);
    const r = run(n);
    expect(r.code).toBe(0);
    expect(r.output).toContain(`installed the bootstrap token and 1 files from ${secretId}`);
    const join = fs.readFileSync(inRoot(n, NODE_LAYOUT.joinConfig), "utf8");
    expect(join).toContain(`token: ${n.token}`);
    expect(join).not.toContain(BOOTSTRAP_TOKEN_PLACEHOLDER);
    expect(fs.readdirSync(path.dirname(inRoot(n, NODE_LAYOUT.workerCaCert)))).toEqual(["ca.crt"]);
    expectNoSecretLeak(n, fixture);
  });

  test("a transient failure of the store (HTTP 503, then no connection) is retried with backoff", () => {
    const n = node({ role: "worker", secrets: kind, apiUp: ["*"] });
    serveSecrets(n, {
      store: (match) => {
        httpRespond(n, match, 503, kind === "aws-secretsmanager" ? '{"__type":"InternalServiceError"}' : '{"error":{"code":503,"status":"UNAVAILABLE"}}', { times: 1 });
        httpRespond(n, match, "000", "", { times: 1 });
      },
    });
    const r = run(n);
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/WARNING: reading secret \S+ HTTP 503/);
    expect(r.output).toMatch(/WARNING: attempt 1\/3 failed: fetch_\w+; retrying in 2s/);
    expect(r.output).toMatch(/WARNING: attempt 2\/3 failed: fetch_\w+; retrying in 4s/);
    expect(readCalls(n).filter(isStoreCall)).toHaveLength(3);
    expect(readCalls(n)).toEqual(expect.arrayContaining(["fake-sleep 2", "fake-sleep 4"]));
  });

  test("a store that never answers fails after the retries, naming the secret", () => {
    const n = node({ role: "worker", secrets: kind });
    serveSecrets(n, { store: (match) => httpRespond(n, match, 500, "{}") });
    const r = run(n);
    expectFailure(r, new RegExp(`cannot read secret ${secretId.replace(/[/:]/g, "\\$&")}: reading secret .*HTTP 500`));
    expect(readCalls(n).filter(isStoreCall)).toHaveLength(3);
  });

  const denied = kind === "aws-secretsmanager"
    ? { status: 400, body: `{"__type":"AccessDeniedException","Message":"User: arn:aws:sts::123456789012:assumed-role/prod-node-role/i-0abc is not authorized to perform: secretsmanager:GetSecretValue on resource: ${AWS_SECRET_ARN}"}`,
      line: /the node's instance role prod-node-role cannot read secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod-control-plane-AbCdEf: check its IAM policy and the secret's resource policy \(HTTP 400 AccessDeniedException\)/ }
    : { status: 403, body: `{"error":{"code":403,"message":"Permission 'secretmanager.versions.access' denied for resource '${GCE_SECRET_VERSION}' (or it may not exist).","status":"PERMISSION_DENIED"}}`,
      line: /the node's service account cannot read secret projects\/prod-project\/secrets\/prod-control-plane\/versions\/latest: grant it roles\/secretmanager\.secretAccessor on the secret \(HTTP 403 PERMISSION_DENIED\)/ };
  test("access denied is retried (IAM is eventually consistent), then fails with one clear line, status failed", () => {
    const n = node({ role: "control-plane", secrets: kind });
    const fixture = serveSecrets(n, { store: (match) => httpRespond(n, match, denied.status, denied.body) });
    const r = run(n);
    expectFailure(r, denied.line);
    expect(r.lastLine).toContain(`cannot read secret ${secretId}: `);
    expect(readStatus(n)).toMatchObject({ phase: "secrets", result: "failed", error: expect.stringContaining(secretId) });
    expect(readCalls(n).filter(isStoreCall)).toHaveLength(3); // BOOTSTRAP_RETRIES of the harness
    expect(readCalls(n).filter((c) => c.startsWith("fake-sleep"))).toEqual(["fake-sleep 2", "fake-sleep 4"]);
    expect(readCalls(n).filter((c) => /^(apt-get|kubeadm) /.test(c))).toEqual([]);
    expectNoSecretLeak(n, fixture);
  });

  test("a denial that clears (a grant still propagating at boot) is retried and the node boots", () => {
    const n = node({ role: "control-plane", secrets: kind, apiUp: ["*"] });
    serveSecrets(n, { store: (match) => httpRespond(n, match, denied.status, denied.body, { times: 1 }) });
    const r = run(n);
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/WARNING: the node's .* cannot read secret/);
    expect(readCalls(n).filter(isStoreCall)).toHaveLength(2);
  });

  const missing = kind === "aws-secretsmanager"
    ? { status: 400, body: '{"__type":"ResourceNotFoundException","Message":"Secrets Manager can\'t find the specified secret."}', line: /does not exist \(HTTP 400 ResourceNotFoundException\): check SECRETS_ID and SECRETS_REGION/ }
    : { status: 404, body: '{"error":{"code":404,"message":"Secret [projects/1/secrets/prod-control-plane] not found or has no versions.","status":"NOT_FOUND"}}', line: /does not exist \(HTTP 404 NOT_FOUND\): check SECRETS_ID/ };
  test("a missing secret fails at once, naming it", () => {
    const n = node({ role: "worker", secrets: kind });
    serveSecrets(n, { store: (match) => httpRespond(n, match, missing.status, missing.body) });
    const r = run(n);
    expectFailure(r, new RegExp(`secret ${secretId.replace(/[/:]/g, "\\$&")} ${missing.line.source}`));
    expect(readCalls(n).filter(isStoreCall)).toHaveLength(1);
  });

  test("a secret that is not a bundle (or has no valid token) fails without writing anything", () => {
    const n = node({ role: "control-plane", secrets: kind });
    serveSecrets(n, { secret: JSON.stringify({ ...JSON.parse(n.bundle!), bootstrapToken: "not-a-token" }) });
    expectFailure(run(n), /is not a usable cdktf-kubeadm secret bundle/);
    expect(fs.readFileSync(inRoot(n, NODE_LAYOUT.joinConfig), "utf8")).toContain(BOOTSTRAP_TOKEN_PLACEHOLDER);
    expect(readCalls(n).filter(isStoreCall)).toHaveLength(1);
  });

  test("a bundle file outside /etc/kubernetes/pki is refused", () => {
    const n = node({ role: "worker", secrets: kind });
    serveSecrets(n, { secret: JSON.stringify({ ...JSON.parse(n.bundle!), files: [{ path: "/etc/kubernetes/pki/../../cron.d/x", permissions: "0600", content: "x" }] }) });
    expectFailure(run(n), /is not a usable cdktf-kubeadm secret bundle/);
    expect(fs.existsSync(inRoot(n, "/etc/cron.d/x"))).toBe(false);
  });

  test("the worker bundle on a control-plane node: the missing keys are named", () => {
    const n = node({ role: "control-plane", secrets: kind });
    const bundle = JSON.parse(n.bundle!);
    serveSecrets(n, { secret: JSON.stringify({ ...bundle, files: bundle.files.filter((f: { path: string }) => f.path.endsWith("/ca.crt")) }) });
    expectFailure(run(n), /\/etc\/kubernetes\/pki\/ca\.key is missing after installing secret .*: is it the control-plane bundle\?/);
    expect(readCalls(n).filter((c) => /^(apt-get|kubeadm) /.test(c))).toEqual([]);
  });

  /** Nothing of the bundle was written: no key, the placeholder in the configs, the loader in place. */
  function expectNothingInstalled(n: NodeRoot, loader: string): void {
    expect(fs.readFileSync(n.script, "utf8")).toBe(loader);
    expect(fs.existsSync(pkiPath(n, "ca.key"))).toBe(false);
    expect(fs.readFileSync(inRoot(n, NODE_LAYOUT.joinConfig), "utf8")).toContain(BOOTSTRAP_TOKEN_PLACEHOLDER);
  }

  test("a bundle whose script is not the one user data pins (another deploy's) is refused, nothing installed", () => {
    const n = node({ role: "control-plane", secrets: kind });
    const loader = fs.readFileSync(n.script, "utf8");
    const other = packScript(fs.readFileSync(BOOTSTRAP_SCRIPT, "utf8"), "control-plane", [kind]).replace("bootstrap succeeded", "bootstrap  succeeded");
    serveSecrets(n, { secret: JSON.stringify({ ...JSON.parse(n.bundle!), script: scriptForBundle(other) }) });
    const r = run(n);
    expectFailure(r, new RegExp(`the bootstrap script in secret \\S+ is not the one user data pins \\(sha256 ${n.settings.BOOTSTRAP_SHA256}\\): finish 'cdktf deploy', then replace this node`));
    expectNothingInstalled(n, loader);
    expect(readStatus(n)).toMatchObject({ phase: "secrets", result: "failed" });
  });

  test("a bundle without a script (written by an older release) is refused, nothing installed", () => {
    const n = node({ role: "control-plane", secrets: kind });
    const loader = fs.readFileSync(n.script, "utf8");
    const { script: _script, ...old } = JSON.parse(n.bundle!);
    serveSecrets(n, { secret: JSON.stringify(old) });
    expectFailure(run(n), /holds no bootstrap script \(an older cdktf-kubeadm wrote it\): run 'cdktf deploy'/);
    expectNothingInstalled(n, loader);
  });

  test("the loader started by a timer (an argument) before the hand-over does nothing", () => {
    const n = node({ role: "control-plane", secrets: kind });
    const r = runBootstrap(n, SECRET_SEAMS, ["upgrade"]);
    expect(r.code).toBe(0);
    expect(r.lastLine).toMatch(/the bootstrap has not installed the full script yet: nothing to do for 'upgrade'/);
    expect(readCalls(n).filter((c) => c.startsWith("curl "))).toEqual([]);
  });

  test("a later failure resumes without fetching the secret again", () => {
    const n = node({ role: "worker", secrets: kind, apiUp: ["*"] });
    serveSecrets(n);
    const rule = failCommand(n, "apt-get -y -q -o DPkg::Lock::Timeout=600 update", "always", "E: network down");
    const r1 = run(n);
    expect(r1.code).not.toBe(0);
    expect(r1.lastLine).toMatch(/FAILED in step install/);
    fs.rmSync(path.join(n.ctl, "fail", rule));
    resetCalls(n);
    const r2 = run(n);
    expect(r2.code).toBe(0);
    expect(r2.output).toMatch(/\[secrets\] already completed in an earlier run/);
    expect(readCalls(n).filter((c) => isStoreCall(c) || isMetadataCall(c))).toEqual([]);
  });
});

describe("aws-secretsmanager: a worker held by its group's launch lifecycle hook until it has joined", () => {
  const AUTOSCALING = "https://autoscaling.stub";
  const HOOK = { LIFECYCLE_HOOK: "cdktf-kubeadm-joined", LIFECYCLE_GROUP: "prod-pool-general", LIFECYCLE_REGION: "eu-west-1" };
  const INSTANCE = "i-0123456789abcdef0";
  const hooked = () => {
    const n = node({ role: "worker", secrets: "aws-secretsmanager", apiUp: ["*"] });
    writeSettings(n, HOOK);
    const fixture = serveSecrets(n);
    httpRespond(n, `GET ${IMDS_ENDPOINT}/latest/meta-data/instance-id`, 200, INSTANCE, { require: [`X-aws-ec2-metadata-token: ${fixture.imdsToken}`] });
    return { n, fixture };
  };
  const body = (action: string) =>
    `data Action=${action}&LifecycleHookName=cdktf-kubeadm-joined&AutoScalingGroupName=prod-pool-general&InstanceId=${INSTANCE}&Version=2011-01-01`;
  const signed = (f: SecretFixture, action: string) => [`user ${f.accessKeyId}:${f.secretAccessKey}`, `x-amz-security-token: ${f.sessionToken}`, "aws-sigv4 aws:amz:eu-west-1:autoscaling", body(action)];
  const hookCalls = (n: NodeRoot) => readCalls(n).filter((c) => c.includes(AUTOSCALING));
  const runHooked = (n: NodeRoot) => runBootstrap(n, { ...SECRET_SEAMS, BOOTSTRAP_AUTOSCALING_ENDPOINT: AUTOSCALING });

  test("a heartbeat when it starts waiting for the control plane, CONTINUE once joined: SigV4-signed, no secret on a command line", () => {
    const { n, fixture } = hooked();
    httpRespond(n, `POST ${AUTOSCALING}/`, 200, "<RecordLifecycleActionHeartbeatResponse/>", { times: 1, require: signed(fixture, "RecordLifecycleActionHeartbeat") });
    httpRespond(n, `POST ${AUTOSCALING}/`, 200, "<CompleteLifecycleActionResponse/>", { times: 1, require: signed(fixture, "CompleteLifecycleAction&LifecycleActionResult=CONTINUE") });
    const r = runHooked(n);
    expect(r.code).toBe(0);
    const calls = readCalls(n);
    expect(hookCalls(n)).toHaveLength(2);
    const [heartbeat, complete] = calls.map((c, i) => (c.includes(AUTOSCALING) ? i : -1)).filter((i) => i >= 0);
    expect(heartbeat).toBeLessThan(callIndex(calls, "kubeadm join"));
    expect(complete).toBeGreaterThan(callIndex(calls, "kubeadm join"));
    expect(r.output).not.toMatch(/WARNING: .*lifecycle/);
    expectNoSecretLeak(n, fixture);
  });

  test("a worker that cannot join abandons the hook, so its group replaces it at once", () => {
    const { n, fixture } = hooked();
    httpRespond(n, "GET https://10.0.0.100:6443/api/v1/namespaces/kube-public/configmaps/cluster-info", 200, '{"kind":"ConfigMap","data":{}}');
    httpRespond(n, `POST ${AUTOSCALING}/`, 200, "<RecordLifecycleActionHeartbeatResponse/>", { times: 1, require: signed(fixture, "RecordLifecycleActionHeartbeat") });
    httpRespond(n, `POST ${AUTOSCALING}/`, 200, "<CompleteLifecycleActionResponse/>", { times: 1, require: signed(fixture, "CompleteLifecycleAction&LifecycleActionResult=ABANDON") });
    const r = runHooked(n);
    expect(r.code).not.toBe(0);
    expect(r.lastLine).toMatch(/FAILED in step cluster: the cluster at \S+ does not know join token/);
    expect(hookCalls(n)).toHaveLength(2);
    expect(callIndex(readCalls(n), "kubeadm join")).toBe(-1);
    expect(r.output).not.toMatch(/refused ABANDON/);
  });

  test("a refused CONTINUE (no permission) is retried, then fails naming the hook and the permission", () => {
    const { n } = hooked();
    httpRespond(n, `POST ${AUTOSCALING}/`, 403, "<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>");
    const r = runHooked(n);
    expect(r.code).not.toBe(0);
    expect(r.lastLine).toMatch(/FAILED in step cluster: joined, but could not complete lifecycle hook cdktf-kubeadm-joined of group prod-pool-general: the lifecycle hook cdktf-kubeadm-joined of group prod-pool-general refused CONTINUE \(HTTP 403 AccessDenied\): check the instance role's permission for it/);
    expect(hookCalls(n).filter((c) => c.includes("LifecycleActionResult=CONTINUE")).length).toBeGreaterThan(1);
  });
});

describe("aws-secretsmanager specifics", () => {
  test("IMDSv2 only: the token PUT comes before any metadata GET, which carries the token", () => {
    const n = node({ role: "worker", secrets: "aws-secretsmanager", apiUp: ["*"] });
    serveSecrets(n);
    expect(run(n).code).toBe(0);
    const meta = readCalls(n).filter(isMetadataCall);
    expect(meta[0]).toMatch(/ -X PUT -H X-aws-ec2-metadata-token-ttl-seconds: 300 http:\/\/imds\.stub\/latest\/api\/token$/);
    expect(meta.slice(1)).toEqual([
      expect.stringMatching(/ -K - --noproxy \* http:\/\/imds\.stub\/latest\/meta-data\/iam\/security-credentials\/$/),
      expect.stringMatching(/ -K - --noproxy \* http:\/\/imds\.stub\/latest\/meta-data\/iam\/security-credentials\/prod-node-role$/),
    ]);
    // the stub answers a GET without the token header with 401: success means the token was sent
    const store = readCalls(n).filter(isStoreCall);
    expect(store).toEqual([expect.stringContaining("--aws-sigv4 aws:amz:eu-west-1:secretsmanager -H X-Amz-Target: secretsmanager.GetSecretValue")]);
  });

  test("throttling (HTTP 400 ThrottlingException) is retried", () => {
    const n = node({ role: "worker", secrets: "aws-secretsmanager", apiUp: ["*"] });
    serveSecrets(n, { store: (m) => httpRespond(n, m, 400, '{"__type":"ThrottlingException","message":"Rate exceeded"}', { times: 1 }) });
    const r = run(n);
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/WARNING: reading secret \S+: HTTP 400 ThrottlingException/);
  });

  test("no instance profile: IMDS answers 404, retried, then one line saying so", () => {
    const n = node({ role: "worker", secrets: "aws-secretsmanager" });
    httpRespond(n, `PUT ${IMDS_ENDPOINT}/latest/api/token`, 200, "tok");
    httpRespond(n, `GET ${IMDS_ENDPOINT}/latest/meta-data/iam/security-credentials/`, 404, "Not Found");
    expectFailure(run(n), /cannot read secret arn:\S+: no instance role in IMDS \(HTTP 404; 404: the instance has no IAM instance profile\)/);
  });

  test("SECRETS_REGION is required", () => {
    const n = node({ role: "worker", secrets: "aws-secretsmanager", settings: { SECRETS_REGION: null } });
    const r = run(n);
    expect(r.lastLine).toMatch(/FAILED in step settings: missing required setting SECRETS_REGION/);
  });
});

test("an unknown SECRETS_SOURCE is a settings error", () => {
  const n = node({ role: "worker", secrets: "gce-secretmanager", settings: { SECRETS_SOURCE: "vault" } });
  expect(run(n).lastLine).toMatch(/FAILED in step settings: SECRETS_SOURCE 'vault' is not one of aws-secretsmanager, gce-secretmanager/);
});

test("end to end with the real bundle and kubeadm configs: keys and token land where kubeadm reads them", () => {
  const cluster = resolveCluster({ name: "prod", controlPlane: { replicas: 3 }, nodePools: [{ name: "general" }] }, { platform: "aws", nodeCidrs: ["10.0.0.0/16"] });
  const pki = generateClusterPki({ keyAlgorithm: "ECDSA-P256", caValidityHours: 87600, certificateValidityHours: 8760 });
  const role = { kind: "control-plane", slot: 1 } as const;
  const ctx = { controlPlaneEndpointHost: "10.0.0.100", bootstrapToken: BOOTSTRAP_TOKEN_PLACEHOLDER, caCertHash: caCertHash(pki.ca.certPem) };
  const n = node({ role: "control-plane", slot: 1, secrets: "gce-secretmanager", apiUp: ["*"] });
  fs.writeFileSync(inRoot(n, NODE_LAYOUT.initConfig), renderInitConfig(cluster, 1, ctx));
  fs.writeFileSync(inRoot(n, NODE_LAYOUT.joinConfig), renderJoinConfig(cluster, role, ctx));
  serveSecrets(n, {
    secret: secretBundle({
      cluster, role, pki, caCertHash: ctx.caCertHash, controlPlaneEndpointHost: ctx.controlPlaneEndpointHost,
      secrets: { kind: "gce-secretmanager", secretVersion: GCE_SECRET_VERSION },
    }),
  });
  const r = run(n);
  expect(r.code).toBe(0);
  expect(fs.readFileSync(pkiPath(n, "ca.key"), "utf8")).toBe(pki.ca.keyPem);
  expect(fs.readFileSync(pkiPath(n, "front-proxy-ca.key"), "utf8")).toBe(pki.frontProxyCa.keyPem);
  expect(fs.readFileSync(pkiPath(n, "etcd/ca.key"), "utf8")).toBe(pki.etcdCa.keyPem);
  expect(fs.readFileSync(pkiPath(n, "sa.key"), "utf8")).toBe(pki.serviceAccount.privateKeyPem);
  for (const f of [NODE_LAYOUT.initConfig, NODE_LAYOUT.joinConfig]) {
    const text = fs.readFileSync(inRoot(n, f), "utf8");
    expect(text).toContain(`token: ${pki.bootstrapToken}`);
    expect(text).not.toContain(BOOTSTRAP_TOKEN_PLACEHOLDER);
  }
  expect(readLog(n)).not.toContain(pki.bootstrapToken);
  expect(readLog(n)).not.toMatch(/PRIVATE KEY/);
});
