/**
 * etcd backups on GCE, checked on the synthesized JSON (no Google provider here): the bucket (a
 * regional, versioned, uniform-access bucket with public access prevented and lifecycle rules per
 * kind of copy), the control plane's only grant on it (objectCreator under its prefix), the boot
 * order, the control-plane settings and script, and the validation. The agent's uploads:
 * test/bootstrap-backup.test.ts (GCS media uploads that never replace an object).
 */
import * as fs from "fs";
import * as path from "path";
import { bootstrapScript } from "../src/bootstrap/bootstrap-script";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import type { NodeRole } from "../src/bootstrap/spec";
import { baseProps, build, problemsOf } from "./support/gce-fixtures";
import { Json, resourcesOf, synthJson, tempDir } from "./support/stack-json";

const dir = tempDir("gce-backup-");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const pki = (name: string) => path.join(dir, name);

describe("the default: a bucket of the cluster's own, written only by the control plane", () => {
  const built = build(baseProps(pki("prod")));
  const json = synthJson(built.stack);
  const [[bucketId, bucket]] = resourcesOf(json, "google_storage_bucket");

  test("regional, versioned, uniform access, public access prevented, lifecycle rules for recent/hourly/daily and old versions", () => {
    expect(bucket).toMatchObject({
      name: expect.stringMatching(/^prod-etcd-backups-[0-9a-f]{10}$/), project: "my-project-123", location: built.cluster.resolved.region,
      uniform_bucket_level_access: true, public_access_prevention: "enforced", force_destroy: false, versioning: { enabled: true },
      labels: expect.objectContaining({ "cdktf-kubeadm-cluster": "prod", "cdktf-kubeadm-purpose": "etcd-backups" }),
    });
    expect(bucket.encryption).toBeUndefined();
    expect(bucket.lifecycle_rule).toEqual([
      { condition: { age: 1, matches_prefix: ["prod/recent/"], with_state: "LIVE" }, action: { type: "Delete" } },
      { condition: { age: 7, matches_prefix: ["prod/hourly/"], with_state: "LIVE" }, action: { type: "Delete" } },
      { condition: { age: 90, matches_prefix: ["prod/daily/"], with_state: "LIVE" }, action: { type: "Delete" } },
      { condition: { days_since_noncurrent_time: 30, with_state: "ARCHIVED" }, action: { type: "Delete" } },
    ]);
  });

  test("the only grant: the control-plane service account may create objects under the prefix; the control plane boots after it", () => {
    const members = resourcesOf(json, "google_storage_bucket_iam_member");
    expect(members).toHaveLength(1);
    const [[writerId, writer]] = members;
    const [[accountId]] = resourcesOf(json, "google_service_account").filter(([, a]) => a.account_id.includes("control-plane"));
    expect(writer).toMatchObject({
      bucket: `\${google_storage_bucket.${bucketId}.name}`, role: "roles/storage.objectCreator", member: `\${google_service_account.${accountId}.member}`,
      condition: { title: "etcd-snapshots-only", expression: `resource.name.startsWith("projects/_/buckets/\${google_storage_bucket.${bucketId}.name}/objects/prod/")` },
    });
    // each control-plane slot's instance is created once the grant exists (its first snapshot needs it)
    const instances = resourcesOf(json, "google_compute_per_instance_config");
    expect(instances).toHaveLength(3);
    for (const [, instance] of instances) expect(instance.depends_on).toContain(`google_storage_bucket_iam_member.${writerId}`);
    expect(JSON.stringify(json.output.prod_etcd_backup_location.value)).toContain(`google_storage_bucket.${bucketId}.name`);
  });

  test("control-plane nodes get the agent and its target, workers neither", () => {
    const settingsOf = (role: NodeRole) => built.cluster.kubeadm.nodeFiles(role).find((f) => f.path === NODE_LAYOUT.settings)!.content;
    expect(settingsOf({ kind: "control-plane", slot: 0 })).toMatch(/^BACKUP_TARGET='gce-gcs'\nBACKUP_LOCATION='gs:\/\/\$\{TfToken\[[^\]]+\]\}\/prod'\nBACKUP_INTERVAL='15'$/m);
    expect(settingsOf({ kind: "worker", pool: "general" })).not.toContain("BACKUP_");
    expect(bootstrapScript("control-plane", "gce-secretmanager", "gce-metadata", "gce", "gce-gcs")).toContain("bput_gce()");
    expect(bootstrapScript("worker", "gce-secretmanager", undefined, "gce")).not.toMatch(/bput_|etcdctl/);
  });
});

describe("options", () => {
  test("an existing bucket and prefix: no bucket is created, the grant names it; off: nothing at all", () => {
    const json = synthJson(build(baseProps(pki("existing"), { etcdBackup: { bucketName: "corp-etcd-backups", prefix: "k8s/prod/" } })).stack);
    expect(resourcesOf(json, "google_storage_bucket")).toEqual([]);
    const [[, writer]] = resourcesOf(json, "google_storage_bucket_iam_member");
    expect(writer.condition.expression).toBe('resource.name.startsWith("projects/_/buckets/corp-etcd-backups/objects/k8s/prod/")');
    expect(json.output.prod_etcd_backup_location.value).toBe("gs://corp-etcd-backups/k8s/prod");
    const off = synthJson(build(baseProps(pki("off"), { etcdBackup: { enabled: false } })).stack);
    expect(resourcesOf(off, "google_storage_bucket")).toEqual([]);
    expect(resourcesOf(off, "google_storage_bucket_iam_member")).toEqual([]);
    expect(off.output.prod_etcd_backup_location).toBeUndefined();
  });

  test("retention and a customer key reach the bucket", () => {
    const key = "projects/my-project-123/locations/europe-west1/keyRings/etcd/cryptoKeys/backups";
    const json = synthJson(build(baseProps(pki("retention"), { etcdBackup: { kmsKeyName: key, forceDestroy: true, retention: { recentHours: 48, hourlyDays: 14, dailyDays: 365 } } })).stack);
    const [[, bucket]] = resourcesOf(json, "google_storage_bucket");
    expect(bucket.encryption).toEqual({ default_kms_key_name: key });
    expect(bucket.force_destroy).toBe(true);
    expect(bucket.lifecycle_rule.map((r: Json) => r.condition.age)).toEqual([2, 14, 365, undefined]);
  });

  const cases: [string, object, string, RegExp][] = [
    ["a bucket name with capitals", { etcdBackup: { bucketName: "Corp-Backups" } }, "etcdBackup.bucketName", /not a Cloud Storage bucket name/],
    ["a key that is not a Cloud KMS key name", { etcdBackup: { kmsKeyName: "backups-key" } }, "etcdBackup.kmsKeyName", /not a Cloud KMS key name/],
    ["a prefix without its slash", { etcdBackup: { prefix: "etcd" } }, "etcdBackup.prefix", /must be empty or end with '\/'/],
    ["an interval of 2 minutes", { etcdBackup: { intervalMinutes: 2 } }, "etcdBackup.intervalMinutes", /not a whole number from 5 to 1440/],
    ["a control plane that cannot write to Cloud Storage (no secret store)", { secretStore: false, controlPlane: { replicas: 1, serviceAccount: { scopes: ["https://www.googleapis.com/auth/logging.write"] } } },
      "controlPlane.serviceAccount.scopes", /write no Cloud Storage object: its etcd backups/],
  ];
  test.each(cases)("%s is refused, naming the field", (_name, overrides, field, problem) => {
    const problems = problemsOf(baseProps(pki("bad"), overrides));
    expect(problems.map((p) => p.field)).toEqual([field]);
    expect(problems[0].problem).toMatch(problem);
  });
});
