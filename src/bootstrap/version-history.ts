/**
 * The synth-time guard of day-2 upgrades: the Kubernetes version last synthesized for a cluster is
 * kept beside its PKI store (`<pkiDirectory>/kubernetes-version.json`, `{"version":"1.36.4"}`), and
 * a synth that would downgrade the cluster or skip a minor version fails before nodes are told.
 */
import * as fs from "fs";
import * as path from "path";
import { ClusterSpecError } from "./validation-error";

export const VERSION_HISTORY_FILE = "kubernetes-version.json";

const SEMVER = /^(\d+)\.(\d+)\.(\d+)$/;

function parse(version: string): [number, number, number] | undefined {
  const m = SEMVER.exec(version);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** The version recorded in `directory`, undefined when none is (first synth). */
export function lastSynthesizedVersion(directory: string): string | undefined {
  const file = path.join(directory, VERSION_HISTORY_FILE);
  if (!fs.existsSync(file)) return undefined;
  let version: unknown;
  try {
    version = (JSON.parse(fs.readFileSync(file, "utf8")) as { version?: unknown }).version;
  } catch {
    version = undefined;
  }
  if (typeof version !== "string" || !parse(version)) {
    throw new Error(`cdktf-kubeadm: ${file} is not {"version":"<major.minor.patch>"}. Fix: restore it from your backup of the PKI store, or write the version the cluster runs into it.`);
  }
  return version;
}

/**
 * Throws ClusterSpecError when `version` is older than the last synthesized one or more than one
 * minor newer; otherwise records it (the file is left untouched when it already says so).
 */
export function checkAndRecordKubernetesVersion(directory: string, cluster: string, version: string): void {
  checkKubernetesVersion(directory, cluster, version);
  recordKubernetesVersion(directory, version);
}

export function checkKubernetesVersion(directory: string, cluster: string, version: string): void {
  const last = lastSynthesizedVersion(directory);
  const next = parse(version);
  if (last === undefined || next === undefined) return;
  const prev = parse(last)!;
  const file = path.join(directory, VERSION_HISTORY_FILE);
  const cmp = next[0] - prev[0] || next[1] - prev[1] || next[2] - prev[2];
  if (cmp < 0) {
    throw new ClusterSpecError(cluster, [{
      field: "kubernetesVersion",
      value: version,
      problem: `is older than ${last}, the version last synthesized for this cluster (${file}): kubeadm cannot downgrade a cluster`,
      fix: `set kubernetesVersion to ${last} or newer. To really start over with an older version, destroy the cluster, delete ${file} and deploy a new one`,
    }]);
  }
  if (next[0] !== prev[0] || next[1] > prev[1] + 1) {
    const stepMinor = `${prev[0]}.${prev[1] + 1}`;
    throw new ClusterSpecError(cluster, [{
      field: "kubernetesVersion",
      value: version,
      problem: `jumps from ${last}, the version last synthesized for this cluster (${file}), over minor version ${stepMinor}: kubeadm upgrades one minor version at a time`,
      fix: `upgrade one minor at a time: set kubernetesVersion to a ${stepMinor}.x release, deploy and let every node finish, then the next (e.g. 1.35.x -> 1.36.y -> 1.37.z)`,
    }]);
  }
}

export function recordKubernetesVersion(directory: string, version: string): void {
  const file = path.join(directory, VERSION_HISTORY_FILE);
  const content = `${JSON.stringify({ version })}\n`;
  if (fs.existsSync(file) && fs.readFileSync(file, "utf8") === content) return;
  fs.mkdirSync(directory, { recursive: true, mode: 0o700 });
  fs.writeFileSync(`${file}.tmp`, content, { mode: 0o644 });
  fs.renameSync(`${file}.tmp`, file);
}
