/**
 * Pinned versions and artefacts. Every download a node makes is pinned here by URL and sha256.
 * Sources of the CNI hashes (no upstream checksum file exists for the manifests): cilium-cli from
 * kubespray's checksums.yml (filled from the release's .sha256sum files); the calico and flannel
 * manifests from several independent projects that verify the same release URL with the same hash.
 * Re-check with `curl -fsSL URL | sha256sum` when bumping a version.
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

export interface PinnedCni {
  readonly version: string;
  readonly url: string;
  readonly sha256: string;
  /** The arm64 (aarch64) artefact where it differs (cilium-cli is a binary). */
  readonly arm64?: { readonly url: string; readonly sha256: string };
}

/** Manifests (calico, flannel) or the installer tarball (cilium-cli, linux amd64 and arm64). */
export const PINNED_CNI: Record<Exclude<CniPlugin, "none">, PinnedCni> = {
  calico: {
    version: "v3.32.2",
    url: "https://raw.githubusercontent.com/projectcalico/calico/v3.32.2/manifests/calico.yaml",
    sha256: "a8c828a06a87c629a282ebbc424895b77f3a030251993e41ea400a743675bb02",
  },
  flannel: {
    version: "v0.28.4",
    url: "https://github.com/flannel-io/flannel/releases/download/v0.28.4/kube-flannel.yml",
    sha256: "d078019743c5e0194ce965125fc80ef00af0c1661ec9e12396311f1cfec860a2",
  },
  cilium: {
    version: "1.16.4",
    url: "https://github.com/cilium/cilium-cli/releases/download/v0.16.20/cilium-linux-amd64.tar.gz",
    sha256: "8d0e75bf3a867880cb82bbec57027864879775997e3824737e36cf16467d9d04",
    arm64: {
      url: "https://github.com/cilium/cilium-cli/releases/download/v0.16.20/cilium-linux-arm64.tar.gz",
      sha256: "4e3f50a6021fa8985232cebb0d9d33ba63e51f43f8fe5d657fc3e91179f8b96a",
    },
  },
};

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
/** containerd.io versions the node may install (a glob over the Debian version, newest match wins). */
export const CONTAINERD_VERSION_PREFIX = "2.2.*";
export const DEFAULT_IMAGE_REPOSITORY = "registry.k8s.io";

/**
 * Whether a control-plane node of this architecture can install the CNI: manifests are multi-arch,
 * cilium-cli is a binary pinned for amd64 and arm64; an overridden cilium-cli URL is one binary of
 * unknown architecture, so it is taken as amd64 only. (Only the node that runs kubeadm init installs it.)
 */
export function cniInstallableOn(cni: ResolvedCni, arch: "amd64" | "arm64"): boolean {
  return arch === "amd64" || cni.plugin !== "cilium" || cni.manifestUrl === PINNED_CNI.cilium.url;
}
