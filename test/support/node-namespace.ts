/**
 * A node on this machine, for real Kubernetes processes: its own network namespace (loopback, an
 * `eth0` with the node's address and a default route into a veth that leads nowhere, so nothing
 * leaves it) and its own mount namespace, where kubeadm's fixed paths (/etc/kubernetes,
 * /var/lib/etcd, …), /etc/hosts and /etc/resolv.conf are bind mounts of a temporary directory.
 * kubeadm, etcd and the API server then run with the paths and flags they use on a real node.
 *
 * A holder process (`unshare … sleep`) keeps the namespaces alive; every command enters them with
 * `nsenter`. A second node can share the first one's network (a control-plane peer) while keeping
 * its own files. Needs root (CI and this machine run as root).
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CommandResult, result } from "./kubernetes";

/** Directories kubeadm and the control plane use by fixed path: private per node. */
const NODE_DIRECTORIES = [
  "/etc/kubernetes", "/var/lib/etcd", "/var/lib/kubelet", "/etc/cdktf-kubeadm", "/var/lib/cdktf-kubeadm", "/run/cdktf-kubeadm",
  "/var/log", "/usr/local/sbin", "/etc/containerd", "/var/lib/containerd", "/run/containerd", "/opt/cni",
];

export interface NodeNamespaceOptions {
  /** The node's address on eth0 (a /24). @default "10.0.0.10" */
  readonly address?: string;
  /** More addresses on eth0 (a VIP kube-vip would hold). @default none */
  readonly extraAddresses?: readonly string[];
  /** Extra /etc/hosts entries, name -> address (e.g. the API endpoint's DNS name). */
  readonly hosts?: Record<string, string>;
  /** Share this node's network namespace (its address and listeners) instead of making one. */
  readonly shareNetworkWith?: NodeNamespace;
}

interface Background {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
}

export class NodeNamespace {
  /** Temporary directory: `root/<path>` is what the node sees at `<path>` for NODE_DIRECTORIES. */
  readonly dir: string;
  readonly address: string;
  readonly holderPid: number;
  private readonly holder: ChildProcess;
  private readonly background: Background[] = [];

  static create(opts: NodeNamespaceOptions = {}): NodeNamespace {
    return new NodeNamespace(opts);
  }

  private constructor(opts: NodeNamespaceOptions) {
    if (process.getuid?.() !== 0) throw new Error("NodeNamespace needs root (network and mount namespaces)");
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "cdktf-kubeadm-realnode-"));
    this.address = opts.shareNetworkWith?.address ?? opts.address ?? "10.0.0.10";
    const hosts = [`127.0.0.1 localhost`, `${this.address} ${os.hostname()}`, ...Object.entries(opts.hosts ?? {}).map(([name, ip]) => `${ip} ${name}`)];
    fs.writeFileSync(path.join(this.dir, "hosts"), `${hosts.join("\n")}\n`);
    // A resolver nobody answers on: lookups fail at once instead of timing out.
    fs.writeFileSync(path.join(this.dir, "resolv.conf"), "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
    const gateway = this.address.replace(/\.\d+$/, ".1");
    const network = opts.shareNetworkWith
      ? []
      : [
          "ip link set lo up",
          "ip link add eth0 type veth peer name eth0-peer",
          "ip link set eth0-peer up",
          `ip addr add ${this.address}/24 dev eth0`,
          "ip link set eth0 up",
          `ip route add default via ${gateway}`,
          ...(opts.extraAddresses ?? []).map((a) => `ip addr add ${a}/32 dev eth0`),
        ];
    const mounts = NODE_DIRECTORIES.flatMap((d) => {
      const inside = path.join(this.dir, "root", d);
      fs.mkdirSync(inside, { recursive: true });
      // The mount point must exist on the shared file system; an empty directory is all it leaves.
      return [`mkdir -p ${d}`, `mount --bind ${inside} ${d}`];
    });
    const setup = [
      "set -e",
      ...network,
      ...mounts,
      `mount --bind ${this.dir}/hosts /etc/hosts`,
      `mount --bind ${this.dir}/resolv.conf /etc/resolv.conf`,
      `touch ${this.dir}/ready`,
      "exec sleep infinity",
    ].join("\n");
    const unshare = ["unshare", "--mount", "--propagation", "private", ...(opts.shareNetworkWith ? [] : ["--net"]), "bash", "-c", setup];
    const [command, ...args] = opts.shareNetworkWith
      ? ["nsenter", "-t", String(opts.shareNetworkWith.holderPid), "-n", "--", ...unshare]
      : unshare;
    this.holder = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
    this.holderPid = this.holder.pid!;
    this.waitReady();
  }

  /** Blocks until the holder's setup ran (it touches `<dir>/ready`) or fails with its exit code. */
  private waitReady(): void {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && this.holder.exitCode === null) {
      if (fs.existsSync(path.join(this.dir, "ready"))) return;
      spawnSync("sleep", ["0.05"]);
    }
    this.stop();
    throw new Error(`the node namespace did not come up (its setup failed or took over 20 s)`);
  }

  /** Host path of what the node sees at `nodePath` (one of NODE_DIRECTORIES or below). */
  hostPath(nodePath: string): string {
    if (!NODE_DIRECTORIES.some((d) => nodePath === d || nodePath.startsWith(`${d}/`))) {
      throw new Error(`${nodePath} is not private to the node (private: ${NODE_DIRECTORIES.join(", ")})`);
    }
    return path.join(this.dir, "root", nodePath);
  }

  /** Writes a file the node sees at `nodePath`. */
  writeFile(nodePath: string, content: string, mode: number): void {
    const file = this.hostPath(nodePath);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content, { mode });
    fs.chmodSync(file, mode);
  }

  /** Empties a private directory (it stays: it is a bind mount's source). */
  clear(nodePath: string): void {
    const dir = this.hostPath(nodePath);
    for (const entry of fs.readdirSync(dir)) fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
  }

  readFile(nodePath: string): string {
    return fs.readFileSync(this.hostPath(nodePath), "utf8");
  }

  private enter(command: string, args: readonly string[]): string[] {
    return ["-t", String(this.holderPid), "-m", "-n", "--", command, ...args];
  }

  /** A command prefix that runs a program in the node's network only (its files stay the host's). */
  networkLauncher(): string[] {
    return ["nsenter", "-t", String(this.holderPid), "-n", "--"];
  }

  /** Runs a command inside the node and waits for it. */
  exec(command: string, args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): CommandResult {
    return result(spawnSync("nsenter", this.enter(command, args), {
      encoding: "utf8", input: opts.input, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 120_000,
    }));
  }

  /** Starts a long-running command inside the node; its output goes to `<dir>/<name>.log`. */
  start(name: string, command: string, args: readonly string[]): void {
    const logFile = path.join(this.dir, `${name}.log`);
    const out = fs.openSync(logFile, "a");
    const child = spawn("nsenter", this.enter(command, args), { stdio: ["ignore", out, out], detached: true });
    fs.closeSync(out);
    this.background.push({ name, child, logFile });
  }

  /** The log of a started command (for failure messages). */
  log(name: string, lastLines = 40): string {
    const entry = this.background.find((b) => b.name === name);
    if (!entry || !fs.existsSync(entry.logFile)) return "";
    return fs.readFileSync(entry.logFile, "utf8").split("\n").slice(-lastLines).join("\n");
  }

  /**
   * True while the started command runs. Reads /proc: node updates a child's exit code only from
   * its event loop, which the synchronous waits of these tests do not give a turn.
   */
  running(name: string): boolean {
    const entry = this.background.find((b) => b.name === name);
    if (!entry || entry.child.pid === undefined) return false;
    try {
      return !/\) Z /.test(fs.readFileSync(`/proc/${entry.child.pid}/stat`, "utf8"));
    } catch {
      return false;
    }
  }

  /** Stops one started command (and what it forked). */
  stopProcess(name: string): void {
    const index = this.background.findIndex((b) => b.name === name);
    if (index < 0) return;
    kill(this.background[index].child);
    this.background.splice(index, 1);
  }

  /** Stops every started command and the holder; the namespaces go with the last process in them. */
  stop(): void {
    for (const b of [...this.background].reverse()) kill(b.child);
    this.background.length = 0;
    kill(this.holder);
    this.holder.stdout?.destroy();
    this.holder.stderr?.destroy();
  }

  /** Removes the temporary directory (after stop). */
  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function kill(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, "SIGKILL"); // its own process group: it and anything it forked
  } catch {
    // already gone
  }
  // Wait until it is gone or a zombie (node reaps it later, asynchronously).
  spawnSync("sh", ["-c", `while [ -e /proc/${child.pid} ] && ! grep -q ') Z ' /proc/${child.pid}/stat 2>/dev/null; do sleep 0.05; done`], { timeout: 5000 });
  child.unref();
}
