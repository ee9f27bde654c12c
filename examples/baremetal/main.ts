/**
 * Bare-metal example: a kubeadm cluster on machines you already have, reached over SSH, with a
 * kube-vip virtual IP. Tunable through cdktf context (cdktf.json "context", or CDKTF_CONTEXT_JSON):
 *
 *   baremetal.clusterName          default "demo-metal"
 *   baremetal.hosts                JSON list of hosts (see docs/baremetal.md), default 3 control-plane
 *                                  hosts 192.168.10.11-13 and 2 workers 192.168.10.21-22 (pool "general")
 *   baremetal.nodeCidr             default "192.168.10.0/24"
 *   baremetal.vip                  kube-vip address, default "192.168.10.10"; "" for none
 *   baremetal.interface            interface carrying the VIP, default: kube-vip's choice (default route)
 *   baremetal.loadBalancer         address of an external load balancer (instead of kube-vip)
 *   baremetal.sshUser              default "ubuntu"; baremetal.sshPort default 22
 *   baremetal.remoteRoot           BOOTSTRAP_ROOT on the hosts (dry runs), default "" (real paths)
 *   baremetal.remoteCommandPrefix  default "sudo -n"
 *   baremetal.pkiDirectory         default ".cdktf-kubeadm/pki/<cluster>"
 *   baremetal.seedDirectory        default ".cdktf-kubeadm/seeds/<cluster>"
 *   baremetal.seedControlPlaneSecrets  "true" to also write control-plane seed files (CA keys)
 *   baremetal.kubernetesVersion, baremetal.cni (JSON, e.g. {"plugin":"cilium"})
 *
 * The SSH private key is read by Terraform at apply time: `-var ssh_private_key_path=...`.
 * Synthesizes with no machines; `terraform apply` needs them (or see test/baremetal-ssh.test.ts).
 */
import { App, Fn, TerraformStack, TerraformVariable } from "cdktf";
import type { CniSpec } from "../../src/bootstrap/spec";
import { BaremetalApiEndpoint, BaremetalHost, BaremetalKubeadmCluster } from "../../src/constructs/baremetal";

export const BAREMETAL_EXAMPLE_STACK = "baremetal-example";

export const DEFAULT_HOSTS: BaremetalHost[] = [
  { name: "cp-1", address: "192.168.10.11", role: "control-plane" },
  { name: "cp-2", address: "192.168.10.12", role: "control-plane" },
  { name: "cp-3", address: "192.168.10.13", role: "control-plane" },
  { name: "worker-1", address: "192.168.10.21", role: "worker", pool: "general" },
  { name: "worker-2", address: "192.168.10.22", role: "worker", pool: "general" },
];

/** Context values arrive as strings (cdktf.json, CDKTF_CONTEXT_JSON) or as objects (App({ context })). */
function json<T>(value: unknown, key: string): T | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") return value as T;
  try {
    return JSON.parse(value) as T;
  } catch (error) {
    throw new Error(`baremetal example: context baremetal.${key} is not valid JSON: ${(error as Error).message}`);
  }
}

function text(value: unknown): string | undefined {
  return value === undefined || value === null ? undefined : String(value);
}

/** Adds the bare-metal example stack to the app. */
export function baremetalExample(app: App): void {
  const ctx = (key: string): unknown => app.node.tryGetContext(`baremetal.${key}`);
  const stack = new TerraformStack(app, BAREMETAL_EXAMPLE_STACK);

  const keyPath = new TerraformVariable(stack, "ssh_private_key_path", {
    type: "string",
    default: "~/.ssh/id_ed25519",
    description: "Private key Terraform uses to reach the hosts over SSH (read at apply time, never stored in the configuration)",
  });

  const vip = text(ctx("vip")) ?? "192.168.10.10";
  const loadBalancer = text(ctx("loadBalancer"));
  const iface = text(ctx("interface"));
  const apiEndpoint: BaremetalApiEndpoint | undefined = loadBalancer
    ? { type: "external-load-balancer", address: loadBalancer }
    : vip
      ? { type: "kube-vip", address: vip, ...(iface ? { interface: iface } : {}) }
      : undefined;
  const port = text(ctx("sshPort"));

  new BaremetalKubeadmCluster(stack, "cluster", {
    name: text(ctx("clusterName")) ?? "demo-metal",
    kubernetesVersion: text(ctx("kubernetesVersion")),
    hosts: json<BaremetalHost[]>(ctx("hosts"), "hosts") ?? DEFAULT_HOSTS,
    nodeCidr: text(ctx("nodeCidr")) ?? "192.168.10.0/24",
    apiEndpoint,
    cni: json<CniSpec>(ctx("cni"), "cni"),
    ssh: {
      user: text(ctx("sshUser")) ?? "ubuntu",
      port: port === undefined ? undefined : Number(port),
      privateKey: Fn.file(keyPath.stringValue),
      remoteRoot: text(ctx("remoteRoot")),
      remoteCommandPrefix: text(ctx("remoteCommandPrefix")),
    },
    seedFiles: {
      includeControlPlaneSecrets: String(ctx("seedControlPlaneSecrets")) === "true",
      directory: text(ctx("seedDirectory")),
    },
    pkiDirectory: text(ctx("pkiDirectory")),
  });
}
