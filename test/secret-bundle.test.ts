import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { App, TerraformStack, TerraformVariable, Testing } from "cdktf";
import { scriptSha256 } from "../src/bootstrap/bootstrap-script";
import { bootstrapScript, loaderScript, nodeFiles, NodePayloadInput, renderCloudConfig } from "../src/bootstrap/cloud-init";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import { caCertHash, generateClusterPki } from "../src/bootstrap/pki";
import { resolveCluster } from "../src/bootstrap/resolve-cluster";
import { BOOTSTRAP_TOKEN_PLACEHOLDER, secretAudience, secretBundle, secretBundleFor, SecretSource } from "../src/bootstrap/secret-bundle";
import { USER_DATA_LIMITS, gzipSize } from "../src/bootstrap/user-data-budget";
import { KubeadmCluster } from "../src/constructs/kubeadm-cluster";
import { cloudInitSchema } from "./support/cloud-init-schema";
import { scriptOfBundle } from "./support/stack-json";

const cluster = resolveCluster(
  { name: "prod", kubernetesVersion: "1.36.4", controlPlane: { replicas: 3 }, nodePools: [{ name: "general", maxSize: 10 }, { name: "gpu", maxSize: 2 }] },
  { platform: "aws", nodeCidrs: ["10.0.0.0/16"] },
);
const pki = generateClusterPki({ keyAlgorithm: "ECDSA-P256", caValidityHours: 87600, certificateValidityHours: 8760 });
const AWS: SecretSource = { kind: "aws-secretsmanager", secretId: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod-cp-AbCdEf", region: "eu-west-1" };
const GCE: SecretSource = { kind: "gce-secretmanager", secretVersion: "projects/prod-project/secrets/prod-worker/versions/latest" };
const base = { cluster, pki, caCertHash: caCertHash(pki.ca.certPem), controlPlaneEndpointHost: "prod-api.elb.eu-west-1.amazonaws.com" };
const ROLES = [
  { kind: "control-plane", slot: 0 }, { kind: "control-plane", slot: 1 }, { kind: "control-plane", slot: 2 },
  { kind: "worker", pool: "general" }, { kind: "worker", pool: "gpu" },
] as const;
const input = (role: (typeof ROLES)[number], secrets?: SecretSource): NodePayloadInput => ({ ...base, role, secrets });

function settingsOf(i: NodePayloadInput): Record<string, string> {
  const env = nodeFiles(i).find((f) => f.path === NODE_LAYOUT.settings)!.content;
  return Object.fromEntries(env.trim().split("\n").map((l) => { const m = /^([A-Z0-9_]+)='(.*)'$/.exec(l)!; return [m[1], m[2]]; }));
}

const scriptIn = scriptOfBundle;

describe("secretBundle", () => {
  test("identical for every control-plane slot and for every worker pool; one audience each; byte-identical each time", () => {
    const cp = ROLES.filter((r) => r.kind === "control-plane").map((r) => secretBundle(input(r, AWS)));
    const w = ROLES.filter((r) => r.kind === "worker").map((r) => secretBundle(input(r, GCE)));
    expect(new Set(cp).size).toBe(1);
    expect(new Set(w).size).toBe(1);
    expect(cp[0]).not.toBe(w[0]);
    expect(ROLES.map((r) => secretAudience(r))).toEqual(["control-plane", "control-plane", "control-plane", "worker", "worker"]);
    expect(secretBundle(input(ROLES[2], AWS))).toBe(cp[0]);
    // the script in it is the one for its store: another store, another bundle
    expect(secretBundle(input(ROLES[1], GCE))).not.toBe(cp[0]);
  });

  test("control plane: version, token, the shared PKI (keys 0600, certificates 0644) in a fixed order, the full script; compact JSON", () => {
    const text = secretBundle(input(ROLES[0], AWS));
    const b = JSON.parse(text);
    expect(JSON.stringify(b)).toBe(text);
    expect(Object.keys(b)).toEqual(["version", "bootstrapToken", "files", "script"]);
    expect(b.version).toBe(1);
    expect(b.bootstrapToken).toBe(pki.bootstrapToken);
    const dir = "/etc/kubernetes/pki";
    expect(b.files).toEqual([
      { path: `${dir}/ca.crt`, permissions: "0644", content: pki.ca.certPem },
      { path: `${dir}/ca.key`, permissions: "0600", content: pki.ca.keyPem },
      { path: `${dir}/front-proxy-ca.crt`, permissions: "0644", content: pki.frontProxyCa.certPem },
      { path: `${dir}/front-proxy-ca.key`, permissions: "0600", content: pki.frontProxyCa.keyPem },
      { path: `${dir}/etcd/ca.crt`, permissions: "0644", content: pki.etcdCa.certPem },
      { path: `${dir}/etcd/ca.key`, permissions: "0600", content: pki.etcdCa.keyPem },
      { path: `${dir}/sa.key`, permissions: "0600", content: pki.serviceAccount.privateKeyPem },
      { path: `${dir}/sa.pub`, permissions: "0644", content: pki.serviceAccount.publicKeyPem },
    ]);
    expect(scriptIn(text)).toBe(bootstrapScript("control-plane", "aws-secretsmanager"));
  });

  test("worker: the token, the CA certificate and the worker script; no key, no control-plane code", () => {
    const text = secretBundle(input(ROLES[3], AWS));
    const b = JSON.parse(text);
    expect(b).toMatchObject({ version: 1, bootstrapToken: pki.bootstrapToken, files: [{ path: "/etc/cdktf-kubeadm/pki/ca.crt", permissions: "0644", content: pki.ca.certPem }] });
    expect(text).not.toMatch(/PRIVATE KEY/);
    expect(scriptIn(text)).toBe(bootstrapScript("worker", "aws-secretsmanager"));
    expect(scriptIn(text)).not.toMatch(/step_cni|step_timers/);
  });

  test("without a secret source the bundle carries no script (user data carries the full one)", () => {
    expect(Object.keys(JSON.parse(secretBundle(input(ROLES[0]))))).toEqual(["version", "bootstrapToken", "files"]);
  });

  test("a bundle over the 64 KiB a secret value may hold is refused at synth, naming the audience and the fix", () => {
    const noise = crypto.randomBytes(60_000).toString("base64");
    expect(() => secretBundleFor(pki, "worker", noise)).toThrow(/the worker secret bundle is \d+ bytes, over the 65536-byte limit of a secret value .*Fix: use ECDSA-P256 keys/);
    expect(() => secretBundleFor(pki, "control-plane", bootstrapScript("control-plane", "aws-secretsmanager"))).not.toThrow();
  });
});

describe("user data with secrets in a secret store", () => {
  test("the placeholder cannot be a token", () => {
    expect(BOOTSTRAP_TOKEN_PLACEHOLDER).not.toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect(fs.readFileSync(path.join(__dirname, "../src/bootstrap/bootstrap.sh"), "utf8")).toContain(`"${BOOTSTRAP_TOKEN_PLACEHOLDER}"`);
  });

  test.each(ROLES.flatMap((r) => [[r, AWS], [r, GCE]] as const))("%j %j: no PKI file, no token, the placeholder, the reference and the script's pin", (role, source) => {
    const i = input(role, source);
    const text = renderCloudConfig(i);
    expect(text).not.toMatch(/PRIVATE KEY/);
    expect(text).not.toContain(pki.bootstrapToken);
    expect(text).not.toContain(pki.ca.keyPem.split("\n")[1]);
    const files = (yaml.load(text) as { write_files: { path: string; content: string }[] }).write_files;
    expect(files.map((f) => f.path).filter((p) => p.endsWith(".key"))).toEqual([]);
    expect(files.find((f) => f.path === NODE_LAYOUT.joinConfig)!.content).toContain(`token: ${BOOTSTRAP_TOKEN_PLACEHOLDER}`);
    const s = settingsOf(i);
    if (source.kind === "aws-secretsmanager") expect(s).toMatchObject({ SECRETS_SOURCE: "aws-secretsmanager", SECRETS_ID: source.secretId, SECRETS_REGION: "eu-west-1" });
    else {
      expect(s).toMatchObject({ SECRETS_SOURCE: "gce-secretmanager", SECRETS_ID: source.secretVersion });
      expect(s.SECRETS_REGION).toBeUndefined();
    }
    if (role.kind === "control-plane") {
      expect(files.find((f) => f.path === NODE_LAYOUT.initConfig)!.content).toContain(`token: ${BOOTSTRAP_TOKEN_PLACEHOLDER}`);
    }
    // all of the PKI comes with the bundle; user data pins the bundle's script
    expect(files.map((f) => f.path).filter((p) => p.startsWith(NODE_LAYOUT.pkiDir))).toEqual([]);
    expect(text).not.toMatch(/CERTIFICATE|PUBLIC KEY/);
    expect(s.BOOTSTRAP_SHA256).toBe(scriptSha256(scriptIn(secretBundle(i))));
    expect(files.find((f) => f.path === NODE_LAYOUT.script)!.content).toBe(loaderScript(source.kind));
  });

  test.each([["control plane", ROLES[1], AWS], ["worker", ROLES[3], GCE]] as const)("%s passes the real cloud-init schema", (_n, role, source) => {
    const result = cloudInitSchema(renderCloudConfig(input(role, source)));
    expect(result.output).toMatch(/Valid (schema|cloud-config)/i);
    expect(result.ok).toBe(true);
  });

  test("nodes get the code for their secret store only (a loader in user data, the full script in the bundle); without secrets, none", () => {
    const script = (i: NodePayloadInput) => nodeFiles(i).find((f) => f.path === NODE_LAYOUT.script)!.content;
    expect(script(input(ROLES[3], AWS))).toMatch(/fetch_aws\(\) \{/);
    expect(script(input(ROLES[3], AWS))).not.toMatch(/fetch_gce\(\) \{|step_install|kubeadm (join|init)/);
    expect(scriptIn(secretBundle(input(ROLES[3], AWS)))).toMatch(/fetch_aws\(\) \{/);
    expect(script(input(ROLES[0], GCE))).toMatch(/fetch_gce\(\) \{/);
    expect(script(input(ROLES[0], GCE))).not.toMatch(/fetch_aws\(\) \{/);
    expect(scriptIn(secretBundle(input(ROLES[0], GCE)))).not.toMatch(/fetch_aws\(\) \{/);
    expect(script(input(ROLES[0]))).toBe(bootstrapScript("control-plane"));
    expect(script(input(ROLES[0]))).not.toMatch(/step_secrets|fetch_/);
    // two stages: control-plane user data is less than half of what carrying everything costs
    expect(gzipSize(renderCloudConfig(input(ROLES[0], AWS)))).toBeLessThan(gzipSize(renderCloudConfig(input(ROLES[0]))) / 2);
  });

  test("references may be cdktf tokens; literal values the script cannot use are refused", () => {
    const tok = "${TfToken[TOKEN.12]}";
    expect(settingsOf(input(ROLES[3], { kind: "aws-secretsmanager", secretId: tok, region: "${TfToken[TOKEN.13]}" }))).toMatchObject({ SECRETS_ID: tok, SECRETS_REGION: "${TfToken[TOKEN.13]}" });
    expect(settingsOf(input(ROLES[3], { kind: "gce-secretmanager", secretVersion: tok })).SECRETS_ID).toBe(tok);
    expect(() => settingsOf(input(ROLES[3], { kind: "aws-secretsmanager", secretId: 'arn"x', region: "eu-west-1" }))).toThrow(/secrets\.secretId "arn\\"x" is not a Secrets Manager secret ARN or name/);
    expect(() => settingsOf(input(ROLES[3], { kind: "aws-secretsmanager", secretId: "arn:x", region: "Europe" }))).toThrow(/secrets\.region "Europe" is not an AWS region/);
    expect(() => settingsOf(input(ROLES[3], { kind: "gce-secretmanager", secretVersion: "prod-worker" }))).toThrow(/secrets\.secretVersion "prod-worker" is not a secret version name/);
  });
});

describe("KubeadmCluster with secrets", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "secret-bundle-"));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test("secretBundle(audience) is what nodes fetch; user data holds only a (token) reference", () => {
    const app = new App({ outdir: path.join(tmp, "out") });
    const stack = new TerraformStack(app, "s");
    const arn = new TerraformVariable(stack, "secret_arn", { type: "string" }).stringValue;
    const workerArn = new TerraformVariable(stack, "worker_secret_arn", { type: "string" }).stringValue;
    const kc = new KubeadmCluster(stack, "cluster", {
      cluster, controlPlaneEndpointHost: "api.example.com", userDataLimit: USER_DATA_LIMITS.aws, pkiDirectory: path.join(tmp, "pki"),
      secrets: {
        "control-plane": { kind: "aws-secretsmanager", secretId: arn, region: "eu-west-1" },
        worker: { kind: "aws-secretsmanager", secretId: workerArn, region: "eu-west-1" },
      },
      outputs: false,
    });
    const cp = JSON.parse(kc.secretBundle("control-plane"));
    expect(cp.bootstrapToken).toBe(kc.pki.bootstrapToken);
    expect(cp.files.map((f: { path: string }) => f.path)).toEqual(["ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "etcd/ca.crt", "etcd/ca.key", "sa.key", "sa.pub"].map((f) => `/etc/kubernetes/pki/${f}`));
    expect(JSON.parse(kc.secretBundle("worker")).files.map((f: { path: string }) => f.path)).toEqual(["/etc/cdktf-kubeadm/pki/ca.crt"]);
    expect(scriptIn(kc.secretBundle("worker"))).toBe(bootstrapScript("worker", "aws-secretsmanager"));
    for (const role of kc.roles()) {
      const text = kc.cloudConfig(role);
      expect(text).not.toMatch(/PRIVATE KEY/);
      expect(text).not.toContain(kc.pki.bootstrapToken);
      expect(text).toContain(`SECRETS_ID='${role.kind === "control-plane" ? arn : workerArn}'`);
      expect(kc.userDataBase64Gzip(role)).toMatch(/^\$\{TfToken\[/); // base64gzip(...) at apply: the ARN is known then
    }
    expect(Object.keys(kc.userDataSizes)).toHaveLength(5);
  });
});

describe("KubeadmCluster.writeSecretBundle", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "secret-bundle-file-"));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test("writes each audience's bundle into the PKI store, mode 0600, identical on the next synth", () => {
    const make = () => {
      const stack = new TerraformStack(new App({ outdir: path.join(tmp, "out") }), "s");
      return { stack, kc: new KubeadmCluster(stack, "cluster", { cluster, controlPlaneEndpointHost: "api.example.com", userDataLimit: USER_DATA_LIMITS.aws, pkiDirectory: path.join(tmp, "pki"), outputs: false }) };
    };
    const { stack, kc } = make();
    const files = (["control-plane", "worker"] as const).map((audience) => kc.writeSecretBundle(audience));
    // Written at synth, once the app has validated.
    for (const file of files) expect(fs.existsSync(file)).toBe(false);
    Testing.synth(stack);
    for (const [i, audience] of (["control-plane", "worker"] as const).entries()) {
      const file = files[i];
      expect(path.isAbsolute(file)).toBe(true);
      expect(file.startsWith(path.join(tmp, "pki"))).toBe(true);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(fs.readFileSync(file, "utf8")).toBe(kc.secretBundle(audience));
      const before = fs.statSync(file).mtimeMs;
      const again = make();
      expect(again.kc.writeSecretBundle(audience)).toBe(file);
      Testing.synth(again.stack);
      expect(fs.statSync(file).mtimeMs).toBe(before); // unchanged content is not rewritten
    }
    expect(fs.readFileSync(files[1], "utf8")).not.toMatch(/PRIVATE KEY/);
  });
});
