/** The real openssl CLI, on files in a temp directory. */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function openssl(args: string[], input?: string): string {
  return execFileSync("openssl", args, { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
}

/** Runs openssl and returns status and combined output (for commands expected to fail). */
export function opensslResult(args: string[]): { status: number; output: string } {
  const r = spawnSync("openssl", args, { encoding: "utf8" });
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

export function writeTemp(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

/** `openssl x509 -text` of a PEM certificate. */
export function x509Text(certPem: string): string {
  return openssl(["x509", "-noout", "-text"], certPem);
}

/** The discovery pin the way kubeadm's docs compute it with openssl. */
export function opensslCaPin(certPem: string): string {
  const pub = openssl(["x509", "-noout", "-pubkey"], certPem);
  const der = execFileSync("openssl", ["pkey", "-pubin", "-outform", "der"], { input: pub });
  const digest = execFileSync("openssl", ["dgst", "-sha256", "-hex"], { input: der, encoding: "utf8" });
  return `sha256:${digest.trim().split(/\s+/).pop()}`;
}
