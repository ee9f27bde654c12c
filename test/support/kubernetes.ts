/**
 * Real Kubernetes for the tests: the commands test/k8s/build.sh builds from the Go module proxy
 * (kubeadm, kube-apiserver, …, etcd) and the kubeadm configs every example synthesizes, as a node
 * gets them. `npm test` builds (or reuses) the binaries before jest starts; a suite that finds
 * them missing fails with the command that builds them.
 */
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App, TerraformStack } from "cdktf";
import { NODE_LAYOUT } from "../../src/bootstrap/node-layout";
import { BOOTSTRAP_TOKEN_PLACEHOLDER, pkiFiles, secretAudience } from "../../src/bootstrap/secret-bundle";
import { NodeRole, roleName } from "../../src/bootstrap/spec";
import { KubeadmCluster } from "../../src/constructs/kubeadm-cluster";
import { awsExample } from "../../examples/aws/main";
import { baremetalExample } from "../../examples/baremetal/main";
import { gceExample } from "../../examples/gce/main";

/** test/k8s/versions.env: the releases test/k8s/build-all.sh builds. */
const VERSIONS: Record<string, string> = Object.fromEntries(
  fs.readFileSync(path.resolve(__dirname, "../k8s/versions.env"), "utf8").split("\n")
    .map((l) => /^([A-Z_]+)=(\S+)$/.exec(l)).filter((m): m is RegExpExecArray => m !== null).map((m) => [m[1], m[2]]),
);
/** The release the real-Kubernetes tests run (the library's default, 1.36.4, is not served here). */
export const KUBERNETES_TEST_VERSION = VERSIONS.KUBERNETES_TEST_VERSION;
/** The next minor, for upgrades and the newest kubeadm. */
export const KUBERNETES_NEXT_VERSION = VERSIONS.KUBERNETES_NEXT_VERSION;
/** The oldest minor with a build here (the library accepts 1.33 too: no 1.33 module is served). */
export const KUBERNETES_OLDEST_VERSION = VERSIONS.KUBERNETES_OLDEST_VERSION;

export const KUBERNETES_CACHE = process.env.CDKTF_KUBEADM_CACHE ?? path.join(os.homedir(), ".cache", "cdktf-kubeadm");

/** Absolute path of a built command of that release; throws how to build it when it is missing. */
export function kubernetesCommand(version: string, tool: string): string {
  const file = path.join(KUBERNETES_CACHE, "k8s", `v${version}`, "bin", tool);
  if (!fs.existsSync(file)) {
    throw new Error(`${tool} v${version} is not built: run \`bash test/k8s/build.sh v${version} ${tool}\` (npm test does it first; the first build takes minutes)`);
  }
  return file;
}

/** etcdctl or etcdutl (test/k8s/etcd: the etcd release the test version's kubeadm pins), built by build-all.sh. */
export function etcdTool(tool: "etcdctl" | "etcdutl"): string {
  const file = path.join(KUBERNETES_CACHE, "etcd", "bin", tool);
  if (!fs.existsSync(file)) throw new Error(`${tool} is not built: run \`bash test/k8s/build-tools.sh etcd\` (npm test does it first)`);
  return file;
}

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout + stderr, for failure messages. */
  readonly output: string;
}

export function result(r: SpawnSyncReturns<string>): CommandResult {
  if (r.error) throw r.error;
  const stdout = r.stdout ?? "";
  const stderr = r.stderr ?? "";
  return { code: r.status, stdout, stderr, output: `${stdout}${stderr}` };
}

/** "exit 0", or the exit code with the output's last lines: a failure message that says why. */
export function outcome(r: CommandResult, lastLines = 25): string {
  return r.code === 0 ? "exit 0" : `exit ${r.code}:\n${r.output.trim().split("\n").slice(-lastLines).join("\n")}`;
}

export function run(command: string, args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): CommandResult {
  return result(spawnSync(command, args, { encoding: "utf8", input: opts.input, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 120_000 }));
}

/** What Terraform would put where the synthesized files hold a token (an LB DNS name, an address). */
export const RESOLVED_ENDPOINT_HOST = "api.cluster.example.com";
const TOKEN = /\$\{TfToken\[[^\]]+\]\}/g;

/** Text with every cdktf token replaced by RESOLVED_ENDPOINT_HOST. */
export function resolveTokens(text: string): string {
  return text.replace(TOKEN, RESOLVED_ENDPOINT_HOST);
}

/** kubeadm configs of one node role, with tokens and the join-token placeholder resolved as on the node. */
export interface RoleConfigs {
  readonly platform: string;
  readonly cluster: KubeadmCluster;
  readonly role: NodeRole;
  readonly name: string;
  /** Path on the node -> content, for every file the role gets from user data (or seed, or SSH). */
  readonly files: Record<string, string>;
  /** The PKI files the node places (from user data, or from the secret store's bundle): path -> content and mode. */
  readonly pki: Record<string, { content: string; mode: number }>;
  readonly initConfig?: string;
  readonly joinConfig: string;
  /** Control plane with an upgrade channel: the upgrade agent's `kubeadm upgrade --config`. */
  readonly upgradeConfig?: string;
}

/** The node's view of one role: tokens resolved, the secret-store placeholder replaced by the token. */
export function roleConfigs(platform: string, cluster: KubeadmCluster, role: NodeRole): RoleConfigs {
  const resolve = (text: string) => resolveTokens(text).split(BOOTSTRAP_TOKEN_PLACEHOLDER).join(cluster.pki.bootstrapToken);
  const files = Object.fromEntries(cluster.nodeFiles(role).map((f) => [f.path, resolve(f.content)]));
  return {
    platform,
    cluster,
    role,
    name: roleName(role),
    files,
    pki: Object.fromEntries(pkiFiles(cluster.pki, secretAudience(role)).map((f) => [f.path, { content: f.content, mode: parseInt(f.permissions, 8) }])),
    initConfig: files[NODE_LAYOUT.initConfig],
    joinConfig: files[NODE_LAYOUT.joinConfig],
    upgradeConfig: files[NODE_LAYOUT.upgradeConfig],
  };
}

/** Every KubeadmCluster an app holds. */
export function clustersOf(app: App): KubeadmCluster[] {
  return app.node.findAll().filter((c): c is KubeadmCluster => c instanceof KubeadmCluster);
}

/**
 * The three example stacks at a Kubernetes version, their PKI stores and seeds in `workDir`:
 * every role of every cluster, as its node gets the files.
 */
export function exampleRoles(version: string, workDir: string): RoleConfigs[] {
  const context: Record<string, string> = {
    "aws.kubernetesVersion": version,
    "aws.pkiDirectory": path.join(workDir, "pki-aws"),
    "aws.imageId": "ami-0123456789abcdef0",
    "gce.kubernetesVersion": version,
    "gce.project": "example-project",
    "gce.pkiDirectory": path.join(workDir, "pki-gce"),
    "baremetal.kubernetesVersion": version,
    "baremetal.pkiDirectory": path.join(workDir, "pki-baremetal"),
    "baremetal.seedDirectory": path.join(workDir, "seeds"),
  };
  fs.mkdirSync(workDir, { recursive: true });
  const roles: RoleConfigs[] = [];
  const examples: [string, (app: App) => void][] = [["aws", awsExample], ["gce", gceExample], ["baremetal", baremetalExample]];
  for (const [platform, add] of examples) {
    const app = new App({ outdir: path.join(workDir, `out-${platform}`), context });
    add(app);
    for (const cluster of clustersOf(app)) {
      for (const role of cluster.roles()) roles.push(roleConfigs(platform, cluster, role));
    }
  }
  return roles;
}

/** A stack for one cluster built in `create` (the reference cluster, a deliberately broken one). */
export function stackFor(workDir: string, create: (stack: TerraformStack) => void): App {
  const app = new App({ outdir: path.join(workDir, "out") });
  create(new TerraformStack(app, "real-kubernetes"));
  return app;
}
