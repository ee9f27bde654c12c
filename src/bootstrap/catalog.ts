/**
 * Pinned versions and artefacts. Every download a node makes is pinned here by URL and sha256.
 * Sources of the CNI hashes (no upstream checksum file exists for the manifests): cilium-cli from
 * kubespray's checksums.yml (filled from the release's .sha256sum files); the calico and flannel
 * manifests from several independent projects that verify the same release URL with the same hash.
 * Re-check with `curl -fsSL URL | sha256sum` when bumping a version. Each pin carries its project's
 * support statement for Kubernetes minors and where it was read (checked 2026-12-07).
 */
import type { CniPlugin, ResolvedCni } from "./spec";

/** Default Kubernetes release (full patch version). */
export const DEFAULT_KUBERNETES_VERSION = "1.36.4";

/** Oldest supported minor: kubeadm.k8s.io/v1beta4 and the rest of our assumptions hold from here. */
export const MIN_KUBERNETES_MINOR = 33;
/** Newest minor this release of the library was tested against. */
export const MAX_KUBERNETES_MINOR = 37;

/**
 * kubeadm's default pause image tag per minor (cmd/kubeadm/app/constants PauseVersion): the
 * sandbox image containerd runs must be the one kubeadm pulls, or preflight warns and an
 * air-gapped mirror needs both. Checked against real kubeadm (test/real-kubeadm-config.test.ts).
 */
export function pauseImageTag(minor: number): string {
  if (minor >= 36) return "3.10.2";
  return minor >= 34 ? "3.10.1" : "3.10";
}

/**
 * What a project says of the Kubernetes minors its release supports: the range it tests against
 * (newest undefined when it states no upper bound), and where it says so.
 */
export interface SupportStatement {
  readonly oldestMinor: number;
  readonly newestMinor?: number;
  /** The document (repository and path, at a tag or commit) the range is read from. */
  readonly source: string;
}

export interface PinnedCni {
  readonly version: string;
  readonly url: string;
  readonly sha256: string;
  /** The arm64 (aarch64) artefact where it differs (cilium-cli is a binary). */
  readonly arm64?: { readonly url: string; readonly sha256: string };
  /** The Kubernetes minors this release is supported on: a cluster outside them gets a synth warning. */
  readonly support: SupportStatement;
}

/** Manifests (calico, flannel) or the installer tarball (cilium-cli, linux amd64 and arm64). */
export const PINNED_CNI: Record<Exclude<CniPlugin, "none">, PinnedCni> = {
  calico: {
    version: "v3.32.2",
    url: "https://raw.githubusercontent.com/projectcalico/calico/v3.32.2/manifests/calico.yaml",
    sha256: "a8c828a06a87c629a282ebbc424895b77f3a030251993e41ea400a743675bb02",
    // "We test Calico v3.32 against the following Kubernetes versions: 1.34, 1.35, 1.36". v3.33
    // adds 1.37 (and drops 1.34), but no independent hash of its calico.yaml was found to pin.
    support: {
      oldestMinor: 34,
      newestMinor: 36,
      source: "tigera/docs calico_versioned_docs/version-3.32/_includes/partials/_system-requirements.mdx (commit 69ef9b0)",
    },
  },
  flannel: {
    version: "v0.28.4",
    url: "https://github.com/flannel-io/flannel/releases/download/v0.28.4/kube-flannel.yml",
    sha256: "d078019743c5e0194ce965125fc80ef00af0c1661ec9e12396311f1cfec860a2",
    // flannel states no upper bound ("For Kubernetes v1.17+"); its own e2e runs kind 1.36, and
    // ours (test/e2e) runs flannel v0.28 on 1.36 and through the upgrade to 1.37.
    support: { oldestMinor: 17, source: "flannel-io/flannel README.md; e2e/kind-config.yaml (kindest/node v1.36.1)" },
  },
  // Cilium 1.16 reached end of life with 1.19's release (three stable lines are maintained: 1.18,
  // 1.19, 1.20). 1.19 is the maintained line whose upstream matrix covers most of our range.
  // cilium-cli v0.18.9 installs it from Cilium's Helm chart (`--version`); its hashes are
  // kubespray's (roles/kubespray_defaults/vars/main/checksums.yml, commit 005bdce,
  // ciliumcli_binary_checksums), the newest release kubespray publishes checksums for here.
  cilium: {
    version: "1.19.8",
    url: "https://github.com/cilium/cilium-cli/releases/download/v0.18.9/cilium-linux-amd64.tar.gz",
    sha256: "15978aaf82373b0682aa87ab217848b3fb6e3cd80adad365d34696fe92543923",
    arm64: {
      url: "https://github.com/cilium/cilium-cli/releases/download/v0.18.9/cilium-linux-arm64.tar.gz",
      sha256: "eaa2b3570d3737592ec912505a247173e25fc7bca92d16b32d72b3aca94a743f",
    },
    support: {
      oldestMinor: 32,
      newestMinor: 35,
      source: "cilium/cilium Documentation/network/kubernetes/compatibility.rst (v1.19)",
    },
  },
};

/**
 * A synth warning when the cluster's minor is outside what the pinned CNI release is supported
 * on; none for an overridden manifest (its version is the user's).
 */
export function cniSupportWarning(cni: ResolvedCni, kubernetesMinor: number): string | undefined {
  if (cni.plugin === "none" || cni.manifestSha256 !== PINNED_CNI[cni.plugin].sha256) return undefined;
  const { version, support } = PINNED_CNI[cni.plugin];
  const inRange = kubernetesMinor >= support.oldestMinor && (support.newestMinor === undefined || kubernetesMinor <= support.newestMinor);
  if (inRange) return undefined;
  const range = support.newestMinor === undefined ? `1.${support.oldestMinor} and newer` : `1.${support.oldestMinor}-1.${support.newestMinor}`;
  return `cni.plugin "${cni.plugin}": the pinned ${cni.plugin} ${version} is supported on Kubernetes ${range} ` +
    `(${support.source}), not on 1.${kubernetesMinor}. Choose a Kubernetes version in that range, or pin a ${cni.plugin} release ` +
    "that supports it with cni.manifestUrl and cni.manifestSha256.";
}

/** Fingerprint of the pkgs.k8s.io signing key (isv:kubernetes OBS project). */
export const PKGS_K8S_IO_KEY_FINGERPRINT = "DE15B14486CD377B9E876E1A234654DA9A296436";

export const DEFAULT_PACKAGE_REPOSITORY_BASE = "https://pkgs.k8s.io/core:/stable:";

/**
 * containerd comes from Docker's apt repository (package containerd.io): Kubernetes 1.35 is the last
 * release that supports containerd 1.x, and Ubuntu 24.04 / Debian 12 ship 1.7. The node appends
 * `/<os-release ID>` (ubuntu, debian) to the base and uses its codename as the suite.
 */
export const DEFAULT_CONTAINERD_REPOSITORY_BASE = "https://download.docker.com/linux";
/** Fingerprint of Docker's release signing key (download.docker.com/linux/<os>/gpg). */
export const DOCKER_KEY_FINGERPRINT = "9DC858229FC7DD38854AE2D88D81803C0EBFCD88";
/**
 * containerd.io versions the node may install (a glob over the Debian version, newest match wins).
 * 2.3 is containerd's first long-term-support line (April 2026 to April 2028); 2.2 reached end of
 * life on 2026-11-06 (containerd RELEASES.md, "Support horizon"). RELEASES.md lists 2.3.0+ for
 * Kubernetes 1.36; all of 1.33-1.37 speak CRI v1, which every 2.x serves. Our e2e (test/e2e) runs
 * containerd 2.3.7 under Kubernetes 1.36 and 1.37.
 */
export const CONTAINERD_VERSION_PREFIX = "2.3.*";
export const DEFAULT_IMAGE_REPOSITORY = "registry.k8s.io";

/**
 * Whether a control-plane node of this architecture can install the CNI: manifests are multi-arch,
 * cilium-cli is a binary pinned for amd64 and arm64; an overridden cilium-cli URL is one binary of
 * unknown architecture, so it is taken as amd64 only. (Only the node that runs kubeadm init installs it.)
 */
export function cniInstallableOn(cni: ResolvedCni, arch: "amd64" | "arm64"): boolean {
  return arch === "amd64" || cni.plugin !== "cilium" || cni.manifestUrl === PINNED_CNI.cilium.url;
}
