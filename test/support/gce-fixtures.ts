/** Shared set-up for the GCE suites: props, a stack around the construct, synth and decode helpers. */
import { App, TerraformStack, Testing } from "cdktf";
import { GoogleProvider } from "@cdktf/provider-google/lib/provider";
import type { SpecProblem } from "../../src/bootstrap/validation-error";
import { GceKubeadmCluster, GceKubeadmClusterProps } from "../../src/constructs/gce";
import { problemsWhenCreating } from "./stack-json";

export type { Json } from "./stack-json";
export { resourcesOf, settingsOf, synthJson, tempDir, writeFilesOf } from "./stack-json";

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
  return problemsWhenCreating("gce", id, (stack) => new GceKubeadmCluster(stack, id, props));
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

