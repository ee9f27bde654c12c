/**
 * End-to-end harness: virtual machines booted from the bare-metal construct's NoCloud seeds, on a
 * network of their own. A node namespace (test/support/node-namespace.ts) is the "site": a Linux
 * bridge 10.0.0.1/24 with one tap per VM, and on the bridge address the air-gapped sources a real
 * site would run (an HTTP server with the package mirrors, a registry with the images). The VMs
 * get no route anywhere else. QEMU runs under TCG (this machine's /dev/kvm is not usable).
 */
import * as fs from "fs";
import * as path from "path";
import { NodeNamespace } from "../support/node-namespace";
import { outcome, run } from "../support/kubernetes";
import { waitFor } from "../support/wait";

export const SITE_ADDRESS = "10.0.0.1";

/** Runs one of our build scripts (cached) and returns the directory it prints. */
export function buildStep(script: string, ...args: string[]): string {
  const r = run("bash", [path.resolve(__dirname, script), ...args], { timeoutMs: 30 * 60_000 });
  if (r.code !== 0) throw new Error(`${script} ${args.join(" ")}: ${outcome(r)}`);
  return r.stdout.trim().split("\n").pop()!;
}

export interface VmSpec {
  /** Host name (the seed directory's name). */
  readonly name: string;
  readonly address: string;
  /** The seed directory BaremetalKubeadmCluster wrote for the host (user-data, meta-data). */
  readonly seedDirectory: string;
  /** @default 3072 */
  readonly memoryMiB?: number;
  /** Virtual CPUs (kubeadm's preflight wants 2 on a control plane). @default 2 */
  readonly cpus?: number;
  /**
   * Host scheduling priority of the VM (nice). Two TCG guests share this machine's 2 cores; a
   * worker at a lower priority leaves the control plane's API server the time it needs. @default 0
   */
  readonly nice?: number;
}

/** The account the site's provisioning gives every VM (NoCloud vendor-data): SSH key, passwordless sudo. */
export const SITE_SSH_USER = "e2e";

export class Site {
  readonly ns: NodeNamespace;
  private readonly image: string;
  private readonly sshPublicKey?: string;

  /** `sshPublicKey`: authorized for SITE_SSH_USER on every VM (what SSH delivery logs in with). */
  constructor(image: string, sshPublicKey?: string) {
    this.image = image;
    this.sshPublicKey = sshPublicKey;
    // The namespace's own eth0 (10.0.9.0/24) leads nowhere; the VMs live on br0.
    this.ns = NodeNamespace.create({ address: "10.0.9.10" });
    const setup = [
      "set -e",
      "ip link add br0 type bridge",
      `ip addr add ${SITE_ADDRESS}/24 dev br0`,
      "ip link set br0 up",
    ].join("\n");
    const r = this.ns.exec("bash", ["-c", setup]);
    if (r.code !== 0) throw new Error(`site network: ${outcome(r)}`);
  }

  /** Serves `directory` over HTTP on SITE_ADDRESS:port (python3's http.server). */
  serveHttp(directory: string, port = 8080): string {
    this.ns.start("http", "python3", ["-m", "http.server", "--bind", SITE_ADDRESS, "--directory", directory, String(port)]);
    waitFor("the HTTP server listens", () => this.ns.exec("bash", ["-c", `exec 3<>/dev/tcp/${SITE_ADDRESS}/${port}`]).code === 0,
      { timeoutMs: 20_000, intervalMs: 200, diagnostics: () => this.ns.log("http") });
    return `http://${SITE_ADDRESS}:${port}`;
  }

  /** Boots a VM from the image (copy-on-write overlay) and its seed as a cidata ISO. */
  boot(vm: VmSpec): Vm {
    const dir = path.join(this.ns.dir, `vm-${vm.name}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const seed = path.join(dir, "seed");
    fs.mkdirSync(seed);
    fs.copyFileSync(path.join(vm.seedDirectory, "user-data"), path.join(seed, "user-data"));
    fs.copyFileSync(path.join(vm.seedDirectory, "meta-data"), path.join(seed, "meta-data"));
    // The site's network plan (not the cluster's business): a static address on eth0 and a default
    // route (nodes need one: kube-proxy's DNAT to the kubernetes Service comes after routing).
    // gateway4, not routes: cloud-init renders routes for ifupdown with `route`, which Debian 12
    // no longer ships, and its failure is ignored.
    fs.writeFileSync(path.join(seed, "network-config"), [
      "version: 2",
      "ethernets:",
      "  eth0:",
      `    addresses: [${vm.address}/24]`,
      `    gateway4: ${SITE_ADDRESS}`,
      `    nameservers: { addresses: [${SITE_ADDRESS}] }`,
      "",
    ].join("\n"));
    // Vendor-data: what the site's provisioning adds beside the cluster's user-data (which stays
    // as the construct wrote it): a login for SSH delivery.
    const vendor = this.sshPublicKey === undefined ? "#cloud-config\n{}\n" : [
      "#cloud-config",
      "users:",
      `  - name: ${SITE_SSH_USER}`,
      "    shell: /bin/bash",
      "    sudo: \"ALL=(ALL) NOPASSWD:ALL\"",
      `    ssh_authorized_keys: [${JSON.stringify(this.sshPublicKey.trim())}]`,
      "",
    ].join("\n");
    fs.writeFileSync(path.join(seed, "vendor-data"), vendor);
    const iso = path.join(dir, "seed.iso");
    must(run("genisoimage", ["-quiet", "-output", iso, "-volid", "cidata", "-joliet", "-rock", seed]));
    const disk = path.join(dir, "disk.qcow2");
    must(run("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "raw", "-b", path.join(this.image, "disk.img"), disk]));
    const tap = `tap-${vm.name}`.slice(0, 15);
    // A replaced machine keeps its tap (its "switch port").
    must(this.ns.exec("bash", ["-c", `{ ip link show ${tap} >/dev/null 2>&1 || ip tuntap add dev ${tap} mode tap; } && ip link set ${tap} master br0 && ip link set ${tap} up`]));
    const mac = `52:54:00:00:00:${vm.address.split(".")[3].padStart(2, "0").slice(-2)}`;
    const console = path.join(dir, "console.log");
    // -cpu qemu64, not max: TCG emulates AVX/AES-NI/SHA through slow helpers, and Go, OpenSSL and
    // glibc pick those paths when CPUID offers them. Measured with qemu-user 7.2 on this host, a
    // Go program ran 1.3x (JSON) to 2.6x (sha256) faster as qemu64 than as max.
    this.ns.start(`vm-${vm.name}`, "nice", [
      "-n", String(vm.nice ?? 0), "qemu-system-x86_64",
      "-name", vm.name, "-accel", "tcg,thread=multi", "-cpu", "qemu64", "-smp", String(vm.cpus ?? 2), "-m", String(vm.memoryMiB ?? 3072),
      "-kernel", path.join(this.image, "vmlinuz"), "-initrd", path.join(this.image, "initrd.img"),
      "-append", "root=/dev/vda rw console=ttyS0 net.ifnames=0 systemd.unified_cgroup_hierarchy=1",
      // cache=unsafe: the disk is scratch, and an emulated fsync (etcd's, on every write) slow
      // enough to time out etcd's requests restarted the controller manager in a loop.
      "-drive", `file=${disk},if=virtio,format=qcow2,cache=unsafe`,
      "-drive", `file=${iso},media=cdrom,readonly=on`,
      "-netdev", `tap,id=n0,ifname=${tap},script=no,downscript=no`, "-device", `virtio-net-pci,netdev=n0,mac=${mac}`,
      "-display", "none", "-serial", `file:${console}`, "-monitor", "none",
    ]);
    return new Vm(this, vm, console);
  }

  stop(): void {
    this.ns.stop();
  }

  remove(): void {
    this.ns.remove();
  }
}

export class Vm {
  constructor(readonly site: Site, readonly spec: VmSpec, readonly consoleLog: string) {}

  console(): string {
    return fs.existsSync(this.consoleLog) ? fs.readFileSync(this.consoleLog, "utf8") : "";
  }

  running(): boolean {
    return this.site.ns.running(`vm-${this.spec.name}`);
  }

  /** Runs `command` on the VM over SSH as SITE_SSH_USER (the site's vendor-data login), `input` on its stdin. */
  ssh(privateKeyPath: string, command: string, options: { input?: string; timeoutMs?: number } = {}): ReturnType<typeof run> {
    return this.site.ns.exec("ssh", [
      "-i", privateKeyPath, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
      "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", `${SITE_SSH_USER}@${this.spec.address}`, command,
    ], { input: options.input, timeoutMs: options.timeoutMs ?? 60_000 });
  }

  /** Pulls the plug (the machine is being replaced: its disk goes with it at the next boot). */
  stop(): void {
    this.site.ns.stopProcess(`vm-${this.spec.name}`);
  }

  /** Waits until the console shows `pattern` (not after the VM stopped); fails with the console's tail. Returns ms waited. */
  waitForConsole(pattern: RegExp, timeoutMs: number): number {
    return waitFor(`${this.spec.name}: ${pattern} on the console`, () => pattern.test(this.console()), {
      timeoutMs, intervalMs: 2000, hopeless: () => !this.running(),
      diagnostics: () => this.console().split("\n").slice(-40).join("\n"),
    });
  }
}

function must(r: ReturnType<typeof run>): void {
  if (r.code !== 0) throw new Error(outcome(r));
}
