/**
 * Join-token rotation at synth: `bootstrapTokenRotation` puts a new token in the PKI store, and
 * with a secret store (AWS and GCE default) the only change is the secrets' write-only versions:
 * no launch/instance template, group or instance changes, so nothing is replaced. The nodes' side
 * (registering the new token, deleting the old one) is in bootstrap-token.test.ts.
 */
import * as fs from "fs";
import * as path from "path";
import { loadOrCreatePkiStore, STORE_FILES } from "../src/bootstrap/pki-store";
import { goDurationSeconds, resolveCluster } from "../src/bootstrap/resolve-cluster";
import { ClusterSpecError } from "../src/bootstrap/validation-error";
import * as aws from "./support/aws-fixtures";
import * as gce from "./support/gce-fixtures";
import * as metal from "./support/baremetal-fixtures";
import { changesBetween, settingsOf, synthJson, tempDir } from "./support/stack-json";

const tmp = tempDir("token-rotation-");
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const OPTIONS = { keyAlgorithm: "ECDSA-P256", caValidityHours: 87600, certificateValidityHours: 8760 } as const;

describe("the PKI store", () => {
  test("a new rotation label gives a new token (with a warning); the same label keeps it", () => {
    const dir = path.join(tmp, "store");
    const first = loadOrCreatePkiStore({ directory: dir, options: OPTIONS }).pki.bootstrapToken;
    expect(fs.existsSync(path.join(dir, STORE_FILES.bootstrapTokenRotation))).toBe(false);
    expect(loadOrCreatePkiStore({ directory: dir, options: OPTIONS }).pki.bootstrapToken).toBe(first);
    const rotated = loadOrCreatePkiStore({ directory: dir, options: OPTIONS, tokenRotation: "2026-12" });
    expect(rotated.pki.bootstrapToken).not.toBe(first);
    expect(rotated.pki.bootstrapToken).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect(rotated.warnings).toEqual([expect.stringMatching(/Rotated the join token .*\(bootstrapTokenRotation "" -> "2026-12"\)/)]);
    expect(fs.statSync(path.join(dir, STORE_FILES.bootstrapToken)).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(path.join(dir, STORE_FILES.bootstrapTokenRotation), "utf8")).toBe("2026-12\n");
    const again = loadOrCreatePkiStore({ directory: dir, options: OPTIONS, tokenRotation: "2026-12" });
    expect(again.pki.bootstrapToken).toBe(rotated.pki.bootstrapToken);
    expect(again.warnings).toEqual([]);
    // the CAs never change with the token
    expect(again.pki.ca.certPem).toBe(loadOrCreatePkiStore({ directory: dir, options: OPTIONS, tokenRotation: "2026-12" }).pki.ca.certPem);
  });

  test("a new store generated with a label records it (no rotation on the next synth)", () => {
    const dir = path.join(tmp, "labelled");
    const first = loadOrCreatePkiStore({ directory: dir, options: OPTIONS, tokenRotation: "r1" });
    expect(first.created).toBe(true);
    expect(loadOrCreatePkiStore({ directory: dir, options: OPTIONS, tokenRotation: "r1" }).pki.bootstrapToken).toBe(first.pki.bootstrapToken);
  });
});

describe("the cluster model", () => {
  test("bootstrapTokenRotation must be a short label; the error names the field and the fix", () => {
    const bad = () => resolveCluster({ name: "prod", bootstrapTokenRotation: "next month!" }, { platform: "aws", nodeCidrs: ["10.0.0.0/16"] });
    expect(bad).toThrow(ClusterSpecError);
    expect(bad).toThrow(/bootstrapTokenRotation.*is not a label of at most 63 letters.*"2026-12"/s);
  });

  test.each([["0s", 0], ["0", 0], ["24h", 86400], ["1h30m", 5400], ["90s", 90], ["1.5h", 5400], ["500ms", 0]])("Go duration %s is %d seconds", (d, s) => {
    expect(goDurationSeconds(d)).toBe(s);
  });
});

describe.each([
  ["aws", () => aws.build(aws.baseProps(path.join(tmp, "aws-pki"))), () => aws.build(aws.baseProps(path.join(tmp, "aws-pki"), { bootstrapTokenRotation: "2026-12" })), "aws_secretsmanager_secret_version", "secret_string_wo_version"],
  ["gce", () => gce.build(gce.baseProps(path.join(tmp, "gce-pki"))), () => gce.build(gce.baseProps(path.join(tmp, "gce-pki"), { bootstrapTokenRotation: "2026-12" })), "google_secret_manager_secret_version", "secret_data_wo_version"],
] as const)("%s: rotating the token changes only the secrets' versions", (_platform, before, after, versionType, versionField) => {
  let diff: Record<string, string[]>;
  let tokens: string[];
  beforeAll(() => {
    const b = before();
    const jsonBefore = synthJson(b.stack);
    const a = after();
    const jsonAfter = synthJson(a.stack);
    tokens = [b.cluster.kubeadm.pki.bootstrapToken, a.cluster.kubeadm.pki.bootstrapToken];
    diff = changesBetween(jsonBefore, jsonAfter);
  });

  test("a new token", () => {
    expect(tokens[1]).not.toBe(tokens[0]);
  });

  test("exactly the two write-only versions change: no template, group, instance or policy", () => {
    expect(diff).toEqual({
      [`resource.${versionType}.${Object.keys(diff).find((k) => k.includes("control-plane"))!.split(".")[2]}`]: [versionField],
      [`resource.${versionType}.${Object.keys(diff).find((k) => k.includes("worker"))!.split(".")[2]}`]: [versionField],
    });
  });
});

test("bare metal too: the SSH provisioner's token agent registers a rotated token with bootstrapTokenTtl, not without expiry", () => {
  const dir = path.join(tmp, "metal-ttl");
  const { cluster } = metal.build(metal.baseProps({ pki: path.join(dir, "pki"), seeds: path.join(dir, "seeds") }, { bootstrapTokenTtl: "12h" }));
  const cp = cluster.kubeadm.cloudConfig({ kind: "control-plane", slot: 0 });
  const worker = cluster.kubeadm.cloudConfig({ kind: "worker", pool: "general" });
  expect(settingsOf(cp, "/etc/cdktf-kubeadm/bootstrap.env").BOOTSTRAP_TOKEN_TTL).toBe("43200");
  expect(settingsOf(worker, "/etc/cdktf-kubeadm/bootstrap.env").BOOTSTRAP_TOKEN_TTL).toBeUndefined();
});

test("control-plane user data tells the token agent the token lifetime (seconds); workers have no such setting", () => {
  const built = aws.build(aws.baseProps(path.join(tmp, "aws-ttl"), { bootstrapTokenTtl: "24h" }));
  const cp = built.cluster.kubeadm.cloudConfig({ kind: "control-plane", slot: 0 });
  const worker = built.cluster.kubeadm.cloudConfig({ kind: "worker", pool: "general" });
  expect(settingsOf(cp, "/etc/cdktf-kubeadm/bootstrap.env").BOOTSTRAP_TOKEN_TTL).toBe("86400");
  expect(settingsOf(worker, "/etc/cdktf-kubeadm/bootstrap.env").BOOTSTRAP_TOKEN_TTL).toBeUndefined();
});
