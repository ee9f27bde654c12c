/**
 * The bare-metal inventory: hosts, their roles and pools, the API endpoint and the SSH settings,
 * validated at synth time like the cluster model (every problem names the field and the fix).
 * Pure TypeScript apart from `Token.isUnresolved` (the SSH key must be a Terraform expression).
 */
import { Token } from "cdktf";
import { cidrContains, cidrSize, formatIpv4, Ipv4Cidr, parseCidr, parseIpv4 } from "../../bootstrap/cidr";
import type { NodePoolSpec, NodeRole } from "../../bootstrap/spec";
import { Problems } from "../../bootstrap/validation-error";
import { KUBE_VIP_IMAGE } from "./kube-vip";

export type BaremetalHostRole = "control-plane" | "worker";

/** Per-host SSH settings that override `BaremetalSshOptions`. */
export interface BaremetalHostSsh {
  /** @default ssh.user */
  readonly user?: string;
  /** @default ssh.port */
  readonly port?: number;
  /**
   * The host's public key (`ssh-ed25519 AAAA...`, as in `/etc/ssh/ssh_host_ed25519_key.pub`).
   * Terraform then refuses any other key. @default not verified (Terraform trusts the first key it sees)
   */
  readonly hostKey?: string;
}

export interface BaremetalHost {
  /**
   * Inventory name: a DNS label, unique. Used as the NoCloud `local-hostname`, in resource and
   * seed-directory names, and as the Kubernetes node name of a worker (control-plane nodes are
   * named per slot, `<cluster>-cp-<n>`, so a replacement takes over its predecessor's etcd member).
   */
  readonly name: string;
  /** Address Terraform connects to over SSH: IPv4 address or DNS name. */
  readonly address: string;
  /**
   * IPv4 address on the cluster network (`nodeCidr`): kubelet `--node-ip` and, on control-plane
   * hosts, the API server's advertise address. @default address (which must then be an IPv4 address)
   */
  readonly internalAddress?: string;
  readonly role: BaremetalHostRole;
  /** Node pool of a worker (required for workers; control-plane hosts have none). */
  readonly pool?: string;
  readonly ssh?: BaremetalHostSsh;
}

/**
 * How clients reach the API server.
 * - `kube-vip`: a virtual IP in `nodeCidr`, announced by ARP from a kube-vip static pod on the
 *   control-plane hosts (leader election through the API server).
 * - `external-load-balancer`: your load balancer (HAProxy, F5, ...) forwarding TCP to port
 *   `apiServerPort` of every control-plane host.
 * - `single-control-plane`: the internal address of the only control-plane host (replicas 1).
 */
export type BaremetalApiEndpoint =
  | {
      readonly type: "kube-vip";
      /** The virtual IP: inside `nodeCidr`, not a host's address. */
      readonly address: string;
      /** Interface that carries the VIP, e.g. "eno1". @default kube-vip picks the default-route interface */
      readonly interface?: string;
      /** @default KUBE_VIP_IMAGE */
      readonly image?: string;
    }
  | {
      readonly type: "external-load-balancer";
      /** IPv4 address or DNS name of the load balancer. */
      readonly address: string;
    }
  | { readonly type: "single-control-plane" };

export interface BaremetalSshOptions {
  /** Login user (needs passwordless sudo unless it is root). Per host: hosts[i].ssh.user. */
  readonly user: string;
  /** @default 22 */
  readonly port?: number;
  /**
   * The private key as a Terraform expression, read at apply time and never written into the
   * synthesized configuration: `Fn.file(pathVariable.stringValue)` or a sensitive variable's
   * `stringValue`. @default none: Terraform uses the SSH agent (SSH_AUTH_SOCK)
   */
  readonly privateKey?: string;
  /**
   * Path prefix under which the payload is written and the bootstrap runs (BOOTSTRAP_ROOT), for
   * dry runs and tests; `$HOME` is expanded on the host. @default "" (the real paths)
   */
  readonly remoteRoot?: string;
  /**
   * Prefix of the commands that install the payload and run the bootstrap, e.g. `sudo -E` or an
   * `env VAR=...` list; `$HOME` is expanded on the host. @default "sudo -n" ("" when user is root)
   */
  readonly remoteCommandPrefix?: string;
  /** Connection timeout (Terraform duration). @default "5m" */
  readonly timeout?: string;
}

export interface BaremetalNodePoolSpec extends Omit<NodePoolSpec, "minSize" | "maxSize" | "desiredSize"> {}

/** A validated host. */
export interface ResolvedHost {
  readonly name: string;
  readonly address: string;
  readonly internalAddress: string;
  /** Control-plane slot (in the order given) or worker pool. */
  readonly role: NodeRole;
  readonly ssh: { readonly user: string; readonly port: number; readonly hostKey?: string };
}

export type ResolvedApiEndpoint =
  | { readonly type: "kube-vip"; readonly host: string; readonly interface?: string; readonly image: string }
  | { readonly type: "external-load-balancer"; readonly host: string }
  | { readonly type: "single-control-plane"; readonly host: string };

export interface ResolvedSsh {
  readonly privateKey?: string;
  readonly remoteRoot: string;
  /** Per user: "sudo -n" (never waits for a password) unless root. */
  readonly commandPrefix: (user: string) => string;
  readonly timeout: string;
}

export interface ResolvedInventory {
  readonly hosts: ResolvedHost[];
  /** Pools in order of first appearance, sized by their host counts, with the user's settings. */
  readonly nodePools: NodePoolSpec[];
  readonly controlPlaneCount: number;
  readonly nodeCidr: string;
  readonly apiEndpoint: ResolvedApiEndpoint;
  readonly ssh?: ResolvedSsh;
}

export interface InventoryInput {
  readonly hosts: readonly BaremetalHost[];
  readonly nodeCidr: string;
  readonly apiEndpoint?: BaremetalApiEndpoint;
  readonly nodePools?: readonly BaremetalNodePoolSpec[];
  readonly ssh?: BaremetalSshOptions;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const POOL_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/i;
/** POSIX-portable user names as useradd accepts them. */
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
/** Linux interface names: at most 15 bytes, no '/', ':' or whitespace. */
const INTERFACE = /^[A-Za-z0-9_.-]{1,15}$/;
/** Pinned image reference: registry/path with a tag or a digest, never "latest". */
const PINNED_IMAGE = /^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._-]+)+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$/;
const SSH_PUBLIC_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+=*( \S.*)?$/;
/** Shell text that travels in remote-exec commands: one line, no Terraform template syntax. */
const SHELL_SAFE_PATH = /^(\$HOME|\/)[A-Za-z0-9_./-]*$/;
const TERRAFORM_DURATION = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
const ROLES: readonly string[] = ["control-plane", "worker"];

function isAddress(text: unknown): text is string {
  return typeof text === "string" && (parseIpv4(text) !== undefined || (DNS_NAME.test(text) && !/^[0-9.]+$/.test(text)));
}

function isPort(port: unknown): port is number {
  return typeof port === "number" && Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** Network and broadcast addresses of blocks larger than /31 are not host addresses. */
function isUsableHost(cidr: Ipv4Cidr, address: number): boolean {
  if (cidr.prefix >= 31) return true;
  return address !== cidr.network && address !== cidr.network + cidrSize(cidr) - 1;
}

/**
 * Validates the inventory; problems go into `p` (the caller merges them with the cluster model's
 * and throws one ClusterSpecError). Returns a best-effort result even when there are problems.
 */
export function resolveInventory(p: Problems, input: InventoryInput): ResolvedInventory {
  const node = parseCidr(String(input.nodeCidr));
  let nodeCidr: Ipv4Cidr | undefined;
  if (typeof node === "string") {
    p.add("nodeCidr", input.nodeCidr, node, "give the hosts' network as a CIDR, e.g. 192.168.10.0/24 (every internalAddress must be inside it)");
  } else {
    nodeCidr = node;
  }

  const hosts = Array.isArray(input.hosts) ? input.hosts : [];
  p.check(hosts.length > 0, "hosts", input.hosts, "is empty", 'list the machines, e.g. [{ name: "cp-1", address: "192.168.10.11", role: "control-plane" }]');

  const names = new Map<string, number>();
  const addresses = new Map<string, number>();
  const internals = new Map<string, number>();
  const pools: string[] = [];
  const poolCounts = new Map<string, number>();
  const resolved: ResolvedHost[] = [];
  let slot = 0;
  const ssh = input.ssh;

  hosts.forEach((host, i) => {
    const f = `hosts[${i}]`;
    const name = host?.name;
    if (p.check(typeof name === "string" && DNS_LABEL.test(name), `${f}.name`, name, "is not a DNS label (lowercase letters, digits and '-', at most 63 characters)", 'use e.g. "cp-1" or "worker-7"')) {
      const first = names.get(name);
      p.check(first === undefined, `${f}.name`, name, `is also the name of hosts[${first}]`, "give every host a unique name");
      names.set(name, i);
    }

    const address = host?.address;
    let duplicateAddress = false;
    if (p.check(isAddress(address), `${f}.address`, address, "is neither an IPv4 address nor a DNS name", 'use the address Terraform reaches the host at over SSH, e.g. "192.168.10.11"')) {
      const first = addresses.get(address.toLowerCase());
      duplicateAddress = !p.check(first === undefined, `${f}.address`, address, `is also the address of hosts[${first}]`, "give every host its own SSH address");
      addresses.set(address.toLowerCase(), i);
    }

    const internalGiven = host?.internalAddress !== undefined;
    const internal = internalGiven ? host.internalAddress : address;
    const internalField = internalGiven ? `${f}.internalAddress` : `${f}.address`;
    const internalValue = typeof internal === "string" ? parseIpv4(internal) : undefined;
    if (internalValue === undefined) {
      if (internalGiven || isAddress(address)) {
        p.add(
          internalField,
          internal,
          internalGiven ? "is not an IPv4 address" : "is a DNS name, and the cluster needs each host's IPv4 address (kubelet --node-ip, API advertise address)",
          internalGiven ? 'use the host\'s address on the cluster network, e.g. "192.168.10.11"' : "set internalAddress to the host's IPv4 address on the cluster network",
        );
      }
    } else {
      const first = internals.get(internal as string);
      // A duplicate SSH address that is also the internal one is reported once, above.
      p.check(first === undefined || (duplicateAddress && !internalGiven), internalField, internal, `is also the internal address of hosts[${first}]`, "give every host its own address on the cluster network");
      internals.set(internal as string, i);
      if (nodeCidr) {
        p.check(
          cidrContains(nodeCidr, internalValue),
          internalField,
          internal,
          `is outside nodeCidr ${nodeCidr.text}`,
          `use the host's address on ${nodeCidr.text}${internalGiven ? "" : " (set internalAddress when SSH goes through another network)"}, or widen nodeCidr`,
        );
        if (cidrContains(nodeCidr, internalValue)) {
          p.check(isUsableHost(nodeCidr, internalValue), internalField, internal, `is the network or broadcast address of ${nodeCidr.text}`, "use a host address inside the network");
        }
      }
    }

    const role = host?.role;
    p.check(ROLES.includes(role as string), `${f}.role`, role, 'is neither "control-plane" nor "worker"', 'set role: "control-plane" (1, 3 or 5 hosts) or "worker"');
    let nodeRole: NodeRole | undefined;
    if (role === "control-plane") {
      p.check(host.pool === undefined, `${f}.pool`, host.pool, "is set on a control-plane host", "remove pool (control-plane hosts form the control plane, not a node pool), or make the host a worker");
      nodeRole = { kind: "control-plane", slot: slot++ };
    } else if (role === "worker") {
      const pool = host.pool;
      if (pool === undefined) {
        p.add(`${f}.pool`, pool, "is missing: every worker belongs to a node pool", 'set pool, e.g. pool: "general" (pools are formed from the workers\' pool names)');
      } else if (p.check(typeof pool === "string" && POOL_NAME.test(pool) && pool.length <= 20, `${f}.pool`, pool, "is not a DNS label of at most 20 characters starting with a letter", 'use e.g. "general" or "gpu"')) {
        if (!poolCounts.has(pool)) pools.push(pool);
        poolCounts.set(pool, (poolCounts.get(pool) ?? 0) + 1);
        nodeRole = { kind: "worker", pool };
      }
    }

    const hostSsh = host?.ssh ?? {};
    const user = hostSsh.user ?? ssh?.user ?? "";
    const port = hostSsh.port ?? ssh?.port ?? 22;
    if (hostSsh.user !== undefined) p.check(USER_NAME.test(hostSsh.user), `${f}.ssh.user`, hostSsh.user, "is not a valid user name", 'use e.g. "ubuntu"');
    if (hostSsh.port !== undefined) p.check(isPort(hostSsh.port), `${f}.ssh.port`, hostSsh.port, "is not a TCP port", "use e.g. 22");
    if (hostSsh.hostKey !== undefined) {
      p.check(typeof hostSsh.hostKey === "string" && SSH_PUBLIC_KEY.test(hostSsh.hostKey.trim()), `${f}.ssh.hostKey`, hostSsh.hostKey, "is not an OpenSSH public key line", "paste the host's /etc/ssh/ssh_host_ed25519_key.pub, e.g. \"ssh-ed25519 AAAAC3...\"");
    }
    if (nodeRole && typeof name === "string" && typeof address === "string" && internalValue !== undefined) {
      resolved.push({
        name,
        address,
        internalAddress: internal as string,
        role: nodeRole,
        ssh: { user, port, hostKey: hostSsh.hostKey?.trim() },
      });
    }
  });

  const controlPlaneCount = slot;
  if (hosts.length > 0) {
    p.check(
      [1, 3, 5].includes(controlPlaneCount),
      "hosts",
      `${controlPlaneCount} control-plane host${controlPlaneCount === 1 ? "" : "s"}`,
      "must contain 1, 3 or 5 control-plane hosts (an odd etcd quorum)",
      'give role: "control-plane" to 3 hosts for high availability, or 1 for development',
    );
  }

  const nodePools = resolvePools(p, input.nodePools ?? [], pools, poolCounts);
  const apiEndpoint = resolveApiEndpoint(p, input.apiEndpoint, resolved, hosts, controlPlaneCount, nodeCidr);
  const resolvedSsh = ssh === undefined ? undefined : resolveSsh(p, ssh);
  return { hosts: resolved, nodePools, controlPlaneCount, nodeCidr: nodeCidr?.text ?? String(input.nodeCidr), apiEndpoint, ssh: resolvedSsh };
}

function resolvePools(p: Problems, settings: readonly BaremetalNodePoolSpec[], pools: string[], counts: Map<string, number>): NodePoolSpec[] {
  const byName = new Map<string, BaremetalNodePoolSpec>();
  settings.forEach((pool, i) => {
    const f = `nodePools[${i}]`;
    if (!p.check(counts.has(pool?.name), `${f}.name`, pool?.name, "names no pool: no worker host has this pool", `set pool: "${pool?.name}" on the workers that belong to it, or remove these settings (pools: ${pools.join(", ") || "none"})`)) return;
    p.check(!byName.has(pool.name), `${f}.name`, pool.name, "has settings twice", "merge the settings into one entry");
    byName.set(pool.name, pool);
    p.check(!("node-ip" in (pool.kubeletExtraArgs ?? {})), `${f}.kubeletExtraArgs["node-ip"]`, pool.kubeletExtraArgs?.["node-ip"], "is set per host from internalAddress", "remove it and set the hosts' internalAddress");
  });
  return pools.map((name) => {
    const size = counts.get(name)!;
    const { name: _name, ...rest } = byName.get(name) ?? { name };
    const spec = rest as Partial<NodePoolSpec>;
    // Sizes are derived; anything the user put there was reported above.
    return { ...spec, name, minSize: size, maxSize: size, desiredSize: size };
  });
}

function resolveApiEndpoint(
  p: Problems,
  endpoint: BaremetalApiEndpoint | undefined,
  hosts: ResolvedHost[],
  given: readonly BaremetalHost[],
  controlPlaneCount: number,
  nodeCidr: Ipv4Cidr | undefined,
): ResolvedApiEndpoint {
  const firstControlPlane = hosts.find((h) => h.role.kind === "control-plane");
  const single = (): ResolvedApiEndpoint => ({ type: "single-control-plane", host: firstControlPlane?.internalAddress ?? "127.0.0.1" });
  if (endpoint === undefined) {
    p.check(
      controlPlaneCount <= 1,
      "apiEndpoint",
      endpoint,
      `is required with ${controlPlaneCount} control-plane hosts`,
      'use { type: "kube-vip", address: "<free IP in nodeCidr>" } or { type: "external-load-balancer", address: "<your LB>" }',
    );
    return single();
  }
  switch (endpoint.type) {
    case "single-control-plane":
      p.check(
        controlPlaneCount <= 1,
        "apiEndpoint.type",
        endpoint.type,
        `needs exactly 1 control-plane host, but there are ${controlPlaneCount}`,
        'use "kube-vip" or "external-load-balancer" so the API survives the loss of a control-plane host',
      );
      return single();
    case "external-load-balancer": {
      const address = endpoint.address;
      p.check(isAddress(address), "apiEndpoint.address", address, "is neither an IPv4 address nor a DNS name", 'give the load balancer\'s address, e.g. "api.metal.example.com" or "192.168.10.5"');
      const host = given.findIndex((h) => h?.internalAddress === address || h?.address === address);
      p.check(
        host < 0 || controlPlaneCount === 1,
        "apiEndpoint.address",
        address,
        `is the address of hosts[${host}], not a load balancer`,
        'point it at the load balancer in front of all control-plane hosts, or use { type: "kube-vip" }',
      );
      return { type: "external-load-balancer", host: String(address) };
    }
    case "kube-vip": {
      const address = endpoint.address;
      const value = typeof address === "string" ? parseIpv4(address) : undefined;
      if (p.check(value !== undefined, "apiEndpoint.address", address, "is not an IPv4 address (kube-vip announces an address, not a name)", "pick a free address in nodeCidr, e.g. 192.168.10.10")) {
        if (nodeCidr) {
          const inside = cidrContains(nodeCidr, value!);
          p.check(inside, "apiEndpoint.address", address, `is outside nodeCidr ${nodeCidr.text}: ARP only reaches the hosts' own network`, `pick a free address in ${nodeCidr.text}, e.g. ${formatIpv4(nodeCidr.network + 10)}`);
          if (inside) p.check(isUsableHost(nodeCidr, value!), "apiEndpoint.address", address, `is the network or broadcast address of ${nodeCidr.text}`, "pick a free host address in nodeCidr");
        }
        const taken = given.findIndex((h) => h?.internalAddress === address || h?.address === address);
        p.check(taken < 0, "apiEndpoint.address", address, `is the address of hosts[${taken}]; the virtual IP must be free`, "pick an address no machine uses (and keep it out of your DHCP range)");
      }
      if (endpoint.interface !== undefined) {
        p.check(typeof endpoint.interface === "string" && INTERFACE.test(endpoint.interface), "apiEndpoint.interface", endpoint.interface, "is not a Linux interface name", 'use the name `ip -br link` shows on the control-plane hosts, e.g. "eno1"');
      }
      const image = endpoint.image ?? KUBE_VIP_IMAGE;
      p.check(typeof image === "string" && PINNED_IMAGE.test(image) && !image.endsWith(":latest"), "apiEndpoint.image", image, "is not a pinned image reference (registry/path:tag or @sha256:digest)", `use e.g. "${KUBE_VIP_IMAGE}" or your mirror of it`);
      return { type: "kube-vip", host: String(address), interface: endpoint.interface, image };
    }
    default:
      p.add("apiEndpoint.type", (endpoint as { type?: unknown }).type, "is not an endpoint type", 'use "kube-vip", "external-load-balancer" or "single-control-plane"');
      return single();
  }
}

function resolveSsh(p: Problems, ssh: BaremetalSshOptions): ResolvedSsh {
  p.check(typeof ssh.user === "string" && USER_NAME.test(ssh.user), "ssh.user", ssh.user, "is not a valid user name", 'use the login user of the hosts, e.g. "ubuntu" (hosts[i].ssh.user overrides it per host)');
  if (ssh.port !== undefined) p.check(isPort(ssh.port), "ssh.port", ssh.port, "is not a TCP port", "use 22");
  const key = ssh.privateKey;
  if (key !== undefined) {
    const literal = typeof key === "string" && !Token.isUnresolved(key);
    p.check(
      !literal,
      "ssh.privateKey",
      literal && key.includes("PRIVATE KEY") ? "(a literal private key)" : key,
      "is a literal string: it would be written into the synthesized configuration",
      "pass a Terraform expression read at apply time: Fn.file(new TerraformVariable(this, \"ssh_private_key_path\", { type: \"string\" }).stringValue), or a sensitive variable's stringValue",
    );
  }
  const remoteRoot = ssh.remoteRoot ?? "";
  if (remoteRoot !== "") {
    p.check(SHELL_SAFE_PATH.test(remoteRoot) && !remoteRoot.includes(".."), "ssh.remoteRoot", remoteRoot, "must be an absolute path or start with $HOME, without '..', spaces or quotes", 'use e.g. "$HOME/dry-run" (or leave it unset for the real paths)');
  }
  const prefix = ssh.remoteCommandPrefix;
  if (prefix !== undefined) {
    p.check(typeof prefix === "string" && !/[\n\r]/.test(prefix) && !/[$%]\{/.test(prefix), "ssh.remoteCommandPrefix", prefix, "must be one line without ${ or %{ (Terraform would read them as template syntax)", 'use e.g. "sudo -n" or "env HTTPS_PROXY=http://proxy:3128"; write $HOME rather than ${HOME}');
  }
  const timeout = ssh.timeout ?? "5m";
  p.check(TERRAFORM_DURATION.test(timeout), "ssh.timeout", timeout, "is not a duration", 'use e.g. "5m"');
  return {
    privateKey: key,
    remoteRoot,
    commandPrefix: (user) => prefix ?? (user === "root" ? "" : "sudo -n"),
    timeout,
  };
}
