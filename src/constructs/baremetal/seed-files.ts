/**
 * NoCloud seed files (`<host>/user-data`, `<host>/meta-data`) for PXE, MAAS, Tinkerbell or a
 * `cidata` seed ISO. They are written into a staging directory at synth (stable path, mode
 * 0700/0600, reused between synths) and copied into the synth output as a TerraformAsset.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

export interface SeedFile {
  readonly host: string;
  readonly userData: string;
  readonly metaData: string;
}

/** Marks a directory as ours, so stale host directories may be removed from it. */
export const SEED_MARKER = ".cdktf-kubeadm-seeds";
const SEED_NAMES = ["user-data", "meta-data"];

function writeIfChanged(file: string, content: string): void {
  if (fs.existsSync(file) && fs.readFileSync(file, "utf8") === content) {
    fs.chmodSync(file, 0o600);
    return;
  }
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** Refuses a non-empty directory that does not carry our marker: run before anything is written. */
export function checkSeedDirectory(directory: string): void {
  if (fs.existsSync(directory) && fs.readdirSync(directory).length > 0 && !fs.existsSync(path.join(directory, SEED_MARKER))) {
    throw new Error(
      `cdktf-kubeadm: seed directory ${directory} is not empty and was not written by cdktf-kubeadm (no ${SEED_MARKER}). ` +
        "Fix: point seedFiles.directory at an empty or new directory.",
    );
  }
}

/** A content hash of the seeds, for the asset's path in the synth output (the files are written later, at synth). */
export function seedsHash(seeds: readonly SeedFile[]): string {
  const sorted = [...seeds].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  return createHash("sha256").update(JSON.stringify(sorted)).digest("hex").slice(0, 32).toUpperCase();
}

/**
 * Writes one directory per host and removes the directories of hosts no longer listed. Refuses a
 * non-empty directory that does not carry the marker (never deletes anything it did not write).
 */
export function writeSeedDirectory(directory: string, seeds: readonly SeedFile[]): void {
  checkSeedDirectory(directory);
  const marker = path.join(directory, SEED_MARKER);
  fs.mkdirSync(directory, { recursive: true, mode: 0o700 });
  fs.chmodSync(directory, 0o700);
  writeIfChanged(marker, "NoCloud seed files written by cdktf-kubeadm at synth: one directory per host. They contain cluster secrets.\n");
  const wanted = new Set(seeds.map((s) => s.host));
  for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
    if (!entry.isDirectory() || wanted.has(entry.name)) continue;
    const dir = path.join(directory, entry.name);
    for (const name of SEED_NAMES) fs.rmSync(path.join(dir, name), { force: true });
    if (fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
  }
  for (const seed of seeds) {
    const dir = path.join(directory, seed.host);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(dir, 0o700);
    writeIfChanged(path.join(dir, "user-data"), seed.userData);
    writeIfChanged(path.join(dir, "meta-data"), seed.metaData);
  }
}
