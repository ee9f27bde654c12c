/**
 * `restore` at synth, on every platform: the snapshot form each platform's control plane can read
 * (refused otherwise, naming the field), RESTORE_SNAPSHOT on control-plane slot 0 only (it alone
 * may init; the other slots join the restored cluster), the restore step in the control-plane
 * script, and the control plane's read access to that one object. The restore itself runs against
 * real etcd and a real API server in test/real-control-plane.test.ts ("restore"), its order around
 * kubeadm init in test/bootstrap-backup.test.ts.
 */
import * as fs from "fs";
import * as path from "path";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import type { NodeRole } from "../src/bootstrap/spec";
import type { KubeadmCluster } from "../src/constructs/kubeadm-cluster";
import * as aws from "./support/aws-fixtures";
import * as baremetal from "./support/baremetal-fixtures";
import * as gce from "./support/gce-fixtures";
import { resourcesOf, synthJson, tempDir } from "./support/stack-json";

const dir = tempDir("restore-synth-");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const pki = (name: string) => path.join(dir, name);
const settingsOf = (kubeadm: KubeadmCluster, role: NodeRole) => kubeadm.nodeFiles(role).find((f) => f.path === NODE_LAYOUT.settings)!.content;
const scriptOf = (kubeadm: KubeadmCluster, role: NodeRole) => kubeadm.nodeFiles(role).find((f) => f.path === NODE_LAYOUT.script)!.content;

describe("AWS", () => {
  const SNAPSHOT = "s3://prod-etcd-backups-2026/prod/daily/etcd-20261206.db";
  const built = aws.build(aws.baseProps(pki("aws"), { restore: { snapshot: SNAPSHOT } }));
  const json = synthJson(built.stack);

  test("slot 0 restores (with the region of the bucket), the other slots do not; the bundle's control-plane script carries the S3 reader", () => {
    expect(settingsOf(built.cluster.kubeadm, { kind: "control-plane", slot: 0 })).toMatch(new RegExp(`^RESTORE_SNAPSHOT='${SNAPSHOT}'\\nRESTORE_REGION='\\$\\{TfToken\\[[^\\]]+\\]\\}'$`, "m"));
    expect(settingsOf(built.cluster.kubeadm, { kind: "control-plane", slot: 1 })).not.toContain("RESTORE_");
    const bundle = JSON.parse(built.cluster.kubeadm.secretBundle("control-plane"));
    const script = require("zlib").gunzipSync(Buffer.from(bundle.script, "base64")).toString("utf8") as string;
    expect(script).toContain("restore_then()");
    expect(script).toContain("rfetch_s3()");
    expect(script).not.toContain("rfetch_gs()");
  });

  test("the control plane may read that one object, nothing more", () => {
    const policies = resourcesOf(json, "aws_iam_role_policy").filter(([, p]) => p.name === "cdktf-kubeadm-etcd-restore");
    expect(policies).toHaveLength(1);
    expect(policies[0][1].policy).toMatch(/"Sid" = "ReadTheSnapshotToRestore", "Effect" = "Allow", "Action" = "s3:GetObject", "Resource" = "arn:\$\{data\.aws_partition\.[^}]+\.partition\}:s3:::prod-etcd-backups-2026\/prod\/daily\/etcd-20261206\.db"/);
  });

  test("refused: a gs:// snapshot, and restore without the secret store", () => {
    expect(aws.problemsOf(aws.baseProps(pki("aws-bad"), { restore: { snapshot: "gs://b/etcd.db" } })).map((p) => [p.field, p.fix])).toEqual([["restore.snapshot", expect.stringMatching(/s3:\/\//)]]);
    expect(aws.problemsOf(aws.baseProps(pki("aws-bad2"), { restore: { snapshot: SNAPSHOT }, secretStore: { enabled: false } })).map((p) => p.field)).toEqual(["restore"]);
  });
});

describe("GCE", () => {
  const SNAPSHOT = "gs://prod-etcd-backups-abc/prod/daily/etcd-20261206.db";
  const built = gce.build(gce.baseProps(pki("gce"), { restore: { snapshot: SNAPSHOT } }));
  const json = synthJson(built.stack);

  test("slot 0 restores; the control-plane service account may view that one object", () => {
    expect(settingsOf(built.cluster.kubeadm, { kind: "control-plane", slot: 0 })).toContain(`RESTORE_SNAPSHOT='${SNAPSHOT}'`);
    expect(settingsOf(built.cluster.kubeadm, { kind: "control-plane", slot: 0 })).not.toContain("RESTORE_REGION");
    const readers = resourcesOf(json, "google_storage_bucket_iam_member").filter(([, m]) => m.role === "roles/storage.objectViewer");
    expect(readers).toHaveLength(1);
    expect(readers[0][1]).toMatchObject({ bucket: "prod-etcd-backups-abc", condition: { expression: 'resource.name == "projects/_/buckets/prod-etcd-backups-abc/objects/prod/daily/etcd-20261206.db"' } });
  });

  test("refused: an s3:// snapshot", () => {
    expect(gce.problemsOf(gce.baseProps(pki("gce-bad"), { restore: { snapshot: "s3://b/etcd.db" } })).map((p) => p.field)).toEqual(["restore.snapshot"]);
  });
});

describe("bare metal", () => {
  const dirs = { pki: pki("metal"), seeds: pki("metal-seeds") };
  const SNAPSHOT = "/var/lib/cdktf-kubeadm/etcd-backups/daily/etcd-20261206.db";

  test("control-plane host 0 restores a file on it; the others join", () => {
    const built = baremetal.build(baremetal.baseProps(dirs, { restore: { snapshot: SNAPSHOT } }));
    const kubeadm = built.cluster.kubeadm;
    expect(settingsOf(kubeadm, { kind: "control-plane", slot: 0 })).toContain(`RESTORE_SNAPSHOT='${SNAPSHOT}'`);
    expect(settingsOf(kubeadm, { kind: "control-plane", slot: 2 })).not.toContain("RESTORE_");
    expect(scriptOf(kubeadm, { kind: "control-plane", slot: 0 })).toContain("restore_then()");
    expect(scriptOf(kubeadm, { kind: "worker", pool: "general" })).not.toMatch(/restore_then\(\)|etcdutl/);
  });

  test.each([["a relative path", "backups/etcd.db"], ["an s3:// URI", "s3://b/etcd.db"], ["a path with ..", "/var/../etc/shadow"]])("refused: %s", (_name, snapshot) => {
    expect(baremetal.problemsOf(baremetal.baseProps(dirs, { restore: { snapshot } })).map((p) => p.field)).toEqual(["restore.snapshot"]);
  });
});
