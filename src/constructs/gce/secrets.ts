/**
 * Secrets out of user data on GCE (default; `secretStore: false` turns it off).
 *
 * One Secret Manager secret per audience (`<cluster>-control-plane-bootstrap`: the CA keys, sa.key
 * and the join token; `<cluster>-worker-bootstrap`: the join token only), each readable by its own
 * node service accounts alone (roles/secretmanager.secretAccessor on that secret, never on the
 * project), so a worker cannot read the CA keys.
 *
 * The payload never passes through the synthesized JSON nor the Terraform state: the version's
 * `secret_data_wo` (a write-only argument, Terraform 1.11+) is `file("<PKI store>/bundles/<audience>.json")`,
 * read by Terraform at apply time from the bundle KubeadmCluster writes into the PKI store (0600).
 * `secret_data_wo_version` is derived from the bundle's SHA-256, so a changed bundle (new token,
 * rotated CA) makes a new version and an unchanged one leaves the plan empty.
 *
 * Nodes read `projects/<project>/secrets/<id>/versions/latest` at boot with the metadata server's
 * token for their service account (bootstrap.sh `secrets` step). The version is created before the
 * old one is destroyed, so `latest` always names an enabled version.
 *
 * Replication is user-managed in the cluster's region, not automatic: the CA keys stay in the
 * region the cluster runs in (organisation policies restricting resource locations refuse
 * automatic replication, which spans every region), and a secret only a region's nodes read gains
 * nothing from other regions' replicas: when the region is down, so is the cluster.
 */
import { Fn, ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { SecretManagerSecret } from "@cdktf/provider-google/lib/secret-manager-secret";
import { SecretManagerSecretIamMember } from "@cdktf/provider-google/lib/secret-manager-secret-iam-member";
import { SecretManagerSecretVersion } from "@cdktf/provider-google/lib/secret-manager-secret-version";
import type { SecretAudience, SecretSource } from "../../bootstrap/secret-bundle";
import type { KubeadmCluster } from "../kubeadm-cluster";
import { requireWriteOnlyArguments, writeOnlyVersion } from "../terraform-version";
import { resourceLabels } from "./names";

export const SECRET_AUDIENCES: readonly SecretAudience[] = ["control-plane", "worker"];

/** The only role nodes get on their secret: read the payload of its versions. */
export const SECRET_ACCESSOR_ROLE = "roles/secretmanager.secretAccessor";

/** Secret Manager secret ids: 1-255 of [A-Za-z0-9_-]. */
const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;

/** `<cluster>-<audience>-bootstrap` (a cluster name is a DNS label of at most 63 characters). */
export function bootstrapSecretId(clusterName: string, audience: SecretAudience): string {
  const id = `${clusterName}-${audience}-bootstrap`;
  if (!SECRET_ID.test(id)) throw new Error(`cdktf-kubeadm: secret id ${JSON.stringify(id)} is not a Secret Manager secret id`);
  return id;
}

/** What nodes of the audience read: the secret's latest version (project may be a token). */
export function bootstrapSecretVersionName(project: string, clusterName: string, audience: SecretAudience): string {
  return `projects/${project}/secrets/${bootstrapSecretId(clusterName, audience)}/versions/latest`;
}

/** KubeadmClusterProps.secrets for a GCE cluster. */
export function gceSecretSources(project: string, clusterName: string): Record<SecretAudience, SecretSource> {
  return {
    "control-plane": { kind: "gce-secretmanager", secretVersion: bootstrapSecretVersionName(project, clusterName, "control-plane") },
    worker: { kind: "gce-secretmanager", secretVersion: bootstrapSecretVersionName(project, clusterName, "worker") },
  };
}

/** `secret_data_wo_version` of a bundle (the same digest-derived number as on AWS). */
export const bundleVersion = writeOnlyVersion;

export interface GceBootstrapSecretsProps {
  readonly clusterName: string;
  readonly project: string;
  readonly region: string;
  /** The user's GCE labels. */
  readonly labels: Record<string, string>;
  readonly kubeadm: KubeadmCluster;
}

/** One audience's secret, its version and who may read it. */
export interface GceBootstrapSecret {
  readonly secret: SecretManagerSecret;
  readonly version: SecretManagerSecretVersion;
  /** Absolute path of the bundle in the PKI store (mode 0600) that Terraform reads at apply. */
  readonly bundleFile: string;
  /** secret_data_wo_version. */
  readonly bundleVersion: number;
  /** roles/secretmanager.secretAccessor bindings on this secret, by member. */
  readonly accessors: Map<string, SecretManagerSecretIamMember>;
}

export class GceBootstrapSecrets extends Construct {
  readonly secrets: Readonly<Record<SecretAudience, GceBootstrapSecret>>;
  private readonly project: string;

  constructor(scope: Construct, id: string, props: GceBootstrapSecretsProps) {
    super(scope, id);
    requireWriteOnlyArguments(this);
    this.project = props.project;
    const make = (audience: SecretAudience): GceBootstrapSecret => {
      const secret = new SecretManagerSecret(this, `${audience}-secret`, {
        project: props.project,
        secretId: bootstrapSecretId(props.clusterName, audience),
        labels: resourceLabels(props.clusterName, props.labels, { "cdktf-kubeadm-audience": audience }),
        annotations: {
          "cdktf-kubeadm-contents":
            audience === "control-plane" ? "bootstrap token, CA keys (cluster, front-proxy, etcd) and service-account signing key" : "bootstrap token",
        },
        replication: { userManaged: { replicas: [{ location: props.region }] } },
      });
      const bundleFile = props.kubeadm.writeSecretBundle(audience);
      const woVersion = bundleVersion(props.kubeadm.secretBundle(audience));
      const version = new SecretManagerSecretVersion(this, `${audience}-version`, {
        secret: secret.id,
        // Read by Terraform at apply time; write-only: neither in this JSON nor in the state.
        secretDataWo: Fn.file(bundleFile),
        secretDataWoVersion: woVersion,
        // `latest` must always name an enabled version: the new one exists before the old one goes.
        lifecycle: { createBeforeDestroy: true },
      });
      return { secret, version, bundleFile, bundleVersion: woVersion, accessors: new Map() };
    };
    this.secrets = { "control-plane": make("control-plane"), worker: make("worker") };
  }

  /**
   * Lets `member` ("serviceAccount:...", may be a token) read the audience's secret; one binding
   * per distinct member. `key` names the binding's construct (e.g. the group).
   */
  grant(audience: SecretAudience, key: string, member: string): SecretManagerSecretIamMember {
    const s = this.secrets[audience];
    const existing = s.accessors.get(member);
    if (existing) return existing;
    const binding = new SecretManagerSecretIamMember(this, `${audience}-reader-${key}`, {
      project: this.project,
      secretId: s.secret.id,
      role: SECRET_ACCESSOR_ROLE,
      member,
    });
    s.accessors.set(member, binding);
    return binding;
  }

  /** What a node of the audience needs before it boots: the version and every read binding so far. */
  bootDependencies(audience: SecretAudience): ITerraformDependable[] {
    const s = this.secrets[audience];
    return [s.version, ...s.accessors.values()];
  }
}
