/**
 * OCI images for the air-gapped tests, built from files on this machine (our pause program, the
 * Kubernetes binaries we built) with crane and pushed into a registry (distribution) that runs
 * inside a node namespace: nothing comes from a public registry.
 */
import * as fs from "fs";
import * as path from "path";
import * as os from "os";
import { CommandResult, etcdTool, kubernetesCommand, outcome, run } from "./kubernetes";
import { NodeNamespace } from "./node-namespace";
import { waitFor } from "./wait";

export const AIRGAP_BIN = path.join(process.env.CDKTF_KUBEADM_CACHE ?? path.join(os.homedir(), ".cache", "cdktf-kubeadm"), "airgap", "bin");

/** Absolute path of an air-gap tool (containerd, ctr, crictl, registry, crane, pause, coredns). */
export function airgapCommand(tool: string): string {
  const file = path.join(AIRGAP_BIN, tool);
  if (!fs.existsSync(file)) throw new Error(`${tool} is not built: run \`bash test/k8s/build-tools.sh airgap\` (npm test does it first)`);
  return file;
}

/** A registry (distribution) listening on `address:port` inside the node, storage in its temp dir. */
export function startRegistry(node: NodeNamespace, address: string, port = 5000): string {
  const config = path.join(node.dir, "registry.yml");
  fs.writeFileSync(config, [
    "version: 0.1",
    "log: { level: warn, accesslog: { disabled: false } }",
    `storage: { filesystem: { rootdirectory: ${path.join(node.dir, "registry")} }, delete: { enabled: true } }`,
    `http: { addr: "${address}:${port}" }`,
    "",
  ].join("\n"));
  node.start("registry", airgapCommand("registry"), ["serve", config]);
  const endpoint = `${address}:${port}`;
  waitFor(`the registry listens on ${endpoint}`, () => node.exec("bash", ["-c", `exec 3<>/dev/tcp/${address}/${port}`]).code === 0,
    { timeoutMs: 20_000, intervalMs: 200, diagnostics: () => node.log("registry") });
  return endpoint;
}

export interface ImageFile {
  /** Path inside the image, e.g. "/pause". */
  readonly path: string;
  /** File on this machine (copied, mode 0755). */
  readonly source?: string;
  /** Or a symbolic link to this target (multi-call binaries: busybox, xtables-nft-multi). */
  readonly linkTo?: string;
}

export interface ImageOptions {
  /** The image's entrypoint. @default none */
  readonly entrypoint?: readonly string[];
  /** The image's environment, e.g. PATH for a command named without a path. @default none */
  readonly env?: Readonly<Record<string, string>>;
}

/** Builds an image of one layer holding `files` and pushes it to `reference` (plain HTTP registry). */
export function pushImage(node: NodeNamespace, reference: string, files: readonly ImageFile[], options: ImageOptions = {}): CommandResult {
  const staging = fs.mkdtempSync(path.join(node.dir, "layer-"));
  for (const f of files) {
    const target = path.join(staging, f.path);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.rmSync(target, { force: true });
    if (f.linkTo !== undefined) {
      fs.symlinkSync(f.linkTo, target);
      continue;
    }
    fs.copyFileSync(f.source!, target);
    fs.chmodSync(target, 0o755);
  }
  const layer = `${staging}.tar`;
  // Reproducible layer: fixed owner and time.
  const tar = run("tar", ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "-C", staging, "-cf", layer, "."]);
  if (tar.code !== 0) return tar;
  const crane = airgapCommand("crane");
  const append = node.exec(crane, ["append", "--insecure", "--oci-empty-base", "-f", layer, "-t", reference]);
  if (append.code !== 0) return append;
  const mutate = node.exec(crane, [
    "mutate", "--insecure", "--set-platform", "linux/amd64",
    ...(options.entrypoint ?? []).flatMap((e) => ["--entrypoint", e]),
    ...Object.entries(options.env ?? {}).flatMap(([k, v]) => ["--env", `${k}=${v}`]),
    reference,
  ]);
  fs.rmSync(staging, { recursive: true, force: true });
  fs.rmSync(layer, { force: true });
  return mutate;
}

/** pushImage that fails the test with crane's output. */
export function mustPushImage(node: NodeNamespace, reference: string, files: readonly ImageFile[], options: ImageOptions = {}): void {
  const r = pushImage(node, reference, files, options);
  if (r.code !== 0) throw new Error(`pushing ${reference}: ${outcome(r)}`);
}

/**
 * What an image kubeadm lists (registry.k8s.io/<name>:<tag>) runs, built here: the Kubernetes
 * command of that name, etcd, CoreDNS or our pause program, and where it lives in the image.
 */
export function kubeadmImageContent(version: string, image: string): ImageFile {
  const name = image.replace(/^registry\.k8s\.io\//, "").replace(/:.*$/, "");
  if (name === "pause") return { source: airgapCommand("pause"), path: "/pause" };
  if (name === "coredns/coredns") return { source: airgapCommand("coredns"), path: "/coredns" };
  return { source: kubernetesCommand(version, name), path: `/usr/local/bin/${name}` };
}

/** A program of this machine and the shared libraries it loads (ldd), at the same paths in the image. */
export function hostProgram(file: string, at = file): ImageFile[] {
  const ldd = run("ldd", [file]);
  if (ldd.code !== 0) throw new Error(`ldd ${file}: ${outcome(ldd)}`);
  const libraries = [...ldd.stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1]);
  return [{ path: at, source: fs.realpathSync(file) }, ...libraries.map((l) => ({ path: l, source: fs.realpathSync(l) }))];
}

/** Image files without repeats (the last wins), e.g. the libc two programs share. */
export function imageFiles(...groups: ImageFile[][]): ImageFile[] {
  return [...new Map(groups.flat().map((f) => [f.path, f])).values()];
}

const XTABLES = "/usr/sbin/xtables-nft-multi";
const XTABLES_EXTENSIONS = "/usr/lib/x86_64-linux-gnu/xtables";

/**
 * This machine's iptables (Debian's, nft backend) as kube-proxy and flannel run it: one multi-call
 * binary under every name they exec, its libraries and its match/target extensions (dlopen'ed).
 * What registry.k8s.io's distroless-iptables base gives the upstream images.
 */
export function iptablesUserland(): ImageFile[] {
  if (!fs.existsSync(XTABLES)) throw new Error(`${XTABLES} is missing: install Debian's iptables (scripts/setup.sh does)`);
  const names = ["iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore"];
  // With the libraries each extension needs itself: libxt_statistic.so (kube-proxy's match for a
  // Service with two or more endpoints) needs libm, which iptables itself does not.
  const extensions = fs.readdirSync(XTABLES_EXTENSIONS).flatMap((f) => hostProgram(path.join(XTABLES_EXTENSIONS, f)));
  return imageFiles(
    hostProgram(XTABLES),
    names.map((n) => ({ path: `/usr/sbin/${n}`, linkTo: "xtables-nft-multi" })),
    extensions,
  );
}

const BUSYBOX = "/bin/busybox";

/** Debian's static busybox with the applets named (sh, cp, wget, httpd, ...), on PATH /bin. */
export function busybox(applets: readonly string[]): ImageFile[] {
  if (!fs.existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: install Debian's busybox-static (scripts/setup.sh does)`);
  return [{ path: BUSYBOX, source: BUSYBOX }, ...applets.map((a) => ({ path: `/bin/${a}`, linkTo: "busybox" }))];
}

/** PATH for images whose commands are named without a path. */
export const IMAGE_PATH = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/bin" };

/**
 * Builds one image of kubeadm's list (registry.k8s.io/<name>:<tag>) from our binaries and pushes it
 * under the same path to `registry`; kube-proxy gets the iptables userland it execs.
 */
export function pushKubeadmImage(node: NodeNamespace, registry: string, version: string, image: string): void {
  const content = kubeadmImageContent(version, image);
  // etcd's image carries etcdctl and etcdutl too (the backup agent and the janitor run them)
  const etcdTools = image.includes("/etcd:") ? (["etcdctl", "etcdutl"] as const).map((t) => ({ source: etcdTool(t), path: `/usr/local/bin/${t}` })) : [];
  const files = image.includes("/kube-proxy:") ? imageFiles([content], iptablesUserland()) : [content, ...etcdTools];
  mustPushImage(node, image.replace(/^registry\.k8s\.io\//, `${registry}/`), files, { entrypoint: [content.path], env: IMAGE_PATH });
}
