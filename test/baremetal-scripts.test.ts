/**
 * The shell the bare-metal payload adds: the kube-vip entry (placement before the bootstrap, switch
 * to admin.conf after it) and the SSH installer. shellcheck, then behaviour in a fake root.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import { KUBE_VIP_IMAGE, KUBE_VIP_LAYOUT, kubeVipEntryScript, kubeVipFiles, remoteCommands, renderKubeVipManifest } from "../src/constructs/baremetal";
import { baseProps, build, tempDir } from "./support/baremetal-fixtures";

const tmp = tempDir("baremetal-scripts-");
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const dirs = { pki: path.join(tmp, "pki"), seeds: path.join(tmp, "seeds") };

function shellcheck(script: string): { status: number | null; output: string } {
  const file = path.join(tmp, `check-${Math.random().toString(36).slice(2)}.sh`);
  fs.writeFileSync(file, script);
  const r = spawnSync("shellcheck", ["-s", "bash", "-S", "style", file], { encoding: "utf8" });
  if (r.error) throw new Error(`shellcheck is not installed: ${r.error.message}`);
  return { status: r.status, output: r.stdout + r.stderr };
}

const options = { address: "192.168.10.10", port: 6443, interface: "eno1", image: KUBE_VIP_IMAGE };

describe("kube-vip static pod", () => {
  test("slot 0 mounts super-admin.conf, other slots admin.conf, always at kube-vip's admin.conf path", () => {
    const manifest = (slot: number) => {
      const files = kubeVipFiles({ kind: "control-plane", slot }, options);
      return yaml.load(files.find((f) => f.path === KUBE_VIP_LAYOUT.source)!.content) as Record<string, any>;
    };
    for (const [slot, hostPath] of [[0, "/etc/kubernetes/super-admin.conf"], [1, "/etc/kubernetes/admin.conf"], [4, "/etc/kubernetes/admin.conf"]] as const) {
      const spec = manifest(slot).spec;
      expect(spec.volumes).toEqual([{ name: "kubeconfig", hostPath: { path: hostPath, type: "File" } }]);
      expect(spec.containers[0].volumeMounts).toEqual([{ name: "kubeconfig", mountPath: "/etc/kubernetes/admin.conf", readOnly: true }]);
    }
    expect(kubeVipFiles({ kind: "worker", pool: "general" }, options)).toEqual([]);
  });

  test("ARP control-plane VIP with leader election, pinned image, host network", () => {
    const pod = yaml.load(renderKubeVipManifest(options, KUBE_VIP_LAYOUT.adminConf)) as Record<string, any>;
    const env = Object.fromEntries(pod.spec.containers[0].env.filter((e: any) => "value" in e).map((e: any) => [e.name, e.value]));
    expect(env).toMatchObject({ vip_arp: "true", address: "192.168.10.10", port: "6443", vip_interface: "eno1", cp_enable: "true", vip_leaderelection: "true", svc_enable: "false" });
    expect(pod.metadata).toMatchObject({ name: "kube-vip", namespace: "kube-system" });
    expect(pod.spec.hostNetwork).toBe(true);
    expect(pod.spec.hostAliases).toEqual([{ ip: "127.0.0.1", hostnames: ["kubernetes"] }]);
    expect(pod.spec.containers[0].image).toBe("ghcr.io/kube-vip/kube-vip:v0.8.9");
    expect(pod.spec.containers[0].securityContext.capabilities.add).toEqual(["NET_ADMIN", "NET_RAW"]);
    // No interface given: kube-vip picks the default-route interface itself.
    const auto = yaml.load(renderKubeVipManifest({ ...options, interface: undefined }, KUBE_VIP_LAYOUT.adminConf)) as Record<string, any>;
    expect(auto.spec.containers[0].env.map((e: any) => e.name)).not.toContain("vip_interface");
  });

  test("manifest snapshot (slot 0)", () => {
    expect(renderKubeVipManifest(options, KUBE_VIP_LAYOUT.superAdminConf)).toMatchSnapshot();
  });
});

describe("kube-vip entry script", () => {
  test("shellcheck clean", () => {
    const r = shellcheck(kubeVipEntryScript());
    expect(r.output).toBe("");
    expect(r.status).toBe(0);
  });

  /** A fake node: the entry, the slot's rendered manifest, and a bootstrap that records what kubelet would see. */
  function fakeNode(slot: number, bootstrapExit = 0) {
    const root = fs.mkdtempSync(path.join(tmp, `node-${slot}-`));
    for (const file of kubeVipFiles({ kind: "control-plane", slot }, options)) {
      fs.mkdirSync(path.dirname(path.join(root, file.path)), { recursive: true });
      fs.writeFileSync(path.join(root, file.path), file.content, { mode: parseInt(file.permissions, 8) });
    }
    const bootstrap = path.join(root, NODE_LAYOUT.script);
    fs.writeFileSync(
      bootstrap,
      [
        "#!/usr/bin/env bash",
        "m=$BOOTSTRAP_ROOT/etc/kubernetes/manifests/kube-vip.yaml",
        'if [[ -f $m ]]; then sed -n -E "s|^ *path: (.*)$|\\1|p" "$m" >>"$BOOTSTRAP_ROOT/seen"; else echo none >>"$BOOTSTRAP_ROOT/seen"; fi',
        `[[ ${bootstrapExit} != 0 ]] || { mkdir -p "$BOOTSTRAP_ROOT${NODE_LAYOUT.stateDir}"; touch "$BOOTSTRAP_ROOT${NODE_LAYOUT.stateDir}/done"; }`,
        `exit ${bootstrapExit}`,
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    const run = () => spawnSync("bash", [path.join(root, KUBE_VIP_LAYOUT.entry)], { env: { PATH: "/usr/bin:/bin", BOOTSTRAP_ROOT: root }, encoding: "utf8" });
    const seen = () => fs.readFileSync(path.join(root, "seen"), "utf8").trim().split("\n");
    const placed = () => /path: (\S+)/.exec(fs.readFileSync(path.join(root, KUBE_VIP_LAYOUT.manifest), "utf8"))?.[1];
    return { root, run, seen, placed, setBootstrapExit: (code: number) => fs.writeFileSync(bootstrap, fs.readFileSync(bootstrap, "utf8").replace(/exit \d+/, `exit ${code}`).replace(/\[\[ \d+ != 0 \]\]/, `[[ ${code} != 0 ]]`)) };
  }

  test("slot 0: super-admin.conf while the bootstrap runs, admin.conf once it succeeded", () => {
    const node = fakeNode(0);
    const r = node.run();
    expect(r.status).toBe(0);
    expect(node.seen()).toEqual([KUBE_VIP_LAYOUT.superAdminConf]);
    expect(node.placed()).toBe(KUBE_VIP_LAYOUT.adminConf);
    expect((fs.statSync(path.join(node.root, KUBE_VIP_LAYOUT.manifest)).mode & 0o777).toString(8)).toBe("600");
    // No half-written temporary file is left where kubelet looks.
    expect(fs.readdirSync(path.dirname(path.join(node.root, KUBE_VIP_LAYOUT.manifest)))).toEqual(["kube-vip.yaml"]);
    expect(r.stdout).toContain("mounting /etc/kubernetes/admin.conf");
  });

  test("a failed bootstrap keeps the init-time pod and fails the entry", () => {
    const node = fakeNode(0, 3);
    const r = node.run();
    expect(r.status).toBe(3);
    expect(node.placed()).toBe(KUBE_VIP_LAYOUT.superAdminConf);
    // The retry succeeds and switches.
    node.setBootstrapExit(0);
    expect(node.run().status).toBe(0);
    expect(node.seen()).toEqual([KUBE_VIP_LAYOUT.superAdminConf, KUBE_VIP_LAYOUT.superAdminConf]);
    expect(node.placed()).toBe(KUBE_VIP_LAYOUT.adminConf);
  });

  test("a bootstrapped node never goes back to super-admin.conf (re-run after a payload change)", () => {
    const node = fakeNode(0);
    expect(node.run().status).toBe(0);
    const manifest = path.join(node.root, KUBE_VIP_LAYOUT.manifest);
    const inode = fs.statSync(manifest).ino;
    const r = node.run();
    expect(r.status).toBe(0);
    expect(node.seen()).toEqual([KUBE_VIP_LAYOUT.superAdminConf, KUBE_VIP_LAYOUT.adminConf]);
    // Same content: not rewritten, so kubelet does not restart the pod.
    expect(fs.statSync(manifest).ino).toBe(inode);
    expect(r.stdout).not.toContain("placed");
  });

  test("other slots use admin.conf throughout", () => {
    const node = fakeNode(2);
    expect(node.run().status).toBe(0);
    expect(node.seen()).toEqual([KUBE_VIP_LAYOUT.adminConf]);
    expect(node.placed()).toBe(KUBE_VIP_LAYOUT.adminConf);
  });

  test("a missing rendered manifest is an error, before the bootstrap runs", () => {
    const node = fakeNode(1);
    fs.rmSync(path.join(node.root, KUBE_VIP_LAYOUT.source));
    const r = node.run();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("/etc/cdktf-kubeadm/kube-vip.yaml is missing");
    expect(fs.existsSync(path.join(node.root, "seen"))).toBe(false);
  });
});

describe("SSH installer", () => {
  const { cluster } = build(baseProps(dirs));

  test("remote commands: sudo -n by default, none for root, BOOTSTRAP_ROOT only when asked", () => {
    const payload = cluster.payload("cp-2");
    const ssh = (remoteRoot: string, prefix?: string) => ({ remoteRoot, timeout: "5m", commandPrefix: (user: string) => prefix ?? (user === "root" ? "" : "sudo -n") });
    expect(remoteCommands(payload, ssh(""))).toEqual({
      upload: ".cdktf-kubeadm/payload-cp-2.sh",
      commands: [
        "set -e",
        "sudo -n bash .cdktf-kubeadm/payload-cp-2.sh",
        `sudo -n "${KUBE_VIP_LAYOUT.entry}"`,
        // registers the payload's join token (a rotated one) and deletes the one it replaced
        'sudo -n "/usr/local/sbin/cdktf-kubeadm-bootstrap" token',
        'sudo -n systemctl start --no-block cdktf-kubeadm-upgrade.service || { echo "cdktf-kubeadm: cannot start cdktf-kubeadm-upgrade.service on cp-2 (the bootstrap installs it)" >&2; exit 1; }',
      ],
    });
    const asRoot = { ...payload, host: { ...payload.host, ssh: { ...payload.host.ssh, user: "root" } } };
    expect(remoteCommands(asRoot, ssh("$HOME/dry")).commands.slice(1)).toEqual([
      'env BOOTSTRAP_ROOT="$HOME/dry" bash .cdktf-kubeadm/payload-cp-2.sh',
      `env BOOTSTRAP_ROOT="$HOME/dry" "$HOME/dry${KUBE_VIP_LAYOUT.entry}"`,
      'env BOOTSTRAP_ROOT="$HOME/dry" "$HOME/dry/usr/local/sbin/cdktf-kubeadm-bootstrap" token',
      // systemd starts the unit with its own environment: no BOOTSTRAP_ROOT, nothing for root.
      'systemctl start --no-block cdktf-kubeadm-upgrade.service || { echo "cdktf-kubeadm: cannot start cdktf-kubeadm-upgrade.service on cp-2 (the bootstrap installs it)" >&2; exit 1; }',
    ]);
    expect(remoteCommands(payload, ssh("", "env A=1")).commands[2]).toBe(`env A=1 "${KUBE_VIP_LAYOUT.entry}"`);
  });

  test("shellcheck clean", () => {
    for (const host of ["cp-1", "worker-1"]) {
      const r = shellcheck(cluster.installer(host));
      expect({ host, output: r.output }).toEqual({ host, output: "" });
    }
  });

  test("writes exactly the cloud-config's files with their modes, deletes itself, prints no content", () => {
    for (const host of ["cp-1", "cp-2", "worker-2"]) {
      const payload = cluster.payload(host);
      const root = fs.mkdtempSync(path.join(tmp, `install-${host}-`));
      const script = path.join(tmp, `payload-${host}.sh`);
      fs.writeFileSync(script, cluster.installer(host));
      const r = spawnSync("bash", [script], { env: { PATH: "/usr/bin:/bin", BOOTSTRAP_ROOT: root }, encoding: "utf8" });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(fs.existsSync(script)).toBe(false);
      expect(r.stdout.trim()).toBe(`cdktf-kubeadm: installed ${payload.files.length} files for ${host} (payload ${payload.sha256.slice(0, 12)})`);
      const written: string[] = [];
      const walk = (dir: string): void => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
          const p = path.join(dir, e.name);
          if (e.isDirectory()) walk(p);
          else written.push(p.slice(root.length));
        }
      };
      walk(root);
      expect(written.sort()).toEqual(payload.files.map((f) => f.path).sort());
      for (const file of payload.files) {
        const onDisk = path.join(root, file.path);
        expect(fs.readFileSync(onDisk, "utf8")).toBe(file.content);
        expect("0" + (fs.statSync(onDisk).mode & 0o777).toString(8)).toBe(file.permissions);
      }
      // Installing again (re-run after a payload change) replaces files in place.
      fs.writeFileSync(script, cluster.installer(host));
      expect(spawnSync("bash", [script], { env: { PATH: "/usr/bin:/bin", BOOTSTRAP_ROOT: root } }).status).toBe(0);
    }
  });
});
