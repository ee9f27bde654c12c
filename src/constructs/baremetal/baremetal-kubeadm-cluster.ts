import { DEFAULT_BACKUP_DIRECTORY, EtcdBackup, EtcdBackupOptions, resolveEtcdBackup } from "../../bootstrap/etcd-backup";
import * as fs from "fs";
import * as path from "path";
import { Annotations, AssetType, DataResource, TerraformAsset, TerraformOutput } from "cdktf";
import { Construct } from "constructs";
import { resolveCluster } from "../../bootstrap/resolve-cluster";
import type { ClusterSpec, ControlPlaneSpec, NodeRole, ResolvedCluster } from "../../bootstrap/spec";
import { roleName } from "../../bootstrap/spec";
import { unexpandedPathProblem } from "../../bootstrap/local-path";
import { USER_DATA_LIMITS } from "../../bootstrap/user-data-budget";
import { ClusterSpecError, Problems, SpecProblem } from "../../bootstrap/validation-error";
import { KubeadmCluster, KubeadmClusterProps, pkiStoreProblems } from "../kubeadm-cluster";
import { shallowTokenStacks } from "../token-stacks";
import { PROPS_SCHEMA } from "../props-schema";
import { propsShapeProblems } from "../props-shape";
import { writeAtSynth } from "../write-at-synth";
import { HostPayload, hostPayload, renderHostCloudConfig, renderInstaller, renderMetaData } from "./host-payload";
import { BaremetalApiEndpoint, BaremetalHost, BaremetalNodePoolSpec, BaremetalSshOptions, ResolvedInventory, resolveInventory } from "./hosts";
import { kubeVipFiles, KubeVipOptions } from "./kube-vip";
import { checkSeedDirectory, seedsHash, writeSeedDirectory } from "./seed-files";
import { createHostProvisioner } from "./ssh";
import { BAREMETAL_UPGRADE_CHANNEL, desiredVersionFiles } from "./upgrade";

export interface BaremetalSeedFileOptions {
  /** Write NoCloud seed files. @default true */
  readonly enabled?: boolean;
  /**
   * Also write the control-plane hosts' seeds. They carry the cluster's CA and service-account
   * keys, so they are left out unless you opt in. @default false
   */
  readonly includeControlPlaneSecrets?: boolean;
  /**
   * Staging directory (stable path, reused between synths; also copied into the synth output).
   * @default ".cdktf-kubeadm/seeds/<cluster name>" under the working directory of `cdktf synth`
   */
  readonly directory?: string;
}

export interface BaremetalKubeadmClusterProps extends Omit<ClusterSpec, "controlPlane" | "nodePools"> {
  /** The machines. Control-plane hosts take slots 0..n-1 in the order given (n = 1, 3 or 5). */
  readonly hosts: BaremetalHost[];
  /** The hosts' network, e.g. "192.168.10.0/24": every internal address (and a kube-vip VIP) is inside it. */
  readonly nodeCidr: string;
  /** @default single-control-plane with one control-plane host; required otherwise */
  readonly apiEndpoint?: BaremetalApiEndpoint;
  /** Control-plane settings; replicas is the number of control-plane hosts. */
  readonly controlPlane?: Omit<ControlPlaneSpec, "replicas">;
  /** Settings (labels, taints, kubelet flags) of the pools named by the workers; sizes are host counts. */
  readonly nodePools?: BaremetalNodePoolSpec[];
  /** Deliver the payloads over SSH at `terraform apply`. @default no SSH delivery (seed files only) */
  readonly ssh?: BaremetalSshOptions;
  readonly seedFiles?: BaremetalSeedFileOptions;
  /** @default ".cdktf-kubeadm/pki/<cluster name>" under the working directory of `cdktf synth` */
  readonly pkiDirectory?: string;
  readonly existingCa?: KubeadmClusterProps["existingCa"];
  /** Fail synth instead of creating a missing PKI store (CI). @default false (also CDKTF_KUBEADM_REQUIRE_PKI_STORE=1) */
  readonly requireExistingPkiStore?: boolean;
  /** Create the cluster outputs (API endpoint, admin kubeconfig, CA pin, nodes). @default true */
  readonly outputs?: boolean;
  /**
   * Scheduled etcd snapshots, kept in a directory on each control-plane host (the one holding the
   * backup Lease takes them; copy them off the hosts for disaster recovery).
   * @default every 15 minutes into /var/lib/cdktf-kubeadm/etcd-backups: every snapshot for 24 hours, hourly ones for 7 days, daily ones for 90
   */
  readonly etcdBackup?: BaremetalEtcdBackupOptions;
}

/** etcd snapshots on bare metal: EtcdBackupOptions and the directory. */
export interface BaremetalEtcdBackupOptions extends EtcdBackupOptions {
  /** Absolute directory on each control-plane host (made 0700, snapshots 0600). @default "/var/lib/cdktf-kubeadm/etcd-backups" */
  readonly directory?: string;
}

/**
 * A kubeadm cluster on machines you already have. Validates the inventory and the cluster spec
 * at synth, renders one payload per host and delivers it as NoCloud seed files and/or over SSH
 * (Terraform `terraform_data` provisioners, no provider needed).
 */
export class BaremetalKubeadmCluster extends Construct {
  readonly kubeadm: KubeadmCluster;
  readonly cluster: ResolvedCluster;
  readonly inventory: ResolvedInventory;
  /** `https://host:port`. */
  readonly apiEndpoint: string;
  /** Per host, control-plane slots first (slot order), then workers (inventory order). */
  readonly payloads: readonly HostPayload[];
  /** SSH provisioner per host name (empty without `ssh`). */
  readonly provisioners: Readonly<Record<string, DataResource>> = {};
  /** Seed files in the synth output (undefined when none were written). */
  readonly seedAsset?: TerraformAsset;
  /** Staging directory of the seed files. */
  readonly seedDirectory?: string;
  /** Hosts whose seed files were written. */
  readonly seedHosts: readonly string[] = [];

  constructor(scope: Construct, id: string, props: BaremetalKubeadmClusterProps) {
    super(scope, id);
    // Cheap token creation stacks while the resources are built (token-stacks.ts: most of a synth under ts-node).
    const restoreStacks = shallowTokenStacks();
    try {
      const { inventory, cluster, etcdBackup } = validate(props);
      this.inventory = inventory;
      this.cluster = cluster;
      const endpoint = inventory.apiEndpoint;
      const kubeVip: KubeVipOptions | undefined =
        endpoint.type === "kube-vip"
          ? { address: endpoint.host, port: cluster.controlPlane.apiServerPort, interface: endpoint.interface, image: endpoint.image }
          : undefined;
      if (kubeVip && !kubeVip.interface && inventory.hosts.some((h) => h.role.kind === "control-plane" && h.internalAddress !== h.address)) {
        Annotations.of(this).addWarning(
          "cdktf-kubeadm: kube-vip announces the VIP on the default-route interface, but some control-plane hosts are reached over SSH at another address: set apiEndpoint.interface to the interface on nodeCidr",
        );
      }

      this.kubeadm = new KubeadmCluster(this, "kubeadm", {
        cluster,
        controlPlaneEndpointHost: endpoint.host,
        userDataLimit: USER_DATA_LIMITS.baremetal,
        pkiDirectory: props.pkiDirectory,
        existingCa: props.existingCa,
        requireExistingPkiStore: props.requireExistingPkiStore,
        // Control-plane hosts: the desired version for the upgrade agent (channel "file"); a version
        // bump re-runs their provisioners, which start the agent.
        extraFiles: (role: NodeRole) => [...(kubeVip ? kubeVipFiles(role, kubeVip) : []), ...desiredVersionFiles(role, cluster.kubernetesVersion)],
        upgradeChannel: BAREMETAL_UPGRADE_CHANNEL,
        etcdBackup,
        outputs: props.outputs,
      });
      this.apiEndpoint = this.kubeadm.apiEndpoint;

      const ordered = [
        ...inventory.hosts.filter((h) => h.role.kind === "control-plane"),
        ...inventory.hosts.filter((h) => h.role.kind === "worker"),
      ];
      const roleFiles = new Map<string, ReturnType<KubeadmCluster["nodeFiles"]>>();
      this.payloads = ordered.map((host) => {
        const key = roleName(host.role);
        if (!roleFiles.has(key)) roleFiles.set(key, this.kubeadm.nodeFiles(host.role));
        return hostPayload(roleFiles.get(key)!, host, {
          clusterName: cluster.name,
          kubeVip: kubeVip !== undefined,
          kubernetesVersion: cluster.kubernetesVersion,
          kubernetesMinor: cluster.kubernetesMinor,
        });
      });

      if (props.seedFiles?.enabled ?? true) {
        const seeds = this.writeSeeds(props);
        this.seedDirectory = seeds.directory;
        this.seedHosts = seeds.hosts;
        this.seedAsset = seeds.asset;
      }
      if (inventory.ssh) this.provisioners = this.createProvisioners();
      if (props.outputs ?? true) this.createOutputs();
    } finally {
      restoreStacks();
    }
  }

  /** The payload of a host, by inventory name. */
  payload(hostName: string): HostPayload {
    const found = this.payloads.find((p) => p.host.name === hostName);
    if (!found) throw new Error(`cdktf-kubeadm: no host named "${hostName}" (hosts: ${this.payloads.map((p) => p.host.name).join(", ")})`);
    return found;
  }

  /** The host's NoCloud `user-data` (#cloud-config). */
  cloudConfig(hostName: string): string {
    return renderHostCloudConfig(this.payload(hostName));
  }

  /** The host's NoCloud `meta-data`. */
  metaData(hostName: string): string {
    return renderMetaData(this.cluster.name, this.payload(hostName).host);
  }

  /** The host's SSH installer script (the same files as its cloud-config). */
  installer(hostName: string): string {
    return renderInstaller(this.payload(hostName), this.cluster.name);
  }

  private writeSeeds(props: BaremetalKubeadmClusterProps): { directory: string; hosts: string[]; asset?: TerraformAsset } {
    const includeSecrets = props.seedFiles?.includeControlPlaneSecrets ?? false;
    const seeded = this.payloads.filter((p) => includeSecrets || p.host.role.kind === "worker");
    const skipped = this.payloads.filter((p) => !seeded.includes(p)).map((p) => p.host.name);
    const directory = path.resolve(props.seedFiles?.directory ?? path.join(process.cwd(), ".cdktf-kubeadm", "seeds", this.cluster.name));
    checkSeedDirectory(directory);
    const seeds = seeded.map((p) => ({ host: p.host.name, userData: renderHostCloudConfig(p), metaData: renderMetaData(this.cluster.name, p.host) }));
    // The files are written at synth, once the whole app has validated (writeAtSynth).
    writeAtSynth(this, () => writeSeedDirectory(directory, seeds));
    if (skipped.length > 0) {
      Annotations.of(this).addInfo(
        `cdktf-kubeadm: no seed files for control-plane hosts ${skipped.join(", ")}: they would carry the cluster CA keys. ` +
          "Set seedFiles.includeControlPlaneSecrets to write them, or deliver the control plane over SSH.",
      );
    }
    // Copied into the synth output (assets/<id>/<content hash>/<host>/...).
    // The asset checks its directory exists now; it is filled at synth, before assets are copied.
    if (seeded.length > 0) fs.mkdirSync(directory, { recursive: true, mode: 0o700 });
    const asset = seeded.length > 0 ? new TerraformAsset(this, "seeds", { path: directory, type: AssetType.DIRECTORY, assetHash: seedsHash(seeds) }) : undefined;
    return { directory, hosts: seeded.map((p) => p.host.name), asset };
  }

  private createProvisioners(): Record<string, DataResource> {
    const ssh = this.inventory.ssh!;
    const result: Record<string, DataResource> = {};
    const controlPlane: DataResource[] = [];
    for (const payload of this.payloads) {
      const isControlPlane = payload.host.role.kind === "control-plane";
      // Slot 0 first (it may init), then one control-plane join at a time (etcd membership
      // changes one by one), then all workers in parallel.
      const dependsOn = isControlPlane ? controlPlane.slice(-1) : [...controlPlane];
      const resource = createHostProvisioner(this, {
        clusterName: this.cluster.name,
        payload,
        installer: renderInstaller(payload, this.cluster.name),
        ssh,
        dependsOn,
      });
      if (isControlPlane) controlPlane.push(resource);
      result[payload.host.name] = resource;
    }
    return result;
  }

  private createOutputs(): void {
    const name = this.cluster.name;
    new TerraformOutput(this, "nodes", {
      description: "Hosts: role, Kubernetes node name, internal address, payload hash",
      value: Object.fromEntries(
        this.payloads.map((p) => [
          p.host.name,
          { role: roleName(p.host.role), node_name: p.nodeName, internal_address: p.host.internalAddress, payload_sha256: p.sha256 },
        ]),
      ),
    }).overrideLogicalId(`${name}_nodes`);
    if (this.seedAsset) {
      new TerraformOutput(this, "seed_directory", {
        description: "NoCloud seed files (<host>/user-data, <host>/meta-data), relative to the stack directory",
        value: this.seedAsset.path,
      }).overrideLogicalId(`${name}_seed_directory`);
    }
  }
}

/** The clouds' size fields, named for what they are on bare metal. */
const SIZE_HINTS = {
  ...Object.fromEntries(
    ["minSize", "maxSize", "desiredSize"].map((key) => [`BaremetalNodePoolSpec.${key}`, { problem: "is set, but a bare-metal pool's size is its number of worker hosts", fix: "remove it and add or remove worker hosts instead" }]),
  ),
  "BaremetalKubeadmClusterProps.controlPlane.replicas": { problem: "is set, but a bare-metal control plane's size is its number of control-plane hosts", fix: "remove it and list 1, 3 or 5 hosts with role control-plane" },
};

/** Inventory + cluster model, every problem of both reported in one ClusterSpecError. */
function validate(props: BaremetalKubeadmClusterProps): { inventory: ResolvedInventory; cluster: ResolvedCluster; etcdBackup?: EtcdBackup } {
  // Keys and types first: nothing below computes with a value of the wrong type.
  const shapeProblems = propsShapeProblems(PROPS_SCHEMA, "baremetal", props, SIZE_HINTS);
  if (shapeProblems.length > 0) throw new ClusterSpecError(String(props?.name), shapeProblems);
  const p = new Problems();
  const inventory = resolveInventory(p, props);
  const etcdBackup = resolveEtcdBackup(p, props.etcdBackup, { kind: "file", directory: props.etcdBackup?.directory ?? DEFAULT_BACKUP_DIRECTORY });
  const replicas = inventory.controlPlaneCount;
  const { hosts: _h, nodeCidr: _n, apiEndpoint: _a, ssh: _s, seedFiles: _f, pkiDirectory: _p, existingCa: _e, requireExistingPkiStore: _r, outputs: _o, etcdBackup: _b, ...spec } = props;
  const problems: SpecProblem[] = [...p.list];
  problems.push(...pkiStoreProblems(String(props.name), props));
  const unexpandedSeeds = unexpandedPathProblem("seedFiles.directory", props.seedFiles?.directory);
  if (unexpandedSeeds) problems.push(unexpandedSeeds);
  if (!props.ssh && props.seedFiles?.enabled === false) {
    problems.push({ field: "seedFiles.enabled", value: false, problem: "leaves no delivery at all (no ssh either): no host would ever get its payload", fix: "set ssh, or leave seedFiles enabled and boot the hosts from their NoCloud seeds" });
  }
  let cluster: ResolvedCluster | undefined;
  try {
    cluster = resolveCluster(
      {
        ...spec,
        // Host problems are reported on the hosts; give the model values it accepts.
        controlPlane: { ...props.controlPlane, replicas: [1, 3, 5].includes(replicas) ? replicas : 1 },
        nodePools: inventory.nodePools,
      },
      { platform: "baremetal", nodeCidrs: problems.some((x) => x.field === "nodeCidr") ? [] : [inventory.nodeCidr] },
    );
  } catch (error) {
    if (!(error instanceof ClusterSpecError)) throw error;
    problems.push(...error.problems);
  }
  if (problems.length > 0 || !cluster) throw new ClusterSpecError(String(props.name), problems);
  return { inventory, cluster, etcdBackup };
}
