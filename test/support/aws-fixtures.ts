/** Shared set-up for the AWS suites: props, a stack around the construct, synth and decode helpers. */
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { App, LocalBackend, TerraformStack, Testing } from "cdktf";
import { AWS_EXAMPLE_STACK, awsExample } from "../../examples/aws/main";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import type { SpecProblem } from "../../src/bootstrap/validation-error";
import { AwsKubeadmCluster, AwsKubeadmClusterProps } from "../../src/constructs/aws";
import { problemsWhenCreating, type Json } from "./stack-json";

export type { Json } from "./stack-json";
export { resourcesOf, settingsOf, synthJson, tempDir, writeFilesOf } from "./stack-json";

/** The example cluster; override what a test is about. */
export function baseProps(pkiDirectory: string, overrides: Partial<AwsKubeadmClusterProps> = {}): AwsKubeadmClusterProps {
  return {
    kubernetesVersion: "1.36.4",
    controlPlane: { replicas: 3, instanceType: "m7i.large" },
    nodePools: [{ name: "general", instanceType: "m7i.xlarge", minSize: 2, maxSize: 10 }],
    pkiDirectory,
    ...overrides,
  };
}

export interface Built {
  readonly app: App;
  readonly stack: TerraformStack;
  readonly cluster: AwsKubeadmCluster;
}

export function build(props: AwsKubeadmClusterProps, id = "prod"): Built {
  const app = Testing.app();
  const stack = new TerraformStack(app, "aws");
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  const cluster = new AwsKubeadmCluster(stack, id, props);
  return { app, stack, cluster };
}

/** The problems a spec is rejected with; also checks nothing was created. Fails when it is accepted. */
export function problemsOf(props: AwsKubeadmClusterProps, id = "prod"): SpecProblem[] {
  return problemsWhenCreating("aws", id, (stack) => new AwsKubeadmCluster(stack, id, props));
}

/**
 * The cloud-config behind a launch template's user_data: either a literal base64(gzip) or
 * `${base64gzip(<concatenation of ${base64decode("...")} parts and references>)}`; references are
 * replaced by `tokens(reference)`.
 */
export function decodeUserDataExpression(expression: string, tokens: (reference: string) => string = (r) => `<${r}>`): string {
  if (!expression.startsWith("${")) return zlib.gunzipSync(Buffer.from(expression, "base64")).toString("utf8");
  const inner = /^\$\{base64gzip\((.*)\)\}$/s.exec(expression);
  if (!inner) throw new Error(`unexpected user data expression: ${expression.slice(0, 120)}`);
  let body = inner[1];
  // The argument is a template string "..." or a bare function call.
  if (body.startsWith('"') && body.endsWith('"')) body = body.slice(1, -1);
  const parts = body.split(/(\$\{[^}]*\})/).filter((p) => p !== "");
  return parts
    .map((part) => {
      const literal = /^\$\{base64decode\("([A-Za-z0-9+/=]*)"\)\}$/.exec(part) ?? /^base64decode\("([A-Za-z0-9+/=]*)"\)$/.exec(part);
      if (literal) return Buffer.from(literal[1], "base64").toString("utf8");
      const ref = /^\$\{(.*)\}$/.exec(part);
      if (ref) return tokens(ref[1]);
      throw new Error(`unexpected part in user data expression: ${part.slice(0, 120)}`);
    })
    .join("");
}


/** Synthesizes the example app into `outdir` with cdktf context (as `cdktf synth` passes it): the stack directory, its JSON and the construct. */
export function synthAwsExample(outdir: string, context: Record<string, string>): { dir: string; json: Json; cluster: AwsKubeadmCluster } {
  fs.mkdirSync(path.dirname(outdir), { recursive: true });
  const app = new App({ outdir, context });
  awsExample(app);
  const stack = app.node.findChild(AWS_EXAMPLE_STACK) as TerraformStack;
  new LocalBackend(stack, { path: "terraform.tfstate" }); // relative: nothing machine-specific in the output
  app.synth();
  const dir = path.join(outdir, "stacks", AWS_EXAMPLE_STACK);
  const cluster = stack.node.findAll().find((c): c is AwsKubeadmCluster => c instanceof AwsKubeadmCluster)!;
  return { dir, json: JSON.parse(fs.readFileSync(path.join(dir, "cdk.tf.json"), "utf8")), cluster };
}
