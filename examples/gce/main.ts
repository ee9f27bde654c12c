/**
 * GCE example: a kubeadm cluster on Compute Engine in its own custom-mode network, API behind an
 * external regional passthrough load balancer. Tunable through cdktf context (cdktf.json "context",
 * the CDKTF_CONTEXT_JSON environment variable, or App({ context })); every value may be a string:
 *
 *   gce.project                   default "my-project-123" (set your project id)
 *   gce.region                    default "europe-west4"
 *   gce.clusterName               default "demo-gce"
 *   gce.kubernetesVersion         default the library's DEFAULT_KUBERNETES_VERSION
 *   gce.controlPlaneReplicas      default 3 (1, 3 or 5)
 *   gce.workerCount               default 2 (pool "general": min = desired = workerCount, max = max(2 x workerCount, 3))
 *   gce.controlPlaneMachineType   default "n2-standard-2"
 *   gce.workerMachineType         default "n2-standard-2"
 *   gce.image                     default "projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64"
 *   gce.spot                      default false (workers on Spot VMs when "true")
 *   gce.subnetCidr                default "10.0.0.0/20"
 *   gce.apiAllowedCidrs           comma-separated or JSON list, default "0.0.0.0/0"
 *   gce.pkiDirectory              default ".cdktf-kubeadm/pki/<clusterName>"
 *   gce.secretStore               default true (CA keys and join token in Secret Manager; "false" puts them in user data, less safe)
 *
 * Synthesizes without a Google Cloud account; `cdktf deploy gce-example` needs credentials
 * (GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth application-default login`), Terraform 1.11+
 * (write-only arguments) and the Compute Engine, IAM and Secret Manager APIs.
 */
import { App, TerraformStack } from "cdktf";
import { GoogleProvider } from "@cdktf/provider-google/lib/provider";
import { GceKubeadmCluster } from "../../src/constructs/gce";

export const GCE_EXAMPLE_STACK = "gce-example";

function text(value: unknown): string | undefined {
  return value === undefined || value === null || value === "" ? undefined : String(value);
}

function integer(value: unknown, key: string, fallback: number): number {
  const given = text(value);
  if (given === undefined) return fallback;
  const n = Number(given);
  if (!Number.isInteger(n)) throw new Error(`gce example: context gce.${key} must be a whole number, got ${JSON.stringify(value)}`);
  return n;
}

function flag(value: unknown, key: string): boolean {
  const given = text(value);
  if (given === undefined) return false;
  if (given !== "true" && given !== "false") throw new Error(`gce example: context gce.${key} must be true or false, got ${JSON.stringify(value)}`);
  return given === "true";
}

function list(value: unknown): string[] | undefined {
  if (Array.isArray(value)) return value.map(String);
  const given = text(value);
  if (given === undefined) return undefined;
  if (given.trim().startsWith("[")) return (JSON.parse(given) as unknown[]).map(String);
  return given.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** Adds the GCE example stack to the app. */
export function gceExample(app: App): void {
  const ctx = (key: string): unknown => app.node.tryGetContext(`gce.${key}`);
  const stack = new TerraformStack(app, GCE_EXAMPLE_STACK);
  const project = text(ctx("project")) ?? "my-project-123";
  const region = text(ctx("region")) ?? "europe-west4";
  const name = text(ctx("clusterName")) ?? "demo-gce";

  new GoogleProvider(stack, "google", {
    project,
    region,
    defaultLabels: { "managed-by": "cdktf" },
  });

  const workers = integer(ctx("workerCount"), "workerCount", 2);
  const image = text(ctx("image"));
  const secretStore = text(ctx("secretStore")) === undefined ? true : flag(ctx("secretStore"), "secretStore");
  new GceKubeadmCluster(stack, "cluster", {
    name,
    project,
    region,
    kubernetesVersion: text(ctx("kubernetesVersion")),
    controlPlane: {
      replicas: integer(ctx("controlPlaneReplicas"), "controlPlaneReplicas", 3),
      machineType: text(ctx("controlPlaneMachineType")) ?? "n2-standard-2",
    },
    nodePools: [
      {
        name: "general",
        machineType: text(ctx("workerMachineType")) ?? "n2-standard-2",
        minSize: workers,
        desiredSize: workers,
        maxSize: Math.max(2 * workers, 3),
        spot: flag(ctx("spot"), "spot"),
        labels: { "node.kubernetes.io/pool": "general" },
      },
    ],
    network: { subnetCidr: text(ctx("subnetCidr")) ?? "10.0.0.0/20" },
    apiLoadBalancer: { external: true, allowedCidrs: list(ctx("apiAllowedCidrs")) ?? ["0.0.0.0/0"] },
    image: image ? { image } : undefined,
    pkiDirectory: text(ctx("pkiDirectory")),
    secretStore,
  });
}
