/** Shared set-up for the GCE suites: props, a stack around the construct, synth and decode helpers. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { App, TerraformStack, Testing } from "cdktf";
import { GoogleProvider } from "@cdktf/provider-google/lib/provider";
import { ClusterSpecError, SpecProblem } from "../../src/bootstrap/validation-error";
import { GceKubeadmCluster, GceKubeadmClusterProps } from "../../src/constructs/gce";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** The example cluster on GCE; override what a test is about. */
export function baseProps(pkiDirectory: string, overrides: Partial<GceKubeadmClusterProps> = {}): GceKubeadmClusterProps {
  return {
    project: "my-project-123",
    region: "europe-west4",
    kubernetesVersion: "1.36.4",
    controlPlane: { replicas: 3, machineType: "n2-standard-2" },
    nodePools: [{ name: "general", machineType: "n2-standard-4", minSize: 2, maxSize: 10 }],
    pkiDirectory,
    ...overrides,
  };
}

export interface Built {
  readonly app: App;
  readonly stack: TerraformStack;
  readonly cluster: GceKubeadmCluster;
}

export function build(props: GceKubeadmClusterProps, id = "prod"): Built {
  const app = Testing.app();
  const stack = new TerraformStack(app, "gce");
  new GoogleProvider(stack, "google", { project: props.project, region: props.region });
  const cluster = new GceKubeadmCluster(stack, id, props);
  return { app, stack, cluster };
}

/** The problems a spec is rejected with; also checks nothing was created. Fails when it is accepted. */
export function problemsOf(props: GceKubeadmClusterProps, id = "prod"): SpecProblem[] {
  const app = Testing.app();
  const stack = new TerraformStack(app, "gce");
  try {
    new GceKubeadmCluster(stack, id, props);
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
 * The text behind a Terraform string expression made by toTerraformString: a concatenation of
 * `${base64decode("...")}` parts and references; references are replaced by `tokens(reference)`.
 */
export function decodeTerraformString(expression: string, tokens: (reference: string) => string = (r) => `<${r}>`): string {
  const parts = expression.split(/(\$\{[^}]*\})/).filter((p) => p !== "");
  return parts
    .map((part) => {
      const literal = /^\$\{base64decode\("([A-Za-z0-9+/=]*)"\)\}$/.exec(part);
      if (literal) return Buffer.from(literal[1], "base64").toString("utf8");
      const ref = /^\$\{(.*)\}$/.exec(part);
      if (ref) return tokens(ref[1]);
      throw new Error(`unexpected part in a user-data expression: ${part.slice(0, 120)}`);
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
