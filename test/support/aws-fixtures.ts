/** Shared set-up for the AWS suites: props, a stack around the construct, synth and decode helpers. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import * as yaml from "js-yaml";
import { App, LocalBackend, TerraformStack, Testing } from "cdktf";
import { AWS_EXAMPLE_STACK, awsExample } from "../../examples/aws/main";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { ClusterSpecError, SpecProblem } from "../../src/bootstrap/validation-error";
import { AwsKubeadmCluster, AwsKubeadmClusterProps } from "../../src/constructs/aws";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

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
  const app = Testing.app();
  const stack = new TerraformStack(app, "aws");
  try {
    new AwsKubeadmCluster(stack, id, props);
  } catch (error) {
    if (!(error instanceof ClusterSpecError)) throw error;
    const created = stack.node.tryFindChild(id);
    if (created && created.node.children.length > 0) {
      throw new Error(`validation ran after constructs were created: ${created.node.children.map((c) => c.node.id).join(", ")}`);
    }
    return [...error.problems];
  }
  throw new Error("expected a ClusterSpecError, but the spec was accepted");
}

export function synthJson(stack: TerraformStack): Json {
  return JSON.parse(Testing.synth(stack));
}

/** Resources of one type as [logical id, body] pairs. */
export function resourcesOf(json: Json, type: string): [string, Json][] {
  return Object.entries(json.resource?.[type] ?? {});
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

/** The files of a cloud-config by path. */
export function writeFilesOf(cloudConfig: string): Record<string, { content: string; permissions: string }> {
  const doc = yaml.load(cloudConfig.replace(/^#cloud-config\n/, "")) as { write_files: { path: string; content: string; permissions: string }[] };
  return Object.fromEntries(doc.write_files.map((f) => [f.path, { content: f.content, permissions: f.permissions }]));
}

/** `KEY='value'` lines of the bootstrap settings file in a cloud-config. */
export function settingsOf(cloudConfig: string, settingsPath: string): Record<string, string> {
  const file = writeFilesOf(cloudConfig)[settingsPath];
  if (!file) throw new Error(`no ${settingsPath} in the cloud-config`);
  return Object.fromEntries([...file.content.matchAll(/^([A-Z][A-Z0-9_]*)='([^']*)'$/gm)].map((m) => [m[1], m[2]]));
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
