/**
 * Where the control plane's backup agent stores etcd snapshots on AWS: a bucket of its own
 * (versioned, SSE-KMS, public access blocked, TLS only, lifecycle rules per kind of copy) or an
 * existing one, and the control-plane role's permission to put objects under the prefix, nothing
 * else: snapshot names never repeat (src/bootstrap/etcd-backup.ts), so no node reads, lists or
 * deletes. A snapshot holds every Secret of the cluster: the bucket policy lets no other principal
 * write under the prefix, and reading is for whoever the account's IAM allows (restores).
 */
import { Fn } from "cdktf";
import { Construct } from "constructs";
import type { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import type { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region";
import type { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { backupExpirations, EtcdBackup } from "../../bootstrap/etcd-backup";
import { resourceTags } from "./names";
import type { ResolvedAwsEtcdBackup } from "./resolve-aws";

export interface EtcdBackupBucketProps {
  readonly clusterName: string;
  readonly backup: ResolvedAwsEtcdBackup;
  /** The control-plane instance role: the only writer. */
  readonly writer: IamRole;
  readonly region: DataAwsRegion;
  readonly partition: DataAwsPartition;
  readonly tags: Record<string, string>;
}

/** Days a replaced or deleted snapshot version stays: time to notice a node overwriting backups. */
export const NONCURRENT_SNAPSHOT_DAYS = 30;

export class EtcdBackupBucket extends Construct {
  /** The bucket created (undefined with an existing `bucketName`). */
  readonly bucket?: S3Bucket;
  readonly versioning?: S3BucketVersioningA;
  readonly encryption?: S3BucketServerSideEncryptionConfigurationA;
  readonly publicAccessBlock?: S3BucketPublicAccessBlock;
  readonly ownershipControls?: S3BucketOwnershipControls;
  readonly lifecycle?: S3BucketLifecycleConfiguration;
  readonly bucketPolicy?: S3BucketPolicy;
  /** s3:PutObject under the prefix (and kms:GenerateDataKey on a customer key) for the control-plane role. */
  readonly writerPolicy: IamRolePolicy;
  /** What the control-plane nodes' backup agent gets. */
  readonly etcdBackup: EtcdBackup;
  readonly bucketName: string;

  constructor(scope: Construct, id: string, props: EtcdBackupBucketProps) {
    super(scope, id);
    const { backup, clusterName } = props;
    if (backup.bucketName === undefined) {
      // bucket_prefix: S3 names are global, Terraform adds a unique suffix (at most 37 characters before it)
      this.bucket = new S3Bucket(this, "bucket", {
        bucketPrefix: `${clusterName.slice(0, 22)}-etcd-backups-`,
        forceDestroy: backup.forceDestroy,
        tags: resourceTags(clusterName, `${clusterName}-etcd-backups`, props.tags),
      });
      const bucket = this.bucket.id;
      this.ownershipControls = new S3BucketOwnershipControls(this, "ownership", { bucket, rule: { objectOwnership: "BucketOwnerEnforced" } });
      this.publicAccessBlock = new S3BucketPublicAccessBlock(this, "public-access-block", {
        bucket, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true,
      });
      this.versioning = new S3BucketVersioningA(this, "versioning", { bucket, versioningConfiguration: { status: "Enabled" } });
      this.encryption = new S3BucketServerSideEncryptionConfigurationA(this, "encryption", {
        bucket,
        rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: backup.kmsKeyArn }, bucketKeyEnabled: true }],
      });
      this.lifecycle = new S3BucketLifecycleConfiguration(this, "lifecycle", {
        bucket,
        dependsOn: [this.versioning],
        rule: backupExpirations(backup.options).map((rule) => ({
          id: `expire-${rule.prefix.replace(/\/$/, "").replace(/[^A-Za-z0-9-]/g, "-")}`,
          status: "Enabled",
          filter: [{ prefix: rule.prefix }],
          expiration: [{ days: rule.days }],
          noncurrentVersionExpiration: [{ noncurrentDays: NONCURRENT_SNAPSHOT_DAYS }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 1 }],
        })),
      });
      const arn = this.bucket.arn;
      this.bucketPolicy = new S3BucketPolicy(this, "policy", {
        bucket,
        dependsOn: [this.publicAccessBlock],
        policy: Fn.jsonencode({
          Version: "2012-10-17",
          Statement: [
            { Sid: "TlsOnly", Effect: "Deny", Principal: "*", Action: "s3:*", Resource: [arn, `${arn}/*`], Condition: { Bool: { "aws:SecureTransport": "false" } } },
            {
              Sid: "OnlyTheControlPlaneWritesSnapshots", Effect: "Deny", Principal: "*", Action: "s3:PutObject", Resource: `${arn}/${backup.prefix}*`,
              Condition: { ArnNotEquals: { "aws:PrincipalArn": props.writer.arn } },
            },
          ],
        }),
      });
    }
    this.bucketName = this.bucket?.id ?? backup.bucketName!;
    const objects = `arn:${props.partition.partition}:s3:::${this.bucketName}/${backup.prefix}*`;
    this.writerPolicy = new IamRolePolicy(this, "writer", {
      name: "cdktf-kubeadm-etcd-backup",
      role: props.writer.name,
      policy: Fn.jsonencode({
        Version: "2012-10-17",
        Statement: [
          { Sid: "PutEtcdSnapshots", Effect: "Allow", Action: "s3:PutObject", Resource: objects },
          ...(backup.kmsKeyArn ? [{
            Sid: "EncryptEtcdSnapshots", Effect: "Allow", Action: "kms:GenerateDataKey", Resource: backup.kmsKeyArn,
            Condition: { StringEquals: { "kms:ViaService": `s3.${props.region.name}.amazonaws.com` } },
          }] : []),
        ],
      }),
    });
    this.etcdBackup = { ...backup.options, target: { kind: "aws-s3", bucket: this.bucketName, prefix: backup.prefix, region: props.region.name } };
  }
}

/**
 * The control-plane role's read of the one snapshot `restore` names (s3://bucket/key): GetObject on
 * that object, and kms:Decrypt through S3 for a customer key.
 */
export function grantSnapshotRead(scope: Construct, id: string, props: { readonly snapshot: string; readonly reader: IamRole; readonly partition: DataAwsPartition; readonly region: DataAwsRegion; readonly kmsKeyArn?: string }): IamRolePolicy {
  const object = props.snapshot.replace(/^s3:\/\//, "");
  return new IamRolePolicy(scope, id, {
    name: "cdktf-kubeadm-etcd-restore",
    role: props.reader.name,
    policy: Fn.jsonencode({
      Version: "2012-10-17",
      Statement: [
        { Sid: "ReadTheSnapshotToRestore", Effect: "Allow", Action: "s3:GetObject", Resource: `arn:${props.partition.partition}:s3:::${object}` },
        ...(props.kmsKeyArn ? [{
          Sid: "DecryptTheSnapshotToRestore", Effect: "Allow", Action: "kms:Decrypt", Resource: props.kmsKeyArn,
          Condition: { StringEquals: { "kms:ViaService": `s3.${props.region.name}.amazonaws.com` } },
        }] : []),
      ],
    }),
  });
}
