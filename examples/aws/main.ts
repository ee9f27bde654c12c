/**
 * AWS example: a kubeadm cluster on EC2 in its own VPC, API behind an internet-facing NLB.
 * Tunable through cdktf context (cdktf.json "context", the CDKTF_CONTEXT_JSON environment variable,
 * or App({ context })); every value may be a string:
 *
 *   aws.clusterName               default "demo"
 *   aws.region                    default "eu-west-1"
 *   aws.kubernetesVersion         default the library's DEFAULT_KUBERNETES_VERSION
 *   aws.joinTokenRotation         default none; set or change it to rotate the join token
 *   aws.controlPlaneReplicas      default 3 (1, 3 or 5)
 *   aws.workerCount               default 2 (pool "general": min = desired = workerCount, max = max(2 x workerCount, 3))
 *   aws.controlPlaneInstanceType  default "m7i.large"
 *   aws.workerInstanceType        default "m7i.large"
 *   aws.imageId                   default none: the newest Ubuntu 24.04 LTS AMI (data source)
 *   aws.natGateways               default "single" ("one-per-az" for zone-independent egress, "none")
 *   aws.apiAllowedCidrs           comma-separated or JSON list, default "0.0.0.0/0"
 *   aws.pkiDirectory              default ".cdktf-kubeadm/pki/<clusterName>"
 *
 * Synthesizes without an AWS account; `cdktf deploy aws-example` needs credentials.
 */
import { App, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { AwsKubeadmCluster } from "../../src/constructs/aws";
import { exampleContext } from "../context";

export const AWS_EXAMPLE_STACK = "aws-example";

/** Adds the AWS example stack to the app. */
export function awsExample(app: App): void {
  const ctx = exampleContext(app, "aws");
  const stack = new TerraformStack(app, AWS_EXAMPLE_STACK);
  const name = ctx.text("clusterName") ?? "demo";

  new AwsProvider(stack, "aws", {
    region: ctx.text("region") ?? "eu-west-1",
    defaultTags: [{ tags: { "cdktf-kubeadm/cluster": name, "managed-by": "cdktf" } }],
  });

  const workers = ctx.integer("workerCount", 2);
  const imageId = ctx.text("imageId");
  new AwsKubeadmCluster(stack, "cluster", {
    name,
    kubernetesVersion: ctx.text("kubernetesVersion"),
    bootstrapTokenRotation: ctx.text("joinTokenRotation"),
    controlPlane: {
      replicas: ctx.integer("controlPlaneReplicas", 3),
      instanceType: ctx.text("controlPlaneInstanceType") ?? "m7i.large",
    },
    nodePools: [
      {
        name: "general",
        instanceType: ctx.text("workerInstanceType") ?? "m7i.large",
        minSize: workers,
        desiredSize: workers,
        maxSize: Math.max(2 * workers, 3),
        labels: { "node.kubernetes.io/pool": "general" },
      },
    ],
    network: { natGateways: (ctx.text("natGateways") ?? "single") as "single" | "one-per-az" | "none" },
    apiLoadBalancer: { internetFacing: true, allowedCidrs: ctx.list("apiAllowedCidrs") ?? ["0.0.0.0/0"] },
    image: imageId ? { imageId } : undefined,
    pkiDirectory: ctx.text("pkiDirectory"),
  });
}
