/**
 * Runs the real `terraform` CLI on synthesized stacks, offline: providers come from the
 * filesystem mirror installed on the machine (found at run time, never hard-coded).
 */
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

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

let cliConfig: string | undefined;

/** A CLI config that installs every provider from the local mirror and nothing from the network. */
export function offlineCliConfig(): string {
  if (cliConfig) return cliConfig;
  const mirror = findProviderMirror();
  if (!mirror) throw new Error("No Terraform provider mirror found (looked for registry.terraform.io/hashicorp/aws/*)");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tfcli-"));
  cliConfig = path.join(dir, "terraformrc");
  fs.writeFileSync(
    cliConfig,
    `provider_installation {\n  filesystem_mirror {\n    path = "${mirror}"\n  }\n}\nplugin_cache_dir = "${path.join(dir, "cache")}"\n`,
  );
  fs.mkdirSync(path.join(dir, "cache"));
  return cliConfig;
}

export interface TerraformResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `terraform <args>` in `dir`, offline, no colour, no prompts. `launcher` runs it through another
 * command, e.g. nsenter into a network namespace (the e2e's site, where the VMs are).
 */
export function terraform(dir: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 900_000, launcher: readonly string[] = []): TerraformResult {
  const [command, ...prefix] = [...launcher, "terraform"];
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
  if (r.status !== 0) throw new Error(`terraform ${args.join(" ")} failed (${r.status}) in ${dir}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
