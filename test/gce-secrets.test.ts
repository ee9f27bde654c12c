/**
 * GCE: no secret in user data, in the synthesized output or in the Terraform state.
 *
 * The proof without a Google provider binary is the synthesized JSON: one Secret Manager secret per
 * audience whose version is written with the write-only `secret_data_wo` from a file in the PKI
 * store (so the payload is in neither the JSON nor the state), per-audience secretAccessor
 * bindings, nodes that boot only after their access exists, and user data that carries the
 * reference and no key or token. Every base64 run in the JSON is decoded and searched too: user
 * data is base64decode("...") literals and the kubeconfig embeds its key as base64. The admin
 * kubeconfig output (sensitive) is the one place a key may be, and the search must find it there.
 */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { TerraformStack, Testing } from "cdktf";
import { GCE_EXAMPLE_STACK, gceExample } from "../examples/gce/main";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import { BOOTSTRAP_TOKEN_PLACEHOLDER } from "../src/bootstrap/secret-bundle";
import { bundleVersion, GceKubeadmCluster, GceKubeadmClusterProps, SECRET_ACCESSOR_ROLE } from "../src/constructs/gce";
import { cloudInitSchema } from "./support/cloud-init-schema";
import { baseProps, build, decodeTerraformString, Json, problemsOf, resourcesOf, settingsOf, synthJson, tempDir } from "./support/gce-fixtures";

const tmp = tempDir("gce-secrets-");
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const pki = (name: string) => path.join(tmp, `pki-${name}`);

const AUDIENCES = ["control-plane", "worker"] as const;
const SECRET = "google_secret_manager_secret";
const VERSION = "google_secret_manager_secret_version";
const IAM = "google_secret_manager_secret_iam_member";
const ref = (type: string, id: string, attr: string) => `\${${type}.${id}.${attr}}`;
const dep = (type: string, id: string) => `${type}.${id}`;
const tokenAsAddress = () => "203.0.113.10";

/** Two pools, each with its own service account; three auto-healing slots. */
const twoPools = (dir: string, o: Partial<GceKubeadmClusterProps> = {}) =>
  baseProps(dir, {
    nodePools: [
      { name: "general", machineType: "n2-standard-4", minSize: 2, maxSize: 10 },
      { name: "batch", machineType: "n2-standard-8", minSize: 0, maxSize: 5, spot: true },
    ],
    ...o,
  });

/** Every secret the cluster has, as the strings that must not leak: PEM body lines, the token and its secret half. */
function secretNeedles(cluster: GceKubeadmCluster, includeAdmin: boolean): string[] {
  const p = cluster.kubeadm.pki;
  const pems = [p.ca.keyPem, p.frontProxyCa.keyPem, p.etcdCa.keyPem, p.serviceAccount.privateKeyPem, ...(includeAdmin ? [p.admin.keyPem] : [])];
  const lines = pems.flatMap((pem) => pem.split("\n").filter((l) => l.length >= 16 && !l.startsWith("-----")));
  return ["PRIVATE KEY", p.bootstrapToken, p.bootstrapToken.split(".")[1], ...lines];
}

/** `text` plus the decoding of every base64 run in it (two levels: base64 inside decoded text). */
function withDecodedBase64(text: string, depth = 2): string[] {
  const out = [text];
  if (depth === 0) return out;
  for (const m of text.matchAll(/[A-Za-z0-9+/]{24,}={0,2}/g)) {
    const decoded = Buffer.from(m[0], "base64").toString("utf8");
    // Text only (valid UTF-8, no control characters): random runs such as paths decode to garbage.
    if (!decoded.includes("\ufffd") && !/[\x00-\x08\x0e-\x1f]/.test(decoded)) out.push(...withDecodedBase64(decoded, depth - 1));
  }
  return out;
}

/** The needles found in `text`, directly or base64-encoded. */
function leaks(text: string, needles: string[]): string[] {
  const texts = withDecodedBase64(text);
  return needles.filter((n) => texts.some((t) => t.includes(n)));
}

/** Every node's user-data expression, by logical id. */
function userDataOf(json: Json): [string, string][] {
  return ["google_compute_instance_template", "google_compute_instance"].flatMap((type) => resourcesOf(json, type).map(([id, r]): [string, string] => [id, r.metadata["user-data"]]));
}

function warnings(cluster: GceKubeadmCluster): string[] {
  return cluster.node.metadata.filter((m) => m.type === "@cdktf/warn").map((m) => String(m.data));
}

describe("secret store (default): two secrets, two write-only versions, per-audience readers", () => {
  const built = build(twoPools(pki("prod")));
  const { cluster } = built;
  const text = Testing.synth(built.stack);
  const json: Json = JSON.parse(text);
  const secrets = Object.fromEntries(resourcesOf(json, SECRET).map(([id, r]) => [r.secret_id, { id, r }]));
  const secretOf = (audience: string) => secrets[`prod-${audience}-bootstrap`];
  const accounts = Object.fromEntries(resourcesOf(json, "google_service_account").map(([id, r]) => [r.account_id, id]));
  const member = (accountId: string) => ref("google_service_account", accounts[accountId], "member");

  test("one secret per audience, deterministic id, replicated in the cluster's region only, labelled", () => {
    expect(Object.keys(secrets).sort()).toEqual(["prod-control-plane-bootstrap", "prod-worker-bootstrap"]);
    for (const audience of AUDIENCES) {
      const { r } = secretOf(audience);
      expect(r.secret_id).toMatch(/^[A-Za-z0-9_-]{1,255}$/);
      expect(r).toMatchObject({
        project: "my-project-123",
        replication: { user_managed: { replicas: [{ location: "europe-west4" }] } },
        labels: { "cdktf-kubeadm-cluster": "prod", "cdktf-kubeadm-audience": audience },
      });
      expect(r.replication.auto).toBeUndefined();
      for (const key of Object.keys(r.annotations ?? {})) expect(key).toMatch(/^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/);
    }
  });

  test('versions: secret_data_wo = ${file("<bundle in the PKI store>")}, 0600, exactly the bundle; version number from its content', () => {
    const versions = resourcesOf(json, VERSION);
    expect(versions).toHaveLength(2);
    for (const audience of AUDIENCES) {
      const [, v] = versions.find(([, r]) => r.secret === ref(SECRET, secretOf(audience).id, "id"))!;
      const file = path.join(cluster.kubeadm.pkiDirectory, "bundles", `${audience}.json`);
      expect(path.isAbsolute(file)).toBe(true);
      expect(file.startsWith(cluster.kubeadm.pkiDirectory + path.sep)).toBe(true);
      expect(v.secret_data_wo).toBe(`\${file(${JSON.stringify(file)})}`);
      expect(v.secret_data).toBeUndefined();
      expect(v.is_secret_data_base64).toBeUndefined();
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(fs.statSync(path.dirname(file)).mode & 0o077).toBe(0);
      const content = fs.readFileSync(file, "utf8");
      expect(content).toBe(cluster.kubeadm.secretBundle(audience));
      const bundle = JSON.parse(content);
      expect(bundle.bootstrapToken).toBe(cluster.kubeadm.pki.bootstrapToken);
      expect(bundle.files.map((f: { path: string }) => path.basename(f.path))).toEqual(audience === "control-plane" ? ["ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "ca.crt", "ca.key", "sa.key", "sa.pub"] : ["ca.crt"]);
      expect(Buffer.byteLength(content)).toBeLessThan(64 * 1024); // Secret Manager's payload limit
      expect(Number.isSafeInteger(v.secret_data_wo_version)).toBe(true);
      expect(v.secret_data_wo_version).toBeGreaterThan(0);
      expect(v.secret_data_wo_version).toBe(bundleVersion(content));
      expect(v.lifecycle).toEqual({ create_before_destroy: true });
    }
  });

  test("IAM: only the control-plane account reads the control-plane secret, only the pools' accounts the worker secret", () => {
    const readers = (audience: string) =>
      resourcesOf(json, IAM)
        .filter(([, r]) => r.secret_id === ref(SECRET, secretOf(audience).id, "id"))
        .map(([, r]) => {
          expect(r.role).toBe(SECRET_ACCESSOR_ROLE);
          expect(r.condition).toBeUndefined();
          return r.member;
        })
        .sort();
    expect(resourcesOf(json, IAM)).toHaveLength(3);
    expect(readers("control-plane")).toEqual([member("prod-control-plane")]);
    expect(readers("worker")).toEqual([member("prod-pool-batch"), member("prod-pool-general")].sort());
    // No other way in: no project-level Secret Manager role, no authoritative binding or policy.
    for (const [, b] of resourcesOf(json, "google_project_iam_member")) expect(b.role).not.toMatch(/secretmanager/);
    for (const type of ["google_secret_manager_secret_iam_binding", "google_secret_manager_secret_iam_policy", "google_project_iam_binding", "google_project_iam_policy"]) {
      expect(resourcesOf(json, type)).toEqual([]);
    }
  });

  test("every VM boots after its audience's version and read bindings exist (never the other audience's)", () => {
    const version = (a: string) => dep(VERSION, resourcesOf(json, VERSION).find(([, r]) => r.secret.includes(secretOf(a).id))![0]);
    const readers = (a: string) => resourcesOf(json, IAM).filter(([, r]) => r.secret_id.includes(secretOf(a).id)).map(([id]) => dep(IAM, id));
    const configs = resourcesOf(json, "google_compute_per_instance_config");
    expect(configs).toHaveLength(3);
    for (const [, c] of configs) {
      expect(c.depends_on).toEqual(expect.arrayContaining([version("control-plane"), ...readers("control-plane")]));
      expect(c.depends_on).not.toContain(version("worker"));
    }
    const groups = resourcesOf(json, "google_compute_region_instance_group_manager");
    expect(groups).toHaveLength(2);
    for (const [, g] of groups) {
      const pool = g.name.replace("prod-pool-", "");
      const own = resourcesOf(json, IAM).find(([, r]) => r.member === member(`prod-pool-${pool}`))![0];
      expect(g.depends_on).toEqual(expect.arrayContaining([version("worker"), dep(IAM, own)]));
      expect(g.depends_on).not.toContain(version("control-plane"));
      expect(g.depends_on.filter((d: string) => readers("control-plane").includes(d))).toEqual([]);
    }
  });

  test("each role's user data: valid cloud-config, the reference to its audience's secret, no key, no token", () => {
    const roles = userDataOf(json);
    expect(roles).toHaveLength(5);
    const needles = secretNeedles(cluster, true);
    for (const [id, expression] of roles) {
      const audience = id.includes("control-plane") ? "control-plane" : "worker";
      const cloudConfig = decodeTerraformString(expression, tokenAsAddress);
      expect({ id, ...cloudInitSchema(cloudConfig) }).toEqual({ id, ok: true, output: expect.any(String) });
      const settings = settingsOf(cloudConfig, NODE_LAYOUT.settings);
      expect(settings.SECRETS_SOURCE).toBe("gce-secretmanager");
      expect(settings.SECRETS_ID).toBe(`projects/my-project-123/secrets/${secretOf(audience).r.secret_id}/versions/latest`);
      expect(settings.SECRETS_REGION).toBeUndefined();
      expect({ id, leaks: leaks(cloudConfig, needles) }).toEqual({ id, leaks: [] });
      expect(cloudConfig).toContain(BOOTSTRAP_TOKEN_PLACEHOLDER);
      const files = (yaml.load(cloudConfig) as { write_files: { path: string }[] }).write_files.map((f) => f.path);
      expect(files.filter((f) => f.endsWith(".key"))).toEqual([]);
      // all PKI files come with the bundle
      expect(files.filter((f) => f.startsWith(NODE_LAYOUT.pkiDir))).toEqual([]);
    }
  });

  test("the synthesized JSON holds no key, no token, no bundle: the admin kubeconfig output (sensitive) is the only place with a key", () => {
    const { prod_admin_kubeconfig: admin, ...otherOutputs } = json.output;
    expect(admin.sensitive).toBe(true);
    const rest = JSON.stringify({ ...json, output: otherOutputs });
    // Positive control: the search finds the admin key inside the output (base64 in the kubeconfig).
    expect(leaks(JSON.stringify(admin), [cluster.kubeadm.pki.admin.keyPem.split("\n")[1], "PRIVATE KEY"])).toHaveLength(2);
    expect(leaks(rest, secretNeedles(cluster, true))).toEqual([]);
    expect(leaks(JSON.stringify(admin), secretNeedles(cluster, false))).toEqual(["PRIVATE KEY"]); // the admin key's own header, nothing else
    for (const audience of AUDIENCES) {
      const bundle = cluster.kubeadm.secretBundle(audience);
      expect(text).not.toContain(bundle);
      expect(text).not.toContain(Buffer.from(bundle).toString("base64"));
    }
    expect(text).not.toMatch(/bootstrapToken/);
    expect(text).not.toContain(cluster.kubeadm.pki.bootstrapToken);
  });

  test("byte-identical on a second synth; an unchanged bundle keeps its version number", () => {
    const again = build(twoPools(pki("prod")));
    expect(Testing.synth(again.stack)).toBe(text);
  });

  test("a different bundle (another PKI) gives another version number, so Terraform writes a new version", () => {
    const other = synthJson(build(twoPools(pki("rotated"))).stack);
    const numbers = (j: Json) => resourcesOf(j, VERSION).map(([, r]) => r.secret_data_wo_version);
    const a = numbers(json);
    const b = numbers(other);
    expect(a[0]).not.toBe(b[0]);
    expect(a[1]).not.toBe(b[1]);
  });
});

describe("variants", () => {
  test("plain control-plane instances depend on the control-plane secret and its reader too", () => {
    const json = synthJson(build(baseProps(pki("plain"), { controlPlane: { replicas: 1, autoHealing: false } })).stack);
    const [[versionId]] = resourcesOf(json, VERSION).filter(([, r]) => r.secret.includes("control-plane"));
    const [[iamId]] = resourcesOf(json, IAM).filter(([, r]) => r.secret_id.includes("control-plane"));
    const [[, instance]] = resourcesOf(json, "google_compute_instance");
    expect(instance.depends_on).toEqual(expect.arrayContaining([dep(VERSION, versionId), dep(IAM, iamId)]));
  });

  test("existing accounts: one binding per distinct account; a pool sharing the control plane's account is warned about", () => {
    const cpEmail = "k8s-control-plane@my-project-123.iam.gserviceaccount.com";
    const nodesEmail = "k8s-nodes@my-project-123.iam.gserviceaccount.com";
    const { cluster, stack } = build(
      baseProps(pki("accounts"), {
        controlPlane: { replicas: 3, serviceAccount: { email: cpEmail } },
        nodePools: [
          { name: "a", serviceAccount: { email: nodesEmail } },
          { name: "b", serviceAccount: { email: nodesEmail } },
          { name: "c", serviceAccount: { email: cpEmail } },
        ],
      }),
    );
    const json = synthJson(stack);
    const bindings = resourcesOf(json, IAM).map(([, r]) => [r.secret_id.includes("control-plane") ? "control-plane" : "worker", r.member]);
    expect(bindings.sort()).toEqual([
      ["control-plane", `serviceAccount:${cpEmail}`],
      ["worker", `serviceAccount:${cpEmail}`],
      ["worker", `serviceAccount:${nodesEmail}`],
    ]);
    expect(warnings(cluster).filter((w) => /uses the control plane's service account/.test(w))).toHaveLength(1);
  });

  test("existing network: a warning that egress to secretmanager.googleapis.com is the user's (Private Google Access or NAT)", () => {
    const existing = {
      existing: {
        network: "projects/my-project-123/global/networks/shared",
        subnetwork: "projects/my-project-123/regions/europe-west4/subnetworks/k8s",
        subnetCidrs: ["10.20.0.0/20"],
      },
    };
    const withStore = build(baseProps(pki("existing"), { network: existing })).cluster;
    expect(warnings(withStore).filter((w) => /secretmanager\.googleapis\.com.*Private Google Access/.test(w))).toHaveLength(1);
    const managed = build(baseProps(pki("existing"))).cluster;
    expect(warnings(managed).filter((w) => /secretmanager/.test(w))).toEqual([]);
    const withoutStore = build(baseProps(pki("existing"), { network: existing, secretStore: false })).cluster;
    expect(warnings(withoutStore).filter((w) => /secretmanager/.test(w))).toEqual([]);
  });

  test("instances use the cloud-platform scope (Secret Manager accepts no other); a narrower scope list is refused with the store on", () => {
    const json = synthJson(build(baseProps(pki("prod"))).stack);
    for (const [, t] of resourcesOf(json, "google_compute_instance_template")) expect(t.service_account.scopes).toEqual(["cloud-platform"]);
    const narrow = { scopes: ["https://www.googleapis.com/auth/logging.write", "https://www.googleapis.com/auth/monitoring.write"] };
    const problems = problemsOf(baseProps(pki("prod"), { nodePools: [{ name: "general", serviceAccount: narrow }] }));
    expect(problems.map((p) => p.field)).toEqual(["nodePools[0].serviceAccount.scopes"]);
    expect(problems[0].problem).toMatch(/cloud-platform scope, which Secret Manager requires/);
    expect(problemsOf(baseProps(pki("prod"), { controlPlane: { replicas: 1, serviceAccount: narrow } })).map((p) => p.field)).toEqual(["controlPlane.serviceAccount.scopes"]);
    // Accepted with the store off, and with the full URL of the scope.
    expect(() => build(baseProps(pki("prod"), { secretStore: false, nodePools: [{ name: "general", serviceAccount: narrow }] }))).not.toThrow();
    expect(() => build(baseProps(pki("prod"), { nodePools: [{ name: "general", serviceAccount: { scopes: ["https://www.googleapis.com/auth/cloud-platform"] } }] }))).not.toThrow();
  });

  test("secretStore must be a boolean", () => {
    const problems = problemsOf(baseProps(pki("prod"), { secretStore: "yes" as unknown as boolean }));
    expect(problems.map((p) => p.field)).toEqual(["secretStore"]);
  });

  test("long cluster names give valid secret ids", () => {
    const name = "a-very-long-cluster-name-that-is-forty-c".slice(0, 40);
    const json = synthJson(build({ ...baseProps(pki(name)), name }).stack);
    for (const [, s] of resourcesOf(json, SECRET)) expect(s.secret_id).toMatch(/^[A-Za-z0-9_-]{1,255}$/);
  });
});

test("example stack: the store is on by default, context gce.secretStore=false turns it off, other values are refused", () => {
  const example = (secretStore?: string) => {
    const app = Testing.app({ context: { "gce.pkiDirectory": pki("demo-gce"), ...(secretStore === undefined ? {} : { "gce.secretStore": secretStore }) } });
    gceExample(app);
    return synthJson(app.node.findChild(GCE_EXAMPLE_STACK) as TerraformStack);
  };
  expect(resourcesOf(example(), SECRET).map(([, r]) => r.secret_id).sort()).toEqual(["demo-gce-control-plane-bootstrap", "demo-gce-worker-bootstrap"]);
  expect(resourcesOf(example("true"), SECRET)).toHaveLength(2);
  expect(resourcesOf(example("false"), SECRET)).toEqual([]);
  expect(() => example("no")).toThrow(/gce\.secretStore must be true or false/);
});

describe("secretStore: false keeps the old behaviour (secrets in user data, less safe)", () => {
  const dir = pki("no-store");
  const { cluster, stack } = build(baseProps(dir, { secretStore: false }));
  const json = synthJson(stack);

  test("no Secret Manager resources, no bundle files, no dependency on them", () => {
    for (const type of [SECRET, VERSION, IAM]) expect(resourcesOf(json, type)).toEqual([]);
    expect(cluster.bootstrapSecrets).toBeUndefined();
    expect(fs.existsSync(path.join(dir, "bundles"))).toBe(false);
    expect(JSON.stringify(json)).not.toMatch(/secret_manager|file\(/);
  });

  test("control-plane user data carries the CA keys and the token, workers the token only; no secret reference", () => {
    const pkiOf = cluster.kubeadm.pki;
    // Positive control for the search of the default case: it finds the keys inside the base64 user data.
    const { prod_admin_kubeconfig: _admin, ...otherOutputs } = json.output;
    expect(leaks(JSON.stringify({ ...json, output: otherOutputs }), secretNeedles(cluster, false))).toEqual(secretNeedles(cluster, false));
    for (const [id, expression] of userDataOf(json)) {
      const cloudConfig = decodeTerraformString(expression, tokenAsAddress);
      const settings = settingsOf(cloudConfig, NODE_LAYOUT.settings);
      expect(settings.SECRETS_SOURCE).toBeUndefined();
      expect(settings.SECRETS_ID).toBeUndefined();
      expect(cloudConfig).toContain(pkiOf.bootstrapToken);
      expect(cloudConfig).not.toContain(BOOTSTRAP_TOKEN_PLACEHOLDER);
      if (id.includes("control-plane")) {
        expect(cloudConfig).toContain(`path: ${NODE_LAYOUT.pkiDir}/ca.key`);
        expect(leaks(cloudConfig, [pkiOf.ca.keyPem.split("\n")[1]])).toHaveLength(1);
      } else {
        expect(cloudConfig).not.toMatch(/PRIVATE KEY/);
      }
    }
  });
});
