/**
 * The cluster's secrets in AWS Secrets Manager, one secret per audience: the control-plane bundle
 * (CA keys, sa.key, join token) and the worker bundle (join token only). Each is readable only by
 * its nodes' roles: an identity policy on those roles scoped to the secret's ARN, and the secret's
 * resource policy naming exactly those roles. The value is written through the write-only argument
 * `secret_string_wo` from `file()` of the bundle in the PKI store, so it is neither in the
 * synthesized JSON nor in the Terraform state; nodes fetch it at boot with their IMDSv2 role
 * credentials (bootstrap.sh `secrets` step).
 *
 * Two phases because the user data needs the secret ARNs and the bundle needs the PKI:
 * construct (secrets and policies) → KubeadmCluster → storeBundles() (secret versions).
 */
import { Fn, ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region";
import type { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { SecretsmanagerSecretPolicy } from "@cdktf/provider-aws/lib/secretsmanager-secret-policy";
import { SecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/secretsmanager-secret-version";
import type { SecretAudience, SecretSource } from "../../bootstrap/secret-bundle";
import type { KubeadmCluster } from "../kubeadm-cluster";
import { requireWriteOnlyArguments, writeOnlyVersion } from "../terraform-version";

export { writeOnlyVersion };
import { resourceTags } from "./names";

export const SECRET_AUDIENCES: readonly SecretAudience[] = ["control-plane", "worker"];

export interface NodeSecretsProps {
  readonly clusterName: string;
  /** Roles that may read each audience's secret. */
  readonly readers: Readonly<Record<SecretAudience, IamRole[]>>;
  /** Region of the secrets (the nodes sign their requests for it). */
  readonly region: DataAwsRegion;
  /** Customer-managed KMS key of the secrets; the readers get kms:Decrypt on it. @default the aws/secretsmanager key */
  readonly kmsKeyId?: string;
  readonly tags: Record<string, string>;
}

export class NodeSecrets extends Construct {
  /** By audience; an audience without readers (a cluster without node pools) has no secret. */
  readonly secrets: Readonly<Partial<Record<SecretAudience, SecretsmanagerSecret>>>;
  readonly policies: Readonly<Partial<Record<SecretAudience, SecretsmanagerSecretPolicy>>>;
  /** Identity policies on the reader roles, by audience. */
  readonly rolePolicies: Readonly<Partial<Record<SecretAudience, IamRolePolicy[]>>>;
  /** Set by storeBundles(). */
  readonly versions: Partial<Record<SecretAudience, SecretsmanagerSecretVersion>> = {};
  /** What user data refers to, per audience. */
  readonly sources: Readonly<Partial<Record<SecretAudience, SecretSource>>>;

  constructor(scope: Construct, id: string, props: NodeSecretsProps) {
    super(scope, id);
    requireWriteOnlyArguments(this);
    const name = props.clusterName;
    const secrets: Partial<Record<SecretAudience, SecretsmanagerSecret>> = {};
    const policies: Partial<Record<SecretAudience, SecretsmanagerSecretPolicy>> = {};
    const rolePolicies: Partial<Record<SecretAudience, IamRolePolicy[]>> = {};
    const sources: Partial<Record<SecretAudience, SecretSource>> = {};
    // A resource policy may not name zero principals: no readers, no secret.
    for (const audience of SECRET_AUDIENCES.filter((a) => props.readers[a].length > 0)) {
      const secret = new SecretsmanagerSecret(this, `${audience}-secret`, {
        // A prefix, not a name: a destroyed secret's name stays reserved during any recovery window.
        namePrefix: `${name}/bootstrap/${audience}-`,
        description: `cdktf-kubeadm ${name}: bootstrap material of the ${audience} nodes (${audience === "control-plane" ? "CA keys, service-account key, join token" : "join token"})`,
        kmsKeyId: props.kmsKeyId,
        // The PKI store is the source of truth; a lingering deleted copy of CA keys helps nobody.
        recoveryWindowInDays: 0,
        tags: resourceTags(name, `${name}-bootstrap-${audience}`, props.tags, { "cdktf-kubeadm/audience": audience }),
      });
      const readers = props.readers[audience];
      policies[audience] = new SecretsmanagerSecretPolicy(this, `${audience}-policy`, {
        secretArn: secret.arn,
        blockPublicPolicy: true,
        policy: Fn.jsonencode({
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "NodesReadTheirBundle",
              Effect: "Allow",
              Principal: { AWS: readers.map((r) => r.arn) },
              Action: "secretsmanager:GetSecretValue",
              Resource: "*",
            },
          ],
        }),
      });
      rolePolicies[audience] = readers.map(
        (role, i) =>
          new IamRolePolicy(this, `${audience}-reader-${i}`, {
            name: "cdktf-kubeadm-bootstrap-secret",
            role: role.name,
            policy: Fn.jsonencode({
              Version: "2012-10-17",
              Statement: [
                { Sid: "ReadOwnBootstrapSecret", Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: secret.arn },
                ...(props.kmsKeyId
                  ? [
                      {
                        Sid: "DecryptOwnBootstrapSecret",
                        Effect: "Allow",
                        Action: "kms:Decrypt",
                        Resource: props.kmsKeyId,
                        Condition: { StringEquals: { "kms:ViaService": `secretsmanager.${props.region.name}.amazonaws.com` } },
                      },
                    ]
                  : []),
              ],
            }),
          }),
      );
      secrets[audience] = secret;
      sources[audience] = { kind: "aws-secretsmanager", secretId: secret.arn, region: props.region.name };
    }
    this.secrets = secrets;
    this.policies = policies;
    this.rolePolicies = rolePolicies;
    this.sources = sources;
  }

  /** Writes each audience's bundle into the PKI store and stores it as the secret's value (write-only). */
  storeBundles(kubeadm: KubeadmCluster): void {
    for (const audience of SECRET_AUDIENCES) {
      const secret = this.secrets[audience];
      if (!secret) continue;
      const file = kubeadm.writeSecretBundle(audience);
      this.versions[audience] = new SecretsmanagerSecretVersion(this, `${audience}-version`, {
        secretId: secret.id,
        secretStringWo: Fn.file(file),
        secretStringWoVersion: writeOnlyVersion(kubeadm.secretBundle(audience)),
        // A new value is a new version resource (the provider replaces it): create it first, so
        // AWSCURRENT always names a version while nodes may be fetching.
        lifecycle: { createBeforeDestroy: true },
      });
    }
  }

  /** What a node needs in place before it boots: the value and the permissions to read it. */
  get bootDependencies(): ITerraformDependable[] {
    return [
      ...Object.values(this.versions),
      ...Object.values(this.policies),
      ...Object.values(this.rolePolicies).flat(),
    ];
  }
}
