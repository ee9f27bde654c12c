/**
 * Every TypeScript snippet in README.md and docs/*.md works when pasted. Whole programs run as
 * written (imports of the package must be paths it exports; `new App()` gets an outdir);
 * statement snippets (`new S3Backend(stack, ...)`) run in a stack; prop fragments
 * (`kubeadmTimeouts: {...}`) are spread into a cluster of the platform they belong to, and a
 * `// ...` in a construct call stands for the rest of a valid spec. Each one typechecks with the
 * project's compiler settings, then synthesizes.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { tempDir } from "./support/stack-json";

const ROOT = path.join(__dirname, "..");
const GENERATED = path.join(__dirname, ".tmp", "docs-snippets");
const work = tempDir("docs-snippets-");
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

interface Snippet {
  readonly id: string;
  readonly where: string;
  readonly code: string;
}

function snippets(): Snippet[] {
  const files = ["README.md", ...fs.readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  return files.flatMap((file) => {
    const text = fs.readFileSync(path.join(ROOT, file), "utf8");
    return [...text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m, i) => {
      const line = text.slice(0, m.index).split("\n").length;
      return { id: `${file.replace(/[^a-z0-9]+/gi, "_")}_${i + 1}`, where: `${file}:${line}`, code: m[1] };
    });
  });
}

/** The package's public subpaths (package.json exports) and the sources they are built from. */
const EXPORTS: Record<string, string> = Object.fromEntries(
  Object.entries(JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).exports as Record<string, unknown>)
    .filter(([subpath]) => subpath !== "./package.json")
    .map(([subpath, target]) => {
      const js = typeof target === "string" ? target : (target as { default: string }).default;
      return [`cdktf-kubeadm${subpath.slice(1)}`, path.join(ROOT, js.replace(/^\.\/lib\//, "src/").replace(/\.js$/, ""))];
    }),
);

const BAREMETAL_KEYS = /^(ssh|hosts|seedFiles|apiEndpoint|nodeCidr)\s*:/;

/** The snippet as a module exporting run(outdir, pkiRoot). */
function moduleFor(snippet: Snippet): string {
  const relative = (target: string) => JSON.stringify(path.relative(GENERATED, target).split(path.sep).join("/"));
  const lines = snippet.code.split("\n");
  const imports = lines.filter((l) => /^import /.test(l)).map((l) =>
    l.replace(/from "(cdktf-kubeadm[^"]*)"/, (_all, specifier: string) => {
      const source = EXPORTS[specifier];
      if (!source) throw new Error(`${snippet.where}: imports "${specifier}", which package.json does not export (it exports ${Object.keys(EXPORTS).join(", ")})`);
      return `from ${relative(source)}`;
    }),
  );
  let body = lines.filter((l) => !/^import /.test(l)).join("\n");
  const prelude = [
    `import * as snippetCdktf from "cdktf";`,
    `import { AwsProvider as SnippetAwsProvider } from "@cdktf/provider-aws/lib/provider";`,
    `import { AwsKubeadmCluster as SnippetAws } from ${relative(EXPORTS["cdktf-kubeadm/aws"])};`,
    `import { BaremetalKubeadmCluster as SnippetBaremetal } from ${relative(EXPORTS["cdktf-kubeadm/baremetal"])};`,
    `import { baseProps as snippetBaremetalProps } from ${relative(path.join(ROOT, "test", "support", "baremetal-fixtures"))};`,
  ];
  let run: string;
  if (/new App\(\)/.test(body)) {
    run = body.replace(/new App\(\)/g, "new App({ outdir })");
  } else {
    const fragment = !/^\s*(new |const |let |stack\.)/m.test(body.split("\n").find((l) => l.trim() && !l.trim().startsWith("//")) ?? "");
    if (fragment) {
      body = BAREMETAL_KEYS.test(body.trim())
        ? `new SnippetBaremetal(stack, "docs", { ...snippetBaremetalProps({ pki: pkiRoot + "/metal", seeds: pkiRoot + "/seeds" }), ${body} });`
        : `new SnippetAws(stack, "docs", { kubernetesVersion: "1.36.4", pkiDirectory: pkiRoot + "/aws", ${body} });`;
    }
    // "// ..." in a construct call: the rest of a valid spec.
    body = body.replace(/^(\s*)\/\/ \.\.\.$/m, `$1...snippetBaremetalProps({ pki: pkiRoot + "/metal", seeds: pkiRoot + "/seeds" }),`);
    run = [
      "const { App, Fn, TerraformStack, TerraformVariable } = snippetCdktf;",
      "void Fn;",
      "const app = new App({ outdir });",
      `const stack = new TerraformStack(app, "docs");`,
      `new SnippetAwsProvider(stack, "aws", { region: "eu-west-1" });`,
      `const keyPath = new TerraformVariable(stack, "ssh_private_key_path", { type: "string", default: "/dev/null" });`,
      "void keyPath;",
      body,
      "app.synth();",
    ].join("\n");
  }
  return [
    `// ${snippet.where}`,
    ...imports,
    ...prelude,
    "void SnippetAws; void SnippetBaremetal; void snippetBaremetalProps; void SnippetAwsProvider;",
    "export function run(outdir: string, pkiRoot: string): void {",
    "void pkiRoot;",
    run,
    "}",
    "",
  ].join("\n");
}

const all = snippets();

beforeAll(() => {
  fs.rmSync(GENERATED, { recursive: true, force: true });
  fs.mkdirSync(GENERATED, { recursive: true });
  for (const snippet of all) fs.writeFileSync(path.join(GENERATED, `${snippet.id}.ts`), moduleFor(snippet));
  fs.writeFileSync(
    path.join(GENERATED, "tsconfig.json"),
    JSON.stringify({ extends: path.join(ROOT, "tsconfig.json"), compilerOptions: { noEmit: true, noUnusedLocals: false, rootDir: ROOT }, include: ["*.ts"], exclude: [] }),
  );
});

test("the docs have snippets of each kind (programs, statements, fragments)", () => {
  expect(all.length).toBeGreaterThanOrEqual(10);
  expect(all.filter((s) => /new App\(\)/.test(s.code)).length).toBeGreaterThanOrEqual(3);
});

test("every snippet typechecks", () => {
  const r = spawnSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", path.join(GENERATED, "tsconfig.json")], { encoding: "utf8", timeout: 300_000 });
  expect(`${r.stdout}${r.stderr}`).toBe("");
  expect(r.status).toBe(0);
});

describe.each(all.map((s) => [s.where, s] as const))("%s", (_where, snippet) => {
  test("synthesizes", () => {
    const dir = path.join(work, snippet.id);
    fs.mkdirSync(dir, { recursive: true });
    // Programs keep their default PKI store (.cdktf-kubeadm/pki/<name>) and files they read (corp-ca.pem) in the working directory.
    fs.copyFileSync(path.join(__dirname, "fixtures", "docs-corp-ca.pem"), path.join(dir, "corp-ca.pem"));
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { run } = require(path.join(GENERATED, snippet.id)) as { run: (outdir: string, pkiRoot: string) => void };
      run(path.join(dir, "out"), path.join(dir, "pki"));
    } finally {
      process.chdir(cwd);
    }
    const stacks = fs.readdirSync(path.join(dir, "out", "stacks"));
    expect(stacks.length).toBe(1);
    const json = JSON.parse(fs.readFileSync(path.join(dir, "out", "stacks", stacks[0], "cdk.tf.json"), "utf8"));
    expect(Object.keys(json.resource ?? {}).length + Object.keys(json.terraform?.backend ?? {}).length).toBeGreaterThan(0);
  });
});

test("the npm package ships the license, the README and the guides it links to", () => {
  const r = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  expect(r.status).toBe(0);
  const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const linked = [...new Set([...readme.matchAll(/\]\(((?:docs\/[a-z-]+\.md)|LICENSE)(?:#[^)]*)?\)/g)].map((m) => m[1]))];
  expect(linked.length).toBeGreaterThanOrEqual(4);
  for (const file of ["LICENSE", "README.md", ...linked]) expect(files).toContain(file);
  expect(JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).license).toBe("Apache-2.0");
  expect(fs.readFileSync(path.join(ROOT, "LICENSE"), "utf8")).toMatch(/Apache License\s+Version 2\.0, January 2004/);
});
