/** Validates cloud-config text with the real `cloud-init schema` (Debian package cloud-init). */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";

export interface SchemaResult {
  readonly ok: boolean;
  readonly output: string;
}

export function cloudInitSchema(cloudConfig: string): SchemaResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cloud-config-"));
  const file = path.join(dir, "user-data");
  try {
    fs.writeFileSync(file, cloudConfig, { mode: 0o600 });
    const r = spawnSync("cloud-init", ["schema", "-c", file], { encoding: "utf8" });
    if (r.error) throw new Error(`cloud-init is not installed (apt-get install -y cloud-init): ${r.error.message}`);
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Decodes user data as delivered (base64 of gzip) back to cloud-config text. */
export function decodeUserData(base64: string): string {
  return zlib.gunzipSync(Buffer.from(base64, "base64")).toString("utf8");
}
