/** Shared set-up for the bare-metal suites: inventories, a stack around the construct, synth helpers. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App, Fn, TerraformStack, Testing } from "cdktf";
import { ClusterSpecError, SpecProblem } from "../../src/bootstrap/validation-error";
import { BaremetalHost, BaremetalKubeadmCluster, BaremetalKubeadmClusterProps } from "../../src/constructs/baremetal";

export const NODE_CIDR = "192.168.10.0/24";
export const VIP = "192.168.10.10";

export function hosts3x2(): BaremetalHost[] {
  return [
    { name: "cp-1", address: "192.168.10.11", role: "control-plane" },
    { name: "cp-2", address: "192.168.10.12", role: "control-plane" },
    { name: "cp-3", address: "192.168.10.13", role: "control-plane" },
    { name: "worker-1", address: "192.168.10.21", role: "worker", pool: "general" },
    { name: "worker-2", address: "192.168.10.22", role: "worker", pool: "general" },
  ];
}

/** A valid kube-vip cluster with SSH delivery; override what a test is about. */
export function baseProps(dirs: { pki: string; seeds: string }, overrides: Partial<BaremetalKubeadmClusterProps> = {}): BaremetalKubeadmClusterProps {
  return {
    name: "metal",
    hosts: hosts3x2(),
    nodeCidr: NODE_CIDR,
    apiEndpoint: { type: "kube-vip", address: VIP, interface: "eno1" },
    ssh: { user: "ubuntu", privateKey: Fn.file("~/.ssh/id_ed25519") },
    pkiDirectory: dirs.pki,
    seedFiles: { directory: dirs.seeds },
    ...overrides,
  };
}

export interface Built {
  readonly app: App;
  readonly stack: TerraformStack;
  readonly cluster: BaremetalKubeadmCluster;
}

export function build(props: BaremetalKubeadmClusterProps, outdir?: string): Built {
  const app = outdir ? new App({ outdir }) : Testing.app();
  const stack = new TerraformStack(app, "metal");
  const cluster = new BaremetalKubeadmCluster(stack, "cluster", props);
  return { app, stack, cluster };
}

/** The problems a spec is rejected with (fails the test when it is accepted). */
export function problemsOf(props: BaremetalKubeadmClusterProps): SpecProblem[] {
  try {
    build(props);
  } catch (error) {
    if (error instanceof ClusterSpecError) return [...error.problems];
    throw error;
  }
  throw new Error("expected a ClusterSpecError, but the spec was accepted");
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export function synthJson(stack: TerraformStack): Json {
  return JSON.parse(Testing.synth(stack));
}

/** The literal text behind `${base64decode("...")}` (how literal scripts travel in the configuration). */
export function decodeTerraformString(expression: string): string {
  const match = /^\$\{base64decode\("([A-Za-z0-9+/=]*)"\)\}$/.exec(expression);
  if (!match) throw new Error(`not a base64decode() expression: ${expression.slice(0, 80)}`);
  return Buffer.from(match[1], "base64").toString("utf8");
}

/** provisioner blocks of a terraform_data resource as [type, body] pairs. */
export function provisioners(resource: Json): [string, Json][] {
  return (resource.provisioner as Json[]).map((p) => Object.entries(p)[0] as [string, Json]);
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Deterministic pseudo-random numbers (mulberry32) for property tests without a dependency. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
