import * as fs from "fs";
import * as path from "path";
import { Annotations, TerraformOutput } from "cdktf";
import { Construct } from "constructs";
import { cniSupportWarning } from "../bootstrap/catalog";
import { fullScript } from "../bootstrap/bootstrap-script";
import { backupLocation, EtcdBackup } from "../bootstrap/etcd-backup";
import { nodeFiles, NodeDrain, NodeFile, renderCloudConfig, NodePayloadInput, WorkerJoinedHook } from "../bootstrap/cloud-init";
import { renderKubeconfig } from "../bootstrap/kubeconfig";
import { caCertHash, certificateExpiry, ClusterPki } from "../bootstrap/pki";
import { ExistingCaFiles, hasPkiStore, planPkiStore } from "../bootstrap/pki-store";
import { SecretAudience, secretAudience, secretBundleFor, SecretSource } from "../bootstrap/secret-bundle";
import { NodeRole, ResolvedCluster, roleName, controlPlaneNodeName } from "../bootstrap/spec";
import { UpgradeChannel } from "../bootstrap/upgrade-channel";
import { checkUserDataBudget, gzipSize } from "../bootstrap/user-data-budget";
import { checkKubernetesVersion, recordKubernetesVersion } from "../bootstrap/version-history";
import { unexpandedPathProblem } from "../bootstrap/local-path";
import { ClusterSpecError, SpecProblem } from "../bootstrap/validation-error";
import { base64Gzip, hasTokens, toTerraformString, withTokensAs } from "./terraform-string";
import { writeAtSynth } from "./write-at-synth";

export interface KubeadmClusterProps {
  /** The validated cluster model (`resolveCluster`); validate before creating any resource. */
  readonly cluster: ResolvedCluster;
  /** Host of the API endpoint: load balancer DNS name, VIP or address. May be a token. */
  readonly controlPlaneEndpointHost: string;
  /**
   * host:port of the control-plane nodes' fixed addresses, for joiners that cannot use the load
   * balancer address (GCE hairpin). May contain tokens. @default none
   */
  readonly controlPlanePeerEndpoints?: string[];
  /**
   * Control-plane nodes joining through a peer DNAT their traffic for the API endpoint to that peer
   * for the duration of `kubeadm join` (GCE hairpin: a load-balancer backend reaching the LB
   * address is answered by itself). @default false
   */
  readonly apiHairpinDnat?: boolean;
  /** Platform limit for one node's gzipped user data, in bytes. */
  readonly userDataLimit: number;
  /**
   * Where the generated CAs, service-account key and join token live between synths.
   * @default ".cdktf-kubeadm/pki/<cluster name>" under the working directory of `cdktf synth`
   */
  readonly pkiDirectory?: string;
  /** Bring your own CA files instead of generated ones. @default generated */
  readonly existingCa?: ExistingCaFiles;
  /**
   * Fail the synth instead of generating a new PKI store when pkiDirectory has none: for CI, where
   * a checkout without the store would otherwise mint new CAs and the next deploy replace every
   * node. Also on with the environment variable CDKTF_KUBEADM_REQUIRE_PKI_STORE=1.
   * @default false (a missing store is created, with a warning to keep and back it up)
   */
  readonly requireExistingPkiStore?: boolean;
  /** Platform files per role, e.g. a static pod manifest. @default none */
  readonly extraFiles?: (role: NodeRole) => NodeFile[];
  /**
   * Nodes fetch the CA keys, sa.key and the join token at boot from these secret stores (one per
   * audience, so workers can be denied the CA keys) and user data carries only the reference; the
   * platform stores `secretBundle(audience)` there. Values may be tokens.
   * @default the secrets travel in user data
   */
  readonly secrets?: Readonly<Partial<Record<SecretAudience, SecretSource>>>;
  /**
   * Where control-plane nodes read the desired Kubernetes version for in-place upgrades (the
   * upgrade agent's timer runs only with a channel); the platform keeps it at
   * `cluster.kubernetesVersion` (e.g. an SSM parameter with value "1.37.1"). Values may be tokens.
   * @default no in-place upgrades
   */
  readonly upgradeChannel?: UpgradeChannel;
  /**
   * Workers whose bootstrap fails power off this many minutes later (time to log in and keep one
   * with `shutdown -c`), so that their autoscaling group replaces them: an ASG or MIG keeps a
   * running instance that never joined, because its health checks pass. @default never
   */
  readonly powerOffFailedWorkerMinutes?: number;
  /**
   * An autoscaling group's launch lifecycle hook that holds each new worker until it has joined:
   * the worker completes it (CONTINUE) after kubeadm join, abandons it when its bootstrap fails,
   * and heartbeats it when it starts waiting for the control plane. AWS only (the secret store's
   * code signs the calls). @default none
   */
  readonly workerJoinedHook?: WorkerJoinedHook;
  /**
   * Workers drain before their machine goes away (cordon, evictions within the pool's timeout,
   * PodDisruptionBudgets honoured, the Node deleted); control-plane nodes let nodes delete their own
   * Node. AWS: a termination lifecycle hook the worker completes; GCE: the shutdown script.
   * @default no drain
   */
  readonly drain?: NodeDrain;
  /**
   * Scheduled etcd snapshots by the control plane's backup agent, stored in the platform's target
   * (a bucket, a directory on each control-plane host); the `etcd_backup_location` output names it.
   * @default no backups
   */
  readonly etcdBackup?: EtcdBackup;
  /** AWS: the region of the bucket `cluster.restore` names. @default none */
  readonly restoreRegion?: string;

  /** Create the api_endpoint, admin_kubeconfig, ca_cert_hash and certificate expiry outputs. @default true */
  readonly outputs?: boolean;
}

/**
 * kube-proxy's ipvs mode is deprecated since Kubernetes 1.35: kubeadm 1.37 warns on every config
 * that sets it (seen with real kubeadm in test/real-kubeadm-config.test.ts).
 */
export function kubeProxyModeDeprecation(cluster: ResolvedCluster): string | undefined {
  const minor = Number(cluster.kubernetesMinor.split(".")[1]);
  if (cluster.kubeProxyMode !== "ipvs" || minor < 35) return undefined;
  return `kubeProxyMode "ipvs" is deprecated since Kubernetes 1.35 (kubeadm warns about it from 1.37): use "nftables" (GA since 1.33) on current kernels, or "iptables".`;
}

/**
 * AWS and GCE: a worker whose bootstrap failed powers off after this long, so that its ASG or MIG
 * replaces it; the ten minutes leave time to log in and keep it (`shutdown -c`).
 */
export const FAILED_WORKER_POWEROFF_MINUTES = 10;

/** Stand-in for a token when measuring user data: longer than any DNS name or address. */
const TOKEN_MEASURE_WIDTH = 255;

/**
 * The platform-neutral cluster: owns the PKI and renders each node role's user data. It creates
 * no cloud resources; a platform construct (AWS, GCE, bare metal) builds infrastructure around it.
 */
export class KubeadmCluster extends Construct {
  readonly cluster: ResolvedCluster;
  readonly pki: ClusterPki;
  /** `https://host:port`. */
  readonly apiEndpoint: string;
  /** kubeadm discovery pin: `sha256:<hex of the CA's SubjectPublicKeyInfo>`. */
  readonly caCertHash: string;
  /** notAfter (ISO 8601) of the generated certificates. */
  readonly certificateExpiry: Readonly<Record<"ca" | "frontProxyCa" | "etcdCa" | "admin", string>>;
  /** The admin kubeconfig (contains a private key: only ever put it in sensitive outputs). */
  readonly adminKubeconfig: string;
  /** Gzipped user-data size per role name, measured at synth. */
  readonly userDataSizes: Record<string, number> = {};
  /** Absolute path of the PKI store. */
  readonly pkiDirectory: string;
  private readonly props: KubeadmClusterProps;
  /** Secret bundles to write at synth, by path. */
  private readonly pendingBundles = new Map<string, string>();

  constructor(scope: Construct, id: string, props: KubeadmClusterProps) {
    super(scope, id);
    this.props = props;
    this.cluster = props.cluster;
    const storeProblems = pkiStoreProblems(this.cluster.name, props);
    if (storeProblems.length > 0) throw new ClusterSpecError(this.cluster.name, storeProblems);
    this.pkiDirectory = pkiDirectoryOf(this.cluster.name, props.pkiDirectory);
    this.refuseTwin();
    // No downgrade, no skipped minor relative to the last synth (ClusterSpecError), before the store is touched.
    checkKubernetesVersion(this.pkiDirectory, this.cluster.name, this.cluster.kubernetesVersion);
    const store = planPkiStore({
      directory: this.pkiDirectory,
      options: this.cluster.pki,
      existingCa: props.existingCa,
      tokenRotation: this.cluster.bootstrapTokenRotation,
    });
    if (store.created) this.announceNewStore();
    store.warnings.forEach((w: string) => Annotations.of(this).addWarning(w));
    const deprecation = kubeProxyModeDeprecation(this.cluster);
    if (deprecation) Annotations.of(this).addWarning(deprecation);
    const cniSupport = cniSupportWarning(this.cluster.cni, Number(this.cluster.kubernetesMinor.split(".")[1]));
    if (cniSupport) Annotations.of(this).addWarning(cniSupport);
    this.pki = store.pki;
    this.caCertHash = caCertHash(this.pki.ca.certPem);
    this.apiEndpoint = `https://${props.controlPlaneEndpointHost}:${this.cluster.controlPlane.apiServerPort}`;
    const iso = (pem: string) => certificateExpiry(pem).toISOString();
    this.certificateExpiry = {
      ca: iso(this.pki.ca.certPem),
      frontProxyCa: iso(this.pki.frontProxyCa.certPem),
      etcdCa: iso(this.pki.etcdCa.certPem),
      admin: iso(this.pki.admin.certPem),
    };
    this.adminKubeconfig = renderKubeconfig({
      clusterName: this.cluster.name,
      server: this.apiEndpoint,
      caCertPem: this.pki.ca.certPem,
      userName: "kubernetes-admin",
      clientCertPem: this.pki.admin.certPem,
      clientKeyPem: this.pki.admin.keyPem,
    });
    // Fail at synth, before any resource exists, if a role's user data does not fit.
    for (const role of this.roles()) this.measure(role);
    // Only a synth that got this far records its version: one refused on size must not turn the
    // next synth at the old version into a "downgrade".
    const version = this.cluster.kubernetesVersion;
    writeAtSynth(this, () => {
      store.commit();
      recordKubernetesVersion(this.pkiDirectory, version);
      for (const [file, content] of this.pendingBundles) writePrivateFile(file, content);
    });
    if (props.outputs ?? true) this.createOutputs();
  }

  /** A new store is the cluster's identity: say where it is. */
  private announceNewStore(): void {
    Annotations.of(this).addWarning(
      `cdktf-kubeadm: created a new PKI store for cluster "${this.cluster.name}" in ${this.pkiDirectory}: its CAs and keys are the cluster's identity. ` +
        "Keep it and back it up (never commit it): a synth without it generates new CAs and the next deploy replaces every node. " +
        `In CI, restore it before synth and set ${REQUIRE_PKI_STORE_VARIABLE}=1 so a missing store fails the synth.`,
    );
  }

  /**
   * Two clusters of one name in an app share a PKI store and collide on global names (IAM roles,
   * secrets, DNS); two sharing a PKI store would share CAs and join tokens. Refused before anything
   * is written.
   */
  private refuseTwin(): void {
    const others = this.node.root.node.findAll().filter((c): c is KubeadmCluster => c instanceof KubeadmCluster && c !== this && c.pkiDirectory !== undefined);
    const problems: SpecProblem[] = [];
    const twin = others.find((c) => c.cluster.name === this.cluster.name);
    if (twin) {
      problems.push({ field: "name", value: this.cluster.name, problem: `is already the name of the cluster at ${twin.node.path} in this app: the two would share a PKI store and collide on cloud names`, fix: "give each cluster its own name" });
    }
    const sharer = others.find((c) => c.pkiDirectory === this.pkiDirectory && c !== twin);
    if (sharer) {
      problems.push({ field: "pkiDirectory", value: this.pkiDirectory, problem: `is already the PKI store of cluster "${sharer.cluster.name}" (${sharer.node.path}): the two would share CAs and join tokens`, fix: "give each cluster its own pkiDirectory (the default is .cdktf-kubeadm/pki/<name>)" });
    }
    if (problems.length > 0) throw new ClusterSpecError(this.cluster.name, problems);
  }

  /** Every node role: control-plane slots 0..replicas-1, then one per node pool. */
  roles(): NodeRole[] {
    return [
      ...Array.from({ length: this.cluster.controlPlane.replicas }, (_, slot): NodeRole => ({ kind: "control-plane", slot })),
      ...this.cluster.nodePools.map((p): NodeRole => ({ kind: "worker", pool: p.name })),
    ];
  }

  controlPlaneNodeName(slot: number): string {
    return controlPlaneNodeName(this.cluster.name, slot);
  }

  /** The role's `#cloud-config` text; may contain tokens. */
  cloudConfig(role: NodeRole): string {
    return renderCloudConfig(this.payloadInput(role));
  }

  /** The files cloud-init would write, for delivery by other means (SSH, seed images). */
  nodeFiles(role: NodeRole): NodeFile[] {
    return nodeFiles(this.payloadInput(role));
  }

  private payloadInput(role: NodeRole): NodePayloadInput {
    return {
      cluster: this.cluster,
      role,
      pki: this.pki,
      caCertHash: this.caCertHash,
      controlPlaneEndpointHost: this.props.controlPlaneEndpointHost,
      controlPlanePeerEndpoints: this.props.controlPlanePeerEndpoints,
      apiHairpinDnat: this.props.apiHairpinDnat,
      extraFiles: this.props.extraFiles?.(role),
      secrets: this.props.secrets?.[secretAudience(role)],
      upgradeChannel: this.props.upgradeChannel,
      powerOffFailedWorkerMinutes: this.props.powerOffFailedWorkerMinutes,
      workerJoinedHook: this.props.workerJoinedHook,
      drain: this.props.drain,
      etcdBackup: this.props.etcdBackup,
      restoreRegion: this.props.restoreRegion,
    };
  }

  /**
   * The secret bundle of an audience as JSON (identical for every control-plane slot, resp. every
   * worker pool): what the secret store referenced by `secrets` must hold. Contains private keys
   * and the join token: write it only to the PKI store / a sensitive place.
   */
  secretBundle(audience: SecretAudience): string {
    const source = this.props.secrets?.[audience];
    // With a source, user data carries the loader and the bundle the audience's full script.
    const script = source && fullScript({ role: { kind: audience }, secrets: source, upgradeChannel: this.props.upgradeChannel, drain: this.props.drain, etcdBackup: this.props.etcdBackup, cluster: this.cluster });
    return secretBundleFor(this.pki, audience, script);
  }

  /**
   * Writes the audience's bundle into the PKI store (mode 0600) and returns its absolute path, for
   * Terraform to read at apply time (`file()` into a write-only argument): the secret then appears
   * neither in the synthesized JSON nor in the state.
   */
  writeSecretBundle(audience: SecretAudience): string {
    const file = path.join(this.pkiDirectory, "bundles", `${audience}.json`);
    // Written at synth with the store (writeAtSynth), so a refused app leaves no bundle behind.
    this.pendingBundles.set(file, this.secretBundle(audience));
    return file;
  }

  /** The role's user data as a Terraform expression: base64(gzip(cloud-config)), for launch templates and metadata. */
  userDataBase64Gzip(role: NodeRole): string {
    return base64Gzip(this.cloudConfig(role));
  }

  private measure(role: NodeRole): void {
    const text = withTokensAs(this.cloudConfig(role), TOKEN_MEASURE_WIDTH);
    const name = roleName(role);
    const result = checkUserDataBudget(name, gzipSize(text), this.props.userDataLimit);
    this.userDataSizes[name] = result.bytes;
    if (result.warning) Annotations.of(this).addWarning(result.warning);
  }

  private createOutputs(): void {
    // Stable, predictable names (`terraform output -raw <cluster>_admin_kubeconfig`).
    const output = (name: string, config: ConstructorParameters<typeof TerraformOutput>[2]) =>
      new TerraformOutput(this, name, config).overrideLogicalId(`${this.cluster.name}_${name}`);
    output("api_endpoint", { value: this.apiEndpoint, description: "Kubernetes API endpoint" });
    output("admin_kubeconfig", {
      value: hasTokens(this.adminKubeconfig) ? toTerraformString(this.adminKubeconfig) : this.adminKubeconfig,
      sensitive: true,
      description: "Admin kubeconfig (cluster-admin). Read with: terraform output -raw admin_kubeconfig",
    });
    output("ca_cert_hash", { value: this.caCertHash, description: "kubeadm discovery CA pin" });
    output("certificate_expiry", { value: this.certificateExpiry, description: "notAfter of the generated certificates" });
    if (this.props.etcdBackup) {
      const location = backupLocation(this.props.etcdBackup.target);
      output("etcd_backup_location", {
        value: hasTokens(location) ? toTerraformString(location) : location,
        description: "Where the control plane stores etcd snapshots (recent/, hourly/, daily/; status: ConfigMap kube-system/cdktf-kubeadm-etcd-backup)",
      });
    }
  }
}

/** Set (to anything but "", "0" or "false") to fail synth where a PKI store would be created. */
export const REQUIRE_PKI_STORE_VARIABLE = "CDKTF_KUBEADM_REQUIRE_PKI_STORE";

function writePrivateFile(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== content) fs.writeFileSync(file, content, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

/** The PKI store's absolute path: pkiDirectory, or .cdktf-kubeadm/pki/<cluster name> under the working directory. */
export function pkiDirectoryOf(clusterName: string, pkiDirectory: string | undefined): string {
  return path.resolve(pkiDirectory ?? path.join(process.cwd(), ".cdktf-kubeadm", "pki", clusterName));
}

/**
 * What is wrong with the PKI store settings, checked by each platform construct with its other
 * props (before it creates anything) and again here: a path with an unexpanded `~` or `$VAR`, or
 * no store where one is required (requireExistingPkiStore, CDKTF_KUBEADM_REQUIRE_PKI_STORE).
 */
export function pkiStoreProblems(clusterName: string, props: Pick<KubeadmClusterProps, "pkiDirectory" | "requireExistingPkiStore">): SpecProblem[] {
  const unexpanded = unexpandedPathProblem("pkiDirectory", props.pkiDirectory);
  if (unexpanded) return [unexpanded];
  const variable = process.env[REQUIRE_PKI_STORE_VARIABLE];
  const byVariable = variable !== undefined && !["", "0", "false"].includes(variable.toLowerCase());
  const directory = pkiDirectoryOf(clusterName, props.pkiDirectory);
  if ((props.requireExistingPkiStore !== true && !byVariable) || hasPkiStore(directory)) return [];
  const by = props.requireExistingPkiStore === true ? "requireExistingPkiStore" : `${REQUIRE_PKI_STORE_VARIABLE}=${variable}`;
  return [{
    field: "pkiDirectory",
    value: directory,
    problem: `holds no PKI store, and ${by} forbids generating one (new CAs would replace every node of a deployed cluster)`,
    fix: `restore the store from your backup into ${directory} (for CI: from your secret manager before cdktf synth); for the very first synth of a new cluster, run once without ${by}`,
  }];
}
