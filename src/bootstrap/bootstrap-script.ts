/**
 * The copies of the bundled bootstrap script (src/bootstrap/bootstrap.sh) that nodes run, packed
 * per role and feature (pack-script.ts): the full script, and the loader that user data carries
 * when a secret store holds the full one.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { packScript, ScriptRole } from "./pack-script";
import type { SecretSourceKind } from "./secret-bundle";
import { backupFeatures, EtcdBackupTarget } from "./etcd-backup";
import { UpgradeChannel, upgradeFeatures } from "./upgrade-channel";

let scriptSource: string | undefined;
const packed: Record<string, string> = {};

/** The bundled bootstrap script as written (src/bootstrap/bootstrap.sh, copied next to the compiled JS). */
export function bootstrapScriptSource(): string {
  scriptSource ??= fs.readFileSync(path.join(__dirname, "bootstrap.sh"), "utf8");
  return scriptSource;
}

function pack(role: ScriptRole, features: string[], stage: "full" | "loader"): string {
  const key = `${stage}/${role}/${features.join(",")}`;
  packed[key] ??= packScript(bootstrapScriptSource(), role, features, stage);
  return packed[key]!;
}

/**
 * What a node of this role runs: the packed script, with the code that reads secrets from
 * `secrets` (a SecretSource kind) and nothing for other sources, on control-plane roles the
 * reader of the upgrade channel `upgrade` (workers never carry the upgrade agent), and with
 * `drain` the drain before termination, and on control-plane roles the etcd backup agent that
 * stores snapshots in a `backup` target.
 */
export function bootstrapScript(
  role: ScriptRole, secrets?: SecretSourceKind, upgrade?: UpgradeChannel["kind"], drain?: DrainKind, backup?: EtcdBackupTarget["kind"], restoreSnapshot?: string,
): string {
  const controlPlane = role === "control-plane"
    ? [...upgradeFeatures(upgrade), ...tokenFeatures(secrets, upgrade), ...backupFeatures(backup), ...restoreFeatures(restoreSnapshot)]
    : [];
  return pack(role, [...(secrets ? [secrets] : []), ...controlPlane, ...drainFeatures(role, drain)], "full");
}

/**
 * How workers learn that their machine goes away: "aws", a service watching IMDS for the group's
 * termination lifecycle hook; "gce", the instance's shutdown script.
 */
export type DrainKind = "aws" | "gce";

/** Workers carry the drain code of their platform; control-plane nodes grant nodes their own Node's deletion. */
export function drainFeatures(role: ScriptRole, drain?: DrainKind): string[] {
  if (drain === undefined) return [];
  return role === "worker" ? [`drain-${drain}`] : ["node-drain-rbac"];
}

/**
 * The join-token agent runs from the secret store's timer, or on bare metal (the "file" upgrade
 * channel's platform) from the SSH provisioner; AWS and GCE without a secret store never run it.
 */
export function tokenFeatures(secrets: SecretSourceKind | undefined, upgrade: UpgradeChannel["kind"] | undefined): string[] {
  return secrets !== undefined || upgrade === "file" ? ["token"] : [];
}

/** A control-plane copy that restores this snapshot: the restore step and the reader of its scheme. */
export function restoreFeatures(snapshot: string | undefined): string[] {
  if (snapshot === undefined) return [];
  const scheme = /^(s3|gs):\/\//.exec(snapshot)?.[1];
  return ["restore", ...(scheme ? [`restore-${scheme}`] : [])];
}

/** The full script of a node role (with a secret store it travels in the bundle, not in user data). */
export function fullScript(input: {
  readonly role: { readonly kind: ScriptRole };
  readonly secrets?: { readonly kind: SecretSourceKind };
  readonly upgradeChannel?: { readonly kind: UpgradeChannel["kind"] };
  readonly drain?: { readonly kind: DrainKind };
  readonly etcdBackup?: { readonly target: { readonly kind: EtcdBackupTarget["kind"] } };
  readonly cluster?: { readonly restore?: { readonly snapshot: string } };
}): string {
  return bootstrapScript(input.role.kind, input.secrets?.kind, input.upgradeChannel?.kind, input.drain?.kind, input.etcdBackup?.target.kind, input.cluster?.restore?.snapshot);
}

/**
 * What user data carries with a secret store: the stage-1 loader, which fetches the bundle from
 * `secrets`, checks the full script in it against the sha256 pinned in the settings, installs and
 * runs it. The same for every role.
 */
export function loaderScript(secrets: SecretSourceKind): string {
  return pack("worker", [secrets], "loader");
}

/** sha256 (hex) of a script as the loader checks it. */
export function scriptSha256(script: string): string {
  return crypto.createHash("sha256").update(script, "utf8").digest("hex");
}

/**
 * The full script as the bundle carries it: base64 of gzip. Node's gzip header has no mtime, so
 * the same script gives the same bytes.
 */
export function scriptForBundle(script: string): string {
  return zlib.gzipSync(Buffer.from(script, "utf8"), { level: 9 }).toString("base64");
}
