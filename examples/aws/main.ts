/**
 * AWS example: a kubeadm cluster on EC2 in its own VPC, API behind an internet-facing NLB.
 * Tunable through cdktf context (cdktf.json "context", the CDKTF_CONTEXT_JSON environment variable,
 * or App({ context })); every value may be a string:
 *
 *   aws.clusterName               default "demo"
 *   aws.region                    default "eu-west-1"
 *   aws.kubernetesVersion         default the library's DEFAULT_KUBERNETES_VERSION
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

export const AWS_EXAMPLE_STACK = "aws-example";

function text(value: unknown): string | undefined {
  return value === undefined || value === null || value === "" ? undefined : String(value);
}

function integer(value: unknown, key: string, fallback: number): number {
  const given = text(value);
  if (given === undefined) return fallback;
  const n = Number(given);
  if (!Number.isInteger(n)) throw new Error(`aws example: context aws.${key} must be a whole number, got ${JSON.stringify(value)}`);
  return n;
}

function list(value: unknown): string[] | undefined {
  if (Array.isArray(value)) return value.map(String);
  const given = text(value);
  if (given === undefined) return undefined;
  if (given.trim().startsWith("[")) return (JSON.parse(given) as unknown[]).map(String);
  return given.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** Adds the AWS example stack to the app. */
export function awsExample(app: App): void {
  const ctx = (key: string): unknown => app.node.tryGetContext(`aws.${key}`);
  const stack = new TerraformStack(app, AWS_EXAMPLE_STACK);
  const name = text(ctx("clusterName")) ?? "demo";

  new AwsProvider(stack, "aws", {
    region: text(ctx("region")) ?? "eu-west-1",
    defaultTags: [{ tags: { "cdktf-kubeadm/cluster": name, "managed-by": "cdktf" } }],
  });

  const workers = integer(ctx("workerCount"), "workerCount", 2);
  const imageId = text(ctx("imageId"));
  new AwsKubeadmCluster(stack, "cluster", {
    name,
    kubernetesVersion: text(ctx("kubernetesVersion")),
    controlPlane: {
      replicas: integer(ctx("controlPlaneReplicas"), "controlPlaneReplicas", 3),
      instanceType: text(ctx("controlPlaneInstanceType")) ?? "m7i.large",
    },
    nodePools: [
      {
        name: "general",
        instanceType: text(ctx("workerInstanceType")) ?? "m7i.large",
        minSize: workers,
        desiredSize: workers,
        maxSize: Math.max(2 * workers, 3),
        labels: { "node.kubernetes.io/pool": "general" },
      },
    ],
    network: { natGateways: (text(ctx("natGateways")) ?? "single") as "single" | "one-per-az" | "none" },
    apiLoadBalancer: { internetFacing: true, allowedCidrs: list(ctx("apiAllowedCidrs")) ?? ["0.0.0.0/0"] },
    image: imageId ? { imageId } : undefined,
    pkiDirectory: text(ctx("pkiDirectory")),
  });
}
