import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ClusterSpecError } from "../src/bootstrap/validation-error";
import { checkAndRecordKubernetesVersion, lastSynthesizedVersion, VERSION_HISTORY_FILE } from "../src/bootstrap/version-history";

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "cdktf-kubeadm-versions-")); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = () => path.join(dir, VERSION_HISTORY_FILE);
const synth = (v: string) => checkAndRecordKubernetesVersion(dir, "prod", v);
const thrown = (f: () => void): Error => { try { f(); } catch (e) { return e as Error; } throw new Error("did not throw"); };

test("the first synth writes the version", () => {
  synth("1.36.4");
  expect(fs.readFileSync(file(), "utf8")).toBe('{"version":"1.36.4"}\n');
  expect(lastSynthesizedVersion(dir)).toBe("1.36.4");
});

test("a re-synth of the same version is a no-op, byte for byte (file untouched)", () => {
  synth("1.36.4");
  const before = fs.statSync(file());
  fs.utimesSync(file(), new Date(0), new Date(0));
  synth("1.36.4");
  expect(fs.statSync(file()).mtimeMs).toBe(0);
  expect(fs.readFileSync(file(), "utf8")).toBe('{"version":"1.36.4"}\n');
  expect(before.size).toBe(fs.statSync(file()).size);
});

test.each([["a patch bump", "1.36.4", "1.36.5"], ["one minor", "1.36.4", "1.37.0"], ["one minor to a later patch", "1.35.9", "1.36.2"]])("%s is allowed and recorded", (_n, from, to) => {
  synth(from);
  synth(to);
  expect(lastSynthesizedVersion(dir)).toBe(to);
});

test("a downgrade is a ClusterSpecError naming kubernetesVersion, the last version and the fix", () => {
  synth("1.36.4");
  for (const older of ["1.36.3", "1.35.9"]) {
    const e = thrown(() => synth(older));
    expect(e).toBeInstanceOf(ClusterSpecError);
    expect(e.message).toContain(`kubernetesVersion = "${older}": is older than 1.36.4, the version last synthesized for this cluster (${file()}): kubeadm cannot downgrade`);
    expect(e.message).toContain(`Fix: set kubernetesVersion to 1.36.4 or newer. To really start over with an older version, destroy the cluster, delete ${file()} and deploy a new one.`);
  }
  expect(lastSynthesizedVersion(dir)).toBe("1.36.4");
});

test("skipping a minor is a ClusterSpecError: one minor at a time", () => {
  synth("1.35.2");
  const e = thrown(() => synth("1.37.1"));
  expect(e).toBeInstanceOf(ClusterSpecError);
  expect(e.message).toMatch(/^cdktf-kubeadm: invalid cluster spec "prod" \(1 problem\):\n  - kubernetesVersion = "1\.37\.1": jumps from 1\.35\.2/);
  expect(e.message).toContain("over minor version 1.36: kubeadm upgrades one minor version at a time");
  expect(e.message).toContain("Fix: upgrade one minor at a time: set kubernetesVersion to a 1.36.x release, deploy and let every node finish, then the next (e.g. 1.35.x -> 1.36.y -> 1.37.z).");
  expect(lastSynthesizedVersion(dir)).toBe("1.35.2");
});

test("an unreadable file is an error that says how to fix it", () => {
  fs.writeFileSync(file(), "{not json");
  expect(() => synth("1.36.4")).toThrow(/is not \{"version":"<major\.minor\.patch>"\}\. Fix: restore it/);
});

describe("KubeadmCluster refuses at synth", () => {
  // imported lazily: the construct pulls in cdktf
  const { Testing } = require("cdktf") as typeof import("cdktf");
  const { KubeadmCluster } = require("../src/constructs/kubeadm-cluster") as typeof import("../src/constructs/kubeadm-cluster");
  const { resolveCluster } = require("../src/bootstrap/resolve-cluster") as typeof import("../src/bootstrap/resolve-cluster");
  const { USER_DATA_LIMITS } = require("../src/bootstrap/user-data-budget") as typeof import("../src/bootstrap/user-data-budget");
  const stack = () => { const { TerraformStack } = require("cdktf") as typeof import("cdktf"); return new TerraformStack(Testing.app(), "s"); };
  const build = (version: string, upgradeChannel?: import("../src/bootstrap/upgrade-channel").UpgradeChannel, userDataLimit: number = USER_DATA_LIMITS.aws) => {
    const cluster = resolveCluster({ name: "prod", kubernetesVersion: version, nodePools: [{ name: "a" }] }, { platform: "test", nodeCidrs: ["10.0.0.0/16"] });
    const scope = stack();
    const kc = new KubeadmCluster(scope, "c", { cluster, controlPlaneEndpointHost: "api.example.com", userDataLimit, pkiDirectory: dir, outputs: false, upgradeChannel });
    Testing.synth(scope); // the history is written at synth
    return kc;
  };

  test("a synth refused on user-data size records no version: the next synth at the old version is no downgrade", () => {
    build("1.36.4");
    expect(() => build("1.37.1", undefined, 4096)).toThrow(/user data of node role "control-plane-0" is \d+ bytes after gzip, over the platform limit of 4096 bytes/);
    expect(lastSynthesizedVersion(dir)).toBe("1.36.4");
    expect(() => build("1.36.4")).not.toThrow();
  });

  test("nothing is recorded until the app synthesizes: a construction refused elsewhere in the app leaves no history", () => {
    const scope = stack();
    const cluster = resolveCluster({ name: "prod", kubernetesVersion: "1.37.1", nodePools: [{ name: "a" }] }, { platform: "test", nodeCidrs: ["10.0.0.0/16"] });
    build("1.36.4");
    new KubeadmCluster(scope, "c", { cluster, controlPlaneEndpointHost: "api.example.com", userDataLimit: USER_DATA_LIMITS.aws, pkiDirectory: dir, outputs: false });
    expect(lastSynthesizedVersion(dir)).toBe("1.36.4");
    Testing.synth(scope);
    expect(lastSynthesizedVersion(dir)).toBe("1.37.1");
  });

  test("a downgrade or a skipped minor relative to the last synth, beside the PKI store", () => {
    build("1.36.4");
    expect(fs.readFileSync(file(), "utf8")).toBe('{"version":"1.36.4"}\n');
    expect(() => build("1.36.2")).toThrow(ClusterSpecError);
    expect(() => build("1.36.2")).toThrow(/kubernetesVersion = "1\.36\.2": is older than 1\.36\.4/);
    build("1.37.1");
    expect(lastSynthesizedVersion(dir)).toBe("1.37.1");
  });

  test("upgradeChannel reaches control-plane settings only", () => {
    const kc = build("1.36.4", { kind: "aws-ssm", parameterName: "/cdktf-kubeadm/prod/kubernetes-version", region: "eu-west-1" });
    const env = (role: Parameters<typeof kc.nodeFiles>[0]) => kc.nodeFiles(role).find((f) => f.path === "/etc/cdktf-kubeadm/bootstrap.env")!.content;
    expect(env({ kind: "control-plane", slot: 0 })).toContain("UPGRADE_CHANNEL='aws-ssm'\nUPGRADE_PARAMETER='/cdktf-kubeadm/prod/kubernetes-version'\nUPGRADE_REGION='eu-west-1'\n");
    expect(env({ kind: "worker", pool: "a" })).not.toContain("UPGRADE_");
    const script = (role: Parameters<typeof kc.nodeFiles>[0]) => kc.nodeFiles(role).find((f) => f.path === "/usr/local/sbin/cdktf-kubeadm-bootstrap")!.content;
    expect(script({ kind: "control-plane", slot: 0 })).toContain("AmazonSSM.GetParameter");
    expect(script({ kind: "worker", pool: "a" })).not.toMatch(/AmazonSSM|kubeadm upgrade/);
  });
});

describe("upgrade channel settings", () => {
  const { upgradeSettings } = jest.requireActual("../src/bootstrap/upgrade-channel") as typeof import("../src/bootstrap/upgrade-channel");
  test("whole-token values (a data source's region, a parameter's name) pass through; bad literals are refused", () => {
    expect(upgradeSettings({ kind: "aws-ssm", parameterName: "${TfToken[TOKEN.1]}", region: "${TfToken[TOKEN.2]}" })).toEqual({
      UPGRADE_CHANNEL: "aws-ssm",
      UPGRADE_PARAMETER: "${TfToken[TOKEN.1]}",
      UPGRADE_REGION: "${TfToken[TOKEN.2]}",
    });
    expect(upgradeSettings({ kind: "aws-ssm", parameterName: "/cdktf-kubeadm/${TfToken[TOKEN.3]}/kubernetes-version", region: "eu-west-1" }).UPGRADE_PARAMETER).toContain("TOKEN.3");
    expect(() => upgradeSettings({ kind: "aws-ssm", parameterName: "/x", region: "Europe West" })).toThrow(/UPGRADE_REGION "Europe West" is not a valid AWS region/);
    expect(() => upgradeSettings({ kind: "aws-ssm", parameterName: 'a"b', region: "eu-west-1" })).toThrow(/SSM parameter name/);
    expect(() => upgradeSettings({ kind: "gce-metadata", key: "" })).toThrow(/metadata key/);
  });
});
