/**
 * The library on cdktn (CDK Terrain, cdktf's maintained fork) as a user gets it: our packed tarball
 * in a fresh app whose `cdktf` and `@cdktf/provider-aws` are npm aliases of `cdktn` and
 * `@cdktn/provider-aws` (AWS provider 6.x bindings), installed from the npm registry without
 * --legacy-peer-deps. There, the README's quick start synthesizes as written; the library's sources
 * and the examples typecheck against cdktn's and the 6.x bindings' types; and the three examples
 * synthesize to the configuration they synthesize on cdktf, apart from the CDK's version and the
 * provider's. A plain cdktf app installs the same tarball cleanly too.
 *
 * Not provable here: `validate`/`apply` against AWS provider 6.x (no 6.x binary on this machine).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { tempDir } from "./support/stack-json";

jest.setTimeout(15 * 60_000);

const ROOT = path.join(__dirname, "..");
const CDKTN = "0.24.0";
const CDKTN_PROVIDER_AWS = "25.7.0";
/** Both CDKs accept it (cdktn: >=10.6.0 <10.8.0, cdktf: ^10.4.2). */
const CONSTRUCTS = "10.7.0";
const work = tempDir("cdktn-");

function run(command: string, args: string[], cwd: string, timeoutMs = 600_000): { code: number; output: string; stdout: string } {
  const r = spawnSync(command, args, { cwd, encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_fund: "false", npm_config_audit: "false", CHECKPOINT_DISABLE: "1" } });
  return { code: r.status ?? -1, output: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}`, stdout: r.stdout ?? "" };
}

function must(command: string, args: string[], cwd: string): string {
  const r = run(command, args, cwd);
  if (r.code !== 0) throw new Error(`${command} ${args.join(" ")} in ${cwd} (exit ${r.code}):\n${r.output.slice(-6000)}`);
  return r.stdout;
}

/** The library as npm publishes it: built, then packed. */
function packLibrary(): string {
  must("npm", ["run", "build"], ROOT);
  const name = must("npm", ["pack", "--silent", "--pack-destination", work], ROOT).trim().split("\n").pop()!;
  return path.join(work, name);
}

/** A fresh app with these dependencies, installed as npm does for a user (peer conflicts fail). */
function app(name: string, dependencies: Record<string, string>): { dir: string; install: ReturnType<typeof run> } {
  const dir = path.join(work, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, version: "0.0.0", private: true, dependencies }, null, 2));
  return { dir, install: run("npm", ["install", "--no-audit", "--no-fund"], dir) };
}

/** The README's quick start (its first TypeScript block), as the CommonJS a plain Node app runs. */
function quickStart(): string {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const block = /## Usage\n\n```ts\n([\s\S]*?)```/.exec(readme)![1];
  return block.replace(/^import \{ ([^}]+) \} from ("[^"]+");.*$/gm, (_all, names: string, from: string) => `const { ${names.trim()} } = require(${from});`);
}

interface Synth {
  readonly resources: string[];
  readonly json: Record<string, unknown>;
}

function synthOf(outdir: string, stack: string): Synth {
  const json = JSON.parse(fs.readFileSync(path.join(outdir, "stacks", stack, "cdk.tf.json"), "utf8")) as Record<string, unknown>;
  const resources = Object.entries(json.resource as Record<string, Record<string, unknown>>).flatMap(([type, byName]) => Object.keys(byName).map((n) => `${type}.${n}`)).sort();
  return { resources, json };
}

/** Every path at which two JSON values differ. */
function differences(a: unknown, b: unknown, at = ""): string[] {
  if (typeof a !== typeof b || Array.isArray(a) !== Array.isArray(b) || (a === null) !== (b === null)) return [at];
  if (Array.isArray(a)) return a.length !== (b as unknown[]).length ? [at] : a.flatMap((x, i) => differences(x, (b as unknown[])[i], `${at}[${i}]`));
  if (a && typeof a === "object") {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b as object)])].sort();
    return keys.flatMap((k) => differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`));
  }
  return a === b ? [] : [at];
}

let tarball: string;
let cdktnApp: { dir: string; install: ReturnType<typeof run> };

beforeAll(() => {
  tarball = packLibrary();
  cdktnApp = app("on-cdktn", {
    cdktf: `npm:cdktn@${CDKTN}`,
    cdktn: CDKTN,
    "@cdktf/provider-aws": `npm:@cdktn/provider-aws@${CDKTN_PROVIDER_AWS}`,
    constructs: CONSTRUCTS,
    "cdktf-kubeadm": `file:${tarball}`,
  });
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe("a cdktn app", () => {
  test("npm install of the tarball next to cdktn and @cdktn/provider-aws is clean (no --legacy-peer-deps)", () => {
    expect({ code: cdktnApp.install.code, peerProblems: cdktnApp.install.output.split("\n").filter((l) => /ERESOLVE|peer dep|conflicting peer/i.test(l)) }).toEqual({ code: 0, peerProblems: [] });
    const installed = (pkg: string) => JSON.parse(fs.readFileSync(path.join(cdktnApp.dir, "node_modules", pkg, "package.json"), "utf8")) as { name: string; version: string };
    expect(installed("cdktf")).toMatchObject({ name: "cdktn", version: CDKTN });
    expect(installed("@cdktf/provider-aws")).toMatchObject({ name: "@cdktn/provider-aws", version: CDKTN_PROVIDER_AWS });
  });

  test("the README's quick start synthesizes as written, with no targetVersions declared", () => {
    fs.writeFileSync(path.join(cdktnApp.dir, "main.js"), quickStart());
    const r = run("node", ["main.js"], cdktnApp.dir);
    expect({ code: r.code, output: r.code === 0 ? "" : r.output.slice(-3000) }).toEqual({ code: 0, output: "" });
    const synth = synthOf(path.join(cdktnApp.dir, "cdktf.out"), "prod");
    const terraform = synth.json.terraform as { required_providers: { aws: { version: string } }; required_version: string };
    expect(terraform.required_providers.aws.version).toMatch(/^6\./);
    expect(terraform.required_version).toBe(">= 1.11.0");
    expect(synth.resources.filter((r) => r.startsWith("aws_secretsmanager_secret_version."))).toHaveLength(2);
  });

  test("the library's sources and the examples typecheck against cdktn and the AWS provider 6.x bindings", () => {
    const modules = path.join(cdktnApp.dir, "node_modules");
    const config = path.join(work, "tsconfig.cdktn.json");
    fs.writeFileSync(config, JSON.stringify({
      extends: path.join(ROOT, "tsconfig.json"),
      compilerOptions: {
        noEmit: true, rootDir: ROOT, baseUrl: ROOT, types: ["node"], typeRoots: [path.join(ROOT, "node_modules", "@types")],
        paths: {
          cdktf: [path.join(modules, "cdktf")],
          constructs: [path.join(modules, "constructs")],
          "@cdktf/provider-aws/lib/*": [path.join(modules, "@cdktf/provider-aws/lib/*")],
        },
      },
      include: [path.join(ROOT, "src/**/*.ts"), path.join(ROOT, "examples/**/*.ts"), path.join(ROOT, "main.ts")],
      exclude: [],
    }));
    const tsc = run(path.join(ROOT, "node_modules", ".bin", "tsc"), ["-p", config, "--listFiles"], ROOT);
    const errors = tsc.output.split("\n").filter((l) => /error TS\d+/.test(l));
    expect(errors).toEqual([]);
    expect(tsc.code).toBe(0);
    // It really was cdktn's and the 6.x bindings' declarations that the sources were checked against.
    const files = tsc.stdout.split("\n");
    expect(files.some((f) => f.startsWith(path.join(modules, "cdktf", "lib")))).toBe(true);
    expect(files.some((f) => f.startsWith(path.join(modules, "@cdktf", "provider-aws", "lib")))).toBe(true);
    expect(files.some((f) => f.startsWith(path.join(ROOT, "node_modules", "cdktf", "lib")))).toBe(false);
  });

  test("the three examples synthesize on cdktn to what they synthesize on cdktf, but for the CDK's and the AWS provider's version", () => {
    const script = (cdk: "cdktf" | "cdktn") => [
      "const Module = require('module');",
      "const path = require('path');",
      // On cdktn every `cdktf`, `constructs` and `@cdktf/provider-aws` (ours, the examples', the
      // Google bindings') resolves in the cdktn app; GCE keeps cdktf's Google bindings (there are
      // no @cdktn ones), which then run on cdktn.
      cdk === "cdktn" ? `const modules = ${JSON.stringify(path.join(cdktnApp.dir, "node_modules"))};` : "",
      cdk === "cdktn" ? "const resolve = Module._resolveFilename; Module._resolveFilename = function (request, ...rest) { if (request === 'cdktf' || request === 'constructs' || request.startsWith('@cdktf/provider-aws')) request = path.join(modules, request); return resolve.call(this, request, ...rest); };" : "",
      `require(${JSON.stringify(path.join(ROOT, "node_modules", "ts-node"))}).register({ transpileOnly: true, project: ${JSON.stringify(path.join(ROOT, "tsconfig.json"))} });`,
      // The script lives outside the repository: resolve from it, as the examples do.
      `const fromRoot = (name) => require.resolve(name, { paths: [${JSON.stringify(ROOT)}] });`,
      "const { App } = require(fromRoot('cdktf'));",
      `const app = new App({ outdir: process.argv[2], context: { "aws.pkiDirectory": process.argv[3] + "/aws", "gce.pkiDirectory": process.argv[3] + "/gce", "baremetal.pkiDirectory": process.argv[3] + "/baremetal", "baremetal.seedDirectory": process.argv[3] + "/seeds" } });`,
      ...["aws", "gce", "baremetal"].map((p) => `require(${JSON.stringify(path.join(ROOT, "examples", p, "main"))}).${p}Example(app);`),
      "app.synth();",
      "console.log(fromRoot('cdktf'));",
    ].join("\n");
    const pki = path.join(work, "pki");
    const synthesized: Record<string, string> = {};
    for (const cdk of ["cdktf", "cdktn"] as const) {
      fs.writeFileSync(path.join(work, `synth-${cdk}.js`), script(cdk));
      const r = run("node", [path.join(work, `synth-${cdk}.js`), path.join(work, `out-${cdk}`), pki], ROOT);
      if (r.code !== 0) throw new Error(`synth on ${cdk}: ${r.output.slice(-4000)}`);
      synthesized[cdk] = r.stdout.trim().split("\n").pop()!;
    }
    expect(synthesized.cdktn).toBe(path.join(cdktnApp.dir, "node_modules", "cdktf", "lib", "index.js"));
    expect(synthesized.cdktf).toBe(path.join(ROOT, "node_modules", "cdktf", "lib", "index.js"));
    const expected: Record<string, string[]> = {
      "aws-example": [".//.metadata.version", ".terraform.required_providers.aws.source", ".terraform.required_providers.aws.version"],
      "gce-example": [".//.metadata.version"],
      "baremetal-example": [".//.metadata.version"],
    };
    for (const stack of Object.keys(expected)) {
      const onCdktf = synthOf(path.join(work, "out-cdktf"), stack);
      const onCdktn = synthOf(path.join(work, "out-cdktn"), stack);
      expect(onCdktn.resources).toEqual(onCdktf.resources);
      expect({ stack, differences: differences(onCdktf.json, onCdktn.json) }).toEqual({ stack, differences: expected[stack] });
    }
    const aws = (cdk: string) => (synthOf(path.join(work, `out-${cdk}`), "aws-example").json.terraform as { required_providers: { aws: { source: string; version: string } } }).required_providers.aws;
    expect(aws("cdktf")).toEqual({ source: "aws", version: "5.100.0" });
    expect(aws("cdktn")).toMatchObject({ source: "hashicorp/aws", version: expect.stringMatching(/^6\./) });
  });
});

describe("a cdktf app", () => {
  test("npm install of the same tarball next to cdktf 0.21 and @cdktf/provider-aws 20.1.0 is clean, and the quick start synthesizes", () => {
    const cdktfApp = app("on-cdktf", { cdktf: "0.21.0", "@cdktf/provider-aws": "20.1.0", constructs: CONSTRUCTS, "cdktf-kubeadm": `file:${tarball}` });
    expect({ code: cdktfApp.install.code, output: cdktfApp.install.code === 0 ? "" : cdktfApp.install.output.slice(-3000) }).toEqual({ code: 0, output: "" });
    fs.writeFileSync(path.join(cdktfApp.dir, "main.js"), quickStart());
    const r = run("node", ["main.js"], cdktfApp.dir);
    expect({ code: r.code, output: r.code === 0 ? "" : r.output.slice(-3000) }).toEqual({ code: 0, output: "" });
    const onCdktf = synthOf(path.join(cdktfApp.dir, "cdktf.out"), "prod");
    const onCdktn = synthOf(path.join(cdktnApp.dir, "cdktf.out"), "prod");
    expect(onCdktf.resources).toEqual(onCdktn.resources);
  });
});
