/**
 * Throwaway OpenSSH servers for end-to-end tests: one `sshd -D` per loopback address, each
 * admitting one unprivileged local account with key-only authentication. Needs root (useradd,
 * sshd). Everything started or created here is recorded and removed by `cleanup()`, which also
 * runs on process exit as a safety net.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";

export const SSHD = "/usr/sbin/sshd";

export interface KeyPair {
  readonly privateKeyPath: string;
  readonly publicKey: string;
}

export interface SshServer {
  readonly address: string;
  readonly port: number;
  readonly user: string;
  /** Host public key line, for Terraform's connection.host_key. */
  readonly hostKey: string;
  readonly pid: number;
  /** sshd's own log (stderr), for failure messages. */
  log(): string;
}

const started: ChildProcess[] = [];
const users: string[] = [];
let createdPrivsepDir = false;

function run(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: "utf8" });
  if (r.error) throw new Error(`${command} is not available: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${r.status}): ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Why these tests cannot run here, or undefined when they can. */
export function sshdUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (useradd, sshd)";
  for (const tool of [SSHD, "/usr/bin/ssh-keygen", "/usr/sbin/useradd", "/usr/sbin/userdel"]) {
    if (!fs.existsSync(tool)) return `${tool} is missing (apt-get install openssh-server)`;
  }
  if (spawnSync("scp", ["-V"]).error) return "scp is missing (Terraform's file provisioner runs `scp -t` on the host)";
  return undefined;
}

export function generateKeyPair(dir: string, name = "id_ed25519"): KeyPair {
  const privateKeyPath = path.join(dir, name);
  run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `cdktf-kubeadm-test-${name}`, "-f", privateKeyPath]);
  return { privateKeyPath, publicKey: fs.readFileSync(`${privateKeyPath}.pub`, "utf8").trim() };
}

/**
 * Creates a local account whose home is `home` (an existing directory, handed over to the
 * account) with `publicKey` as its only authorized key. The password field is "*": no password
 * login, but not "locked" (sshd without PAM refuses locked accounts even for keys).
 */
export function createUser(name: string, home: string, publicKey: string): void {
  run("useradd", ["-M", "-U", "-d", home, "-s", "/bin/bash", "-p", "*", name]);
  users.push(name);
  const ssh = path.join(home, ".ssh");
  fs.mkdirSync(ssh, { recursive: true });
  fs.writeFileSync(path.join(ssh, "authorized_keys"), `${publicKey}\n`);
  run("chown", ["-R", `${name}:${name}`, home]);
  fs.chmodSync(home, 0o700);
  fs.chmodSync(ssh, 0o700);
  fs.chmodSync(path.join(ssh, "authorized_keys"), 0o600);
}

/** A port free on every given address (loopback addresses beyond 127.0.0.1 work without setup on Linux). */
export async function freePort(addresses: readonly string[], from = 22000, to = 22999): Promise<number> {
  const tryListen = (address: string, port: number) =>
    new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once("error", () => resolve(false));
      server.listen(port, address, () => server.close(() => resolve(true)));
    });
  for (let port = from + Math.floor(Math.random() * 200); port <= to; port++) {
    let ok = true;
    for (const address of addresses) {
      if (!(await tryListen(address, port))) {
        ok = false;
        break;
      }
    }
    if (ok) return port;
  }
  throw new Error(`no free port in ${from}-${to} on ${addresses.join(", ")}`);
}

async function waitForPort(address: string, port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd on ${address}:${port} exited (${child.exitCode}):\n${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, address);
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`sshd on ${address}:${port} did not start listening:\n${log()}`);
}

/** Starts `sshd -D` on address:port admitting only `user`, with its own host key in `dir`. */
export async function startSshd(dir: string, address: string, port: number, user: string): Promise<SshServer> {
  if (!fs.existsSync("/run/sshd")) {
    // Privilege separation directory; sshd refuses to start without it.
    fs.mkdirSync("/run/sshd", { mode: 0o755 });
    createdPrivsepDir = true;
  }
  fs.mkdirSync(dir, { recursive: true });
  const hostKeyPath = path.join(dir, "ssh_host_ed25519_key");
  run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `host-${address}`, "-f", hostKeyPath]);
  const config = path.join(dir, "sshd_config");
  fs.writeFileSync(
    config,
    [
      `ListenAddress ${address}:${port}`,
      `HostKey ${hostKeyPath}`,
      `PidFile ${path.join(dir, "sshd.pid")}`,
      "AuthorizedKeysFile .ssh/authorized_keys",
      "AuthenticationMethods publickey",
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "PermitRootLogin no",
      `AllowUsers ${user}`,
      "StrictModes yes",
      "AllowTcpForwarding no",
      "X11Forwarding no",
      "PrintMotd no",
      "LogLevel VERBOSE",
      "Subsystem sftp internal-sftp",
      "",
    ].join("\n"),
  );
  run(SSHD, ["-t", "-f", config]);
  const logFile = path.join(dir, "sshd.log");
  const out = fs.openSync(logFile, "a");
  const child = spawn(SSHD, ["-D", "-e", "-f", config], { stdio: ["ignore", out, out] });
  fs.closeSync(out);
  started.push(child);
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "");
  await waitForPort(address, port, child, log);
  const hostKey = fs.readFileSync(`${hostKeyPath}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
  return { address, port, user, hostKey, pid: child.pid!, log };
}

/** Stops every sshd started here and deletes every account created here. */
export async function cleanup(): Promise<void> {
  await Promise.all(
    started.splice(0).map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => {
            child.kill("SIGKILL");
            resolve();
          }, 5000);
          child.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill("SIGTERM");
        }),
    ),
  );
  cleanupSync();
}

function cleanupSync(): void {
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  for (const user of users.splice(0)) {
    // -f: delete the account even if a session of it is still open.
    spawnSync("userdel", ["-f", user]);
  }
  if (createdPrivsepDir) {
    fs.rmSync("/run/sshd", { recursive: true, force: true });
    createdPrivsepDir = false;
  }
}

process.on("exit", cleanupSync);
