/**
 * Air-gapped image pulls, for real: a node of its own (network and mount namespaces, no route
 * anywhere) runs real containerd with the config our bootstrap writes (`containerd_config` on
 * containerd's own `config default`) and our registry mirror's hosts.toml, next to a registry
 * (distribution) that holds images built here from our binaries. Then our images step (`kubeadm
 * config images pull` through the CRI) and a plain pull of the sandbox image must be served by the
 * mirror, and an image the mirror lacks must fail.
 */
import * as fs from "fs";
import * as path from "path";
import { TerraformStack, Testing } from "cdktf";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import { resolveCluster } from "../src/bootstrap/resolve-cluster";
import { KubeadmCluster } from "../src/constructs/kubeadm-cluster";
import { airgapCommand, pushKubeadmImage, startRegistry } from "./support/images";
import { KUBERNETES_TEST_VERSION, kubernetesCommand, outcome, roleConfigs } from "./support/kubernetes";
import { NodeNamespace } from "./support/node-namespace";
import { tempDir } from "./support/stack-json";
import { waitFor } from "./support/wait";

jest.setTimeout(300_000);

const VERSION = KUBERNETES_TEST_VERSION;
const MIRROR_ADDRESS = "10.0.0.2";
const work = tempDir("real-airgap-");
const stack = new TerraformStack(Testing.app(), "airgap");
const cluster = new KubeadmCluster(stack, "lab", {
  cluster: resolveCluster({
    name: "lab",
    kubernetesVersion: VERSION,
    controlPlane: { replicas: 1 },
    registryMirrors: { "registry.k8s.io": { endpoint: `http://${MIRROR_ADDRESS}:5000`, allowPlainHttp: true } },
  }, { platform: "test", nodeCidrs: ["10.0.0.0/24"] }),
  controlPlaneEndpointHost: "10.0.0.10",
  userDataLimit: 1 << 20,
  pkiDirectory: path.join(work, "pki"),
  outputs: false,
});
const role = roleConfigs("baremetal", cluster, { kind: "control-plane", slot: 0 });
const settings = role.files[NODE_LAYOUT.settings];
const sandboxImage = /^SANDBOX_IMAGE='([^']*)'$/m.exec(settings)![1];
const PATH = `${path.dirname(airgapCommand("containerd"))}:${path.dirname(kubernetesCommand(VERSION, "kubeadm"))}:/usr/sbin:/usr/bin:/sbin:/bin`;


let node: NodeNamespace;
let functions: string;

function ours(body: string) {
  return node.exec("bash", ["-c", `. ${functions}\nsettings\n${body}`], { env: { PATH } });
}

beforeAll(() => {
  node = NodeNamespace.create({ address: "10.0.0.10", extraAddresses: [MIRROR_ADDRESS] });
  const modes = Object.fromEntries(cluster.nodeFiles(role.role).map((f) => [f.path, parseInt(f.permissions, 8)]));
  for (const [file, content] of Object.entries(role.files)) {
    if (file.startsWith("/etc/containerd/") || file.startsWith("/etc/cdktf-kubeadm/") || file.startsWith("/etc/kubernetes/") || file.startsWith("/usr/local/sbin/")) {
      node.writeFile(file, content, modes[file] ?? 0o600);
    }
  }
  functions = path.join(node.dir, "functions.sh");
  fs.writeFileSync(functions, role.files[NODE_LAYOUT.script].trimEnd().replace(/main "\$@"$/, ""));
});

afterAll(() => {
  node?.stop();
  node?.remove();
  fs.rmSync(work, { recursive: true, force: true });
});

describe("containerd with the config our bootstrap writes", () => {
  let dump: string;
  beforeAll(() => {
    const configured = ours("containerd_config");
    expect(outcome(configured)).toBe("exit 0");
    const r = node.exec(airgapCommand("containerd"), ["--config", "/etc/containerd/config.toml", "config", "dump"]);
    expect(outcome(r)).toBe("exit 0");
    dump = r.stdout;
  });

  test("loads it, with systemd cgroups, our sandbox image and registry hosts from certs.d", () => {
    expect(dump).toMatch(/^\s*SystemdCgroup = true$/m);
    expect(dump).toContain(`sandbox = '${sandboxImage}'`);
    // the CRI's and the transfer service's registry host configuration
    expect(dump.match(/^\s*config_path = '\/etc\/containerd\/certs\.d'$/gm)).toHaveLength(2);
  });

  test("our hosts.toml for registry.k8s.io names the mirror", () => {
    expect(node.readFile("/etc/containerd/certs.d/registry.k8s.io/hosts.toml")).toContain(`[host."http://${MIRROR_ADDRESS}:5000"]`);
  });
});

describe("pulls through the registry mirror, with no route anywhere else", () => {
  let images: string[];
  beforeAll(() => {
    const registry = startRegistry(node, MIRROR_ADDRESS);
    const listed = node.exec(kubernetesCommand(VERSION, "kubeadm"), ["config", "images", "list", "--config", NODE_LAYOUT.initConfig]);
    expect(outcome(listed)).toBe("exit 0");
    images = listed.stdout.trim().split("\n");
    for (const image of images) pushKubeadmImage(node, registry, VERSION, image);
    node.start("containerd", airgapCommand("containerd"), ["--config", "/etc/containerd/config.toml"]);
    waitFor("containerd answers", () => node.exec(airgapCommand("ctr"), ["version"]).code === 0,
      { timeoutMs: 30_000, intervalMs: 200, diagnostics: () => node.log("containerd") });
  });

  test("the images every control-plane node pulls are registry.k8s.io's, at kubeadm's versions", () => {
    expect(images).toEqual(expect.arrayContaining([`registry.k8s.io/kube-apiserver:v${VERSION}`, sandboxImage, expect.stringMatching(/^registry\.k8s\.io\/etcd:/), expect.stringMatching(/^registry\.k8s\.io\/coredns\/coredns:/)]));
  });

  test("our images step (kubeadm config images pull over the CRI) gets every one from the mirror", () => {
    const pulled = ours("BOOTSTRAP_RETRIES=1; RETRIES=1; step_images");
    expect(outcome(pulled, 15)).toBe("exit 0");
    const list = node.exec(airgapCommand("crictl"), ["--runtime-endpoint", "unix:///run/containerd/containerd.sock", "images", "-o", "json"]);
    expect(outcome(list)).toBe("exit 0");
    const tags = (JSON.parse(list.stdout).images as { repoTags: string[] }[]).flatMap((i) => i.repoTags);
    expect(tags.sort()).toEqual([...images].sort());
    expect(node.log("registry", 400)).toMatch(/GET \/v2\/kube-apiserver\/manifests\/v\d/);
  });

  test("an image the mirror does not hold fails to pull (the registry itself is unreachable)", () => {
    const r = node.exec(airgapCommand("crictl"), ["--runtime-endpoint", "unix:///run/containerd/containerd.sock", "--timeout", "20s", "pull", "registry.k8s.io/not-mirrored:v1"]);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/not found|failed to resolve|no such host|connection refused/i);
  });
});
