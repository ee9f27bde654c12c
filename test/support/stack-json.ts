/** Helpers every platform's synth tests share: temp dirs, the synthesized JSON, cloud-config files, rejected specs. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import * as zlib from "zlib";
import { TerraformStack, Testing } from "cdktf";
import { ClusterSpecError, SpecProblem } from "../../src/bootstrap/validation-error";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function synthJson(stack: TerraformStack): Json {
  return JSON.parse(Testing.synth(stack));
}

/** Resources of one type as [logical id, body] pairs. */
export function resourcesOf(json: Json, type: string): [string, Json][] {
  return Object.entries(json.resource?.[type] ?? {});
}

/**
 * The problems `create(stack)` is rejected with; also checks that the construct `id` created
 * nothing before it threw. Fails when the spec is accepted.
 */
export function problemsWhenCreating(stackName: string, id: string, create: (stack: TerraformStack) => void): SpecProblem[] {
  const stack = new TerraformStack(Testing.app(), stackName);
  try {
    create(stack);
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

/** The full bootstrap script a secret bundle carries (base64 of gzip), decoded. */
export function scriptOfBundle(bundle: string): string {
  return zlib.gunzipSync(Buffer.from(JSON.parse(bundle).script, "base64")).toString("utf8");
}

/** Every resource, data source and output as "<kind>.<type>.<logical id>" -> body. */
export function flatten(json: Json): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const kind of ["resource", "data"]) {
    for (const [type, byId] of Object.entries<Json>(json[kind] ?? {})) {
      for (const [id, body] of Object.entries<Json>(byId)) out.set(`${kind}.${type}.${id}`, body);
    }
  }
  for (const [id, body] of Object.entries<Json>(json.output ?? {})) out.set(`output.${id}`, body);
  return out;
}

/** Paths (a.b.c) at which two JSON values differ. */
export function differences(a: Json, b: Json, at = ""): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (a && b && typeof a === "object" && typeof b === "object" && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => differences(a[k], b[k], at ? `${at}.${k}` : k));
  }
  return [at];
}

/** "<kind>.<type>.<logical id>" -> the paths that differ between two synths (absent: unchanged). */
export function changesBetween(before: Json, after: Json): Record<string, string[]> {
  const a = flatten(before);
  const b = flatten(after);
  const out: Record<string, string[]> = {};
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const d = differences(a.get(key), b.get(key));
    if (d.length) out[key] = d;
  }
  return out;
}
