/**
 * Where the control plane's backup agent stores etcd snapshots on GCE: a regional Cloud Storage
 * bucket of its own (versioned, uniform bucket-level access, public access prevented, lifecycle
 * rules per kind of copy, optional CMEK) or an existing one, and the control-plane service
 * account's roles/storage.objectCreator on it, conditioned on the prefix. The agent creates objects
 * with ifGenerationMatch=0 (src/bootstrap/bootstrap.sh bput_gce): it never needs to read, list,
 * replace or delete one. A snapshot holds every Secret of the cluster.
 */
import * as crypto from "crypto";
import { Fn } from "cdktf";
import { Construct } from "constructs";
import { StorageBucket } from "@cdktf/provider-google/lib/storage-bucket";
import { StorageBucketIamMember } from "@cdktf/provider-google/lib/storage-bucket-iam-member";
import { backupExpirations, EtcdBackup } from "../../bootstrap/etcd-backup";
import { isToken } from "../platform-validation";
import { resourceLabels } from "./names";
import type { ResolvedGceEtcdBackup } from "./resolve-gce";

export interface GceEtcdBackupBucketProps {
  readonly clusterName: string;
  readonly project: string;
  readonly region: string;
  readonly backup: ResolvedGceEtcdBackup;
  readonly labels: Record<string, string>;
}

/** Days a replaced or deleted snapshot's noncurrent version stays. */
export const NONCURRENT_SNAPSHOT_DAYS = 30;

/** The only role the control plane gets on the bucket: create objects (no read, list, replace or delete). */
export const SNAPSHOT_WRITER_ROLE = "roles/storage.objectCreator";

export class GceEtcdBackupBucket extends Construct {
  /** The bucket created (undefined with an existing `bucketName`). */
  readonly bucket?: StorageBucket;
  readonly bucketName: string;
  /** Set by grantWriter. */
  writer?: StorageBucketIamMember;
  /** What the control-plane nodes' backup agent gets. */
  readonly etcdBackup: EtcdBackup;
  private readonly props: GceEtcdBackupBucketProps;

  constructor(scope: Construct, id: string, props: GceEtcdBackupBucketProps) {
    super(scope, id);
    this.props = props;
    const { backup, clusterName } = props;
    if (backup.bucketName === undefined) {
      // Bucket names are global: the project (unique) and cluster, hashed, make it this cluster's.
      const key = `${props.project}/${clusterName}`;
      const suffix = isToken(props.project) ? Fn.substr(Fn.sha256(key), 0, 10) : crypto.createHash("sha256").update(key).digest("hex").slice(0, 10);
      this.bucket = new StorageBucket(this, "bucket", {
        name: `${clusterName.slice(0, 36)}-etcd-backups-${suffix}`,
        project: props.project,
        location: props.region,
        storageClass: "STANDARD",
        uniformBucketLevelAccess: true,
        publicAccessPrevention: "enforced",
        forceDestroy: backup.forceDestroy,
        versioning: { enabled: true },
        encryption: backup.kmsKeyName ? { defaultKmsKeyName: backup.kmsKeyName } : undefined,
        lifecycleRule: [
          ...backupExpirations(backup.options).map((rule) => ({ condition: { age: rule.days, matchesPrefix: [rule.prefix], withState: "LIVE" }, action: { type: "Delete" } })),
          { condition: { daysSinceNoncurrentTime: NONCURRENT_SNAPSHOT_DAYS, withState: "ARCHIVED" }, action: { type: "Delete" } },
        ],
        labels: resourceLabels(clusterName, props.labels, { "cdktf-kubeadm-purpose": "etcd-backups" }),
      });
    }
    this.bucketName = this.bucket?.name ?? backup.bucketName!;
    this.etcdBackup = { ...backup.options, target: { kind: "gce-gcs", bucket: this.bucketName, prefix: backup.prefix } };
  }

  /** Lets `member` (the control-plane service account) create objects under the prefix, nothing else. */
  grantWriter(member: string): StorageBucketIamMember {
    const prefix = this.props.backup.prefix;
    this.writer = new StorageBucketIamMember(this, "writer", {
      bucket: this.bucketName,
      role: SNAPSHOT_WRITER_ROLE,
      member,
      condition: {
        title: "etcd-snapshots-only",
        description: `Objects under ${prefix || "the bucket root"} only`,
        expression: `resource.name.startsWith("projects/_/buckets/${this.bucketName}/objects/${prefix}")`,
      },
    });
    return this.writer;
  }
}

/** The control-plane service account's read of the one snapshot `restore` names (gs://bucket/object). */
export function grantSnapshotRead(scope: Construct, id: string, snapshot: string, member: string): StorageBucketIamMember {
  const [bucket, ...object] = snapshot.replace(/^gs:\/\//, "").split("/");
  return new StorageBucketIamMember(scope, id, {
    bucket,
    role: "roles/storage.objectViewer",
    member,
    condition: {
      title: "etcd-restore-snapshot-only",
      description: "The snapshot the control plane restores",
      expression: `resource.name == "projects/_/buckets/${bucket}/objects/${object.join("/")}"`,
    },
  });
}
