/**
 * GCE example: a kubeadm cluster on Compute Engine in its own custom-mode network, API behind an
 * external regional passthrough load balancer. Tunable through cdktf context (cdktf.json "context",
 * the CDKTF_CONTEXT_JSON environment variable, or App({ context })); every value may be a string:
 *
 *   gce.project                   default "my-project-123" (set your project id)
 *   gce.region                    default "europe-west4"
 *   gce.clusterName               default "demo-gce"
 *   gce.kubernetesVersion         default the library's DEFAULT_KUBERNETES_VERSION
 *   gce.joinTokenRotation         default none; set or change it to rotate the join token
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
import { exampleContext } from "../context";

export const GCE_EXAMPLE_STACK = "gce-example";

/** Adds the GCE example stack to the app. */
export function gceExample(app: App): void {
  const ctx = exampleContext(app, "gce");
  const stack = new TerraformStack(app, GCE_EXAMPLE_STACK);
  const project = ctx.text("project") ?? "my-project-123";
  const region = ctx.text("region") ?? "europe-west4";
  const name = ctx.text("clusterName") ?? "demo-gce";

  new GoogleProvider(stack, "google", {
    project,
    region,
    defaultLabels: { "managed-by": "cdktf" },
  });

  const workers = ctx.integer("workerCount", 2);
  const image = ctx.text("image");
  const secretStore = ctx.flag("secretStore", true);
  new GceKubeadmCluster(stack, "cluster", {
    name,
    project,
    region,
    kubernetesVersion: ctx.text("kubernetesVersion"),
    bootstrapTokenRotation: ctx.text("joinTokenRotation"),
    controlPlane: {
      replicas: ctx.integer("controlPlaneReplicas", 3),
      machineType: ctx.text("controlPlaneMachineType") ?? "n2-standard-2",
    },
    nodePools: [
      {
        name: "general",
        machineType: ctx.text("workerMachineType") ?? "n2-standard-2",
        minSize: workers,
        desiredSize: workers,
        maxSize: Math.max(2 * workers, 3),
        spot: ctx.flag("spot", false),
        labels: { "node.kubernetes.io/pool": "general" },
      },
    ],
    network: { subnetCidr: ctx.text("subnetCidr") ?? "10.0.0.0/20" },
    apiLoadBalancer: { external: true, allowedCidrs: ctx.list("apiAllowedCidrs") ?? ["0.0.0.0/0"] },
    image: image ? { image } : undefined,
    pkiDirectory: ctx.text("pkiDirectory"),
    secretStore,
  });
}
