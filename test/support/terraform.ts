/**
 * Runs a real engine CLI on synthesized stacks, offline: `terraform` (on the PATH) or OpenTofu's
 * `tofu` (built here from the Go module proxy, test/k8s/opentofu), chosen by CDKTF_KUBEADM_ENGINE.
 * Providers come from the filesystem mirror installed on the machine (found at run time, never
 * hard-coded); OpenTofu reads the same mirror under its own registry's host name.
 */
import { execFileSync, spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export type Engine = "terraform" | "tofu";
export const ENGINES: readonly Engine[] = ["terraform", "tofu"];

function engineFromEnvironment(): Engine {
  const given = process.env.CDKTF_KUBEADM_ENGINE ?? "terraform";
  if (!(ENGINES as readonly string[]).includes(given)) throw new Error(`CDKTF_KUBEADM_ENGINE=${given}: use one of ${ENGINES.join(", ")}`);
  return given as Engine;
}
/** The engine every terraform() call of this test run uses. */
export const ENGINE: Engine = engineFromEnvironment();
/** "Terraform" or "OpenTofu", for test titles. */
export const ENGINE_NAME = ENGINE === "tofu" ? "OpenTofu" : "Terraform";

let tofuBinary: string | undefined;
/** The `tofu` binary, built once per go.mod (test/k8s/build-tools.sh opentofu, about 4 minutes cold). */
function tofu(): string {
  if (!tofuBinary) {
    const script = path.join(__dirname, "..", "k8s", "build-tools.sh");
    const bin = execFileSync("bash", [script, "opentofu"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 1_800_000 }).trim();
    tofuBinary = path.join(bin, "tofu");
  }
  return tofuBinary;
}

/** The command that runs `engine`. */
export function engineCommand(engine: Engine = ENGINE): string {
  return engine === "tofu" ? tofu() : "terraform";
}

const MIRROR_SEARCH_ROOTS = ["/opt", "/usr/share", "/usr/local/share", os.homedir(), "/"];

/** Directory that holds `registry.terraform.io/...`, or undefined when none is installed. */
export function findProviderMirror(): string | undefined {
  for (const root of MIRROR_SEARCH_ROOTS) {
    const found = spawnSync(
      "find",
      [root, "-xdev", "-path", "*registry.terraform.io/hashicorp/aws/*", "-name", "terraform-provider-aws*", "-print", "-quit"],
      { encoding: "utf8", timeout: 60_000 },
    );
    const hit = found.stdout.trim().split("\n")[0];
    if (hit) return hit.slice(0, hit.indexOf("registry.terraform.io") - 1);
  }
  return undefined;
}

const cliConfigs: Partial<Record<Engine, string>> = {};

/** `to` as a tree of real directories whose files are symbolic links to those of `from`. */
function linkTree(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    if (entry.isDirectory()) linkTree(source, path.join(to, entry.name));
    else fs.symlinkSync(source, path.join(to, entry.name));
  }
}

/**
 * A CLI config that installs every provider from the local mirror and nothing from the network.
 * OpenTofu resolves `hashicorp/aws` to registry.opentofu.org/hashicorp/aws, so its mirror is a
 * directory of its own with that host name, holding links to the mirror's registry.terraform.io
 * files (the same provider binary: OpenTofu's registry serves HashiCorp's builds). Its scan does
 * not follow a linked directory, so the directories are real.
 */
export function offlineCliConfig(engine: Engine = ENGINE): string {
  const known = cliConfigs[engine];
  if (known) return known;
  const mirror = findProviderMirror();
  if (!mirror) throw new Error("No Terraform provider mirror found (looked for registry.terraform.io/hashicorp/aws/*)");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${engine}-cli-`));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  let mirrorPath = mirror;
  if (engine === "tofu") {
    mirrorPath = path.join(dir, "mirror");
    linkTree(path.join(mirror, "registry.terraform.io"), path.join(mirrorPath, "registry.opentofu.org"));
  }
  const config = path.join(dir, "cli.tfrc");
  fs.writeFileSync(
    config,
    `provider_installation {\n  filesystem_mirror {\n    path = "${mirrorPath}"\n  }\n}\nplugin_cache_dir = "${path.join(dir, "cache")}"\n`,
  );
  fs.mkdirSync(path.join(dir, "cache"));
  cliConfigs[engine] = config;
  return config;
}

export interface TerraformResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `terraform <args>` (or `tofu <args>`: ENGINE) in `dir`, offline, no colour, no prompts.
 * `launcher` runs it through another command, e.g. nsenter into a network namespace (the e2e's
 * site, where the VMs are).
 */
export function terraform(dir: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 900_000, launcher: readonly string[] = []): TerraformResult {
  const [command, ...prefix] = [...launcher, engineCommand()];
  const result: SpawnSyncReturns<string> = spawnSync(command, [...prefix, ...args], {
    cwd: dir,
    encoding: "utf8",
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
    env: {
      ...process.env,
      TF_CLI_CONFIG_FILE: offlineCliConfig(),
      TF_IN_AUTOMATION: "1",
      TF_INPUT: "0",
      CHECKPOINT_DISABLE: "1",
      ...env,
    },
  });
  return { status: result.status ?? -1, stdout: result.stdout ?? "", stderr: (result.stderr ?? "") + (result.error ? String(result.error) : "") };
}

/** Like terraform(), but throws with the output when the command fails. */
export function terraformOk(dir: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs?: number, launcher: readonly string[] = []): string {
  const r = terraform(dir, args, env, timeoutMs, launcher);
  if (r.status !== 0) throw new Error(`${ENGINE} ${args.join(" ")} failed (${r.status}) in ${dir}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
