/**
 * Air-gapped sources: the signing keys of re-signed package mirrors (Aptly, Artifactory and Nexus
 * re-sign what they mirror) and containerd registry mirrors, written as containerd's
 * `certs.d/<registry>/hosts.toml` (the registry host configuration containerd 1.5+ and 2.x read).
 * With `imageRepository` pointing at the mirror too, nothing on a node needs the internet.
 */
import * as crypto from "crypto";
import { PKGS_K8S_IO_KEY_FINGERPRINT, DOCKER_KEY_FINGERPRINT } from "./catalog";
import type { ClusterSpec } from "./spec";
import type { Problems } from "./validation-error";

/** Where containerd looks for per-registry host configuration (the bootstrap points config_path here). */
export const CONTAINERD_CERTS_DIR = "/etc/containerd/certs.d";

export interface RegistryMirrorSpec {
  /** The mirror, e.g. "https://mirror.example.com:5000" (a path, if any, is where its /v2/ API lives). */
  readonly endpoint: string;
  /** PEM CA certificate the mirror's TLS certificate chains to. @default the system trust store */
  readonly caCertificate?: string;
  /**
   * Allow an `http://` endpoint (a lab mirror). Images are then pulled unencrypted and
   * unauthenticated on the wire. @default false
   */
  readonly allowPlainHttp?: boolean;
}

export interface ResolvedRegistryMirror {
  /** The registry it mirrors, e.g. "registry.k8s.io". */
  readonly registry: string;
  readonly endpoint: string;
  readonly caCertificate?: string;
}

export interface ResolvedSources {
  readonly packageKeyFingerprint: string;
  readonly containerdKeyFingerprint: string;
  readonly registryMirrors: ResolvedRegistryMirror[];
}

const FINGERPRINT = /^[0-9A-F]{40}$/;
const REGISTRY_HOST = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?$/;

function fingerprint(p: Problems, field: string, given: string | undefined, fallback: string): string {
  if (given === undefined) return fallback;
  const normalized = typeof given === "string" ? given.replace(/\s+/g, "").toUpperCase() : "";
  p.check(
    FINGERPRINT.test(normalized),
    field,
    given,
    "is not an OpenPGP primary key fingerprint (40 hex digits)",
    "use the fingerprint `gpg --show-keys --with-colons <key>` prints on the fpr line after pub, e.g. \"DE15 B144 86CD 377B 9E87 6E1A 2346 54DA 9A29 6436\"",
  );
  return normalized;
}

function mirror(p: Problems, registry: string, spec: RegistryMirrorSpec): ResolvedRegistryMirror {
  const field = `registryMirrors["${registry}"]`;
  p.check(REGISTRY_HOST.test(registry), field, registry, "is not a registry host (host or host:port)", 'key mirrors by the registry they stand in for, e.g. "registry.k8s.io" or "docker.io"');
  let url: URL | undefined;
  try {
    url = new URL(spec.endpoint);
  } catch {
    url = undefined;
  }
  const okUrl = url !== undefined && (url.protocol === "https:" || url.protocol === "http:") && !url.search && !url.hash && !url.username && !/["'\s\\]/.test(spec.endpoint);
  p.check(okUrl, `${field}.endpoint`, spec.endpoint, "is not an http(s) URL without query, fragment or credentials", 'use e.g. "https://mirror.example.com:5000"');
  if (okUrl && url!.protocol === "http:") {
    p.check(
      spec.allowPlainHttp === true,
      `${field}.endpoint`,
      spec.endpoint,
      "is plain HTTP: images would travel unencrypted and unauthenticated",
      `serve the mirror over https (give caCertificate for a private CA), or set ${field}.allowPlainHttp: true for a lab`,
    );
  }
  if (spec.caCertificate !== undefined) {
    let ca = false;
    try {
      ca = new crypto.X509Certificate(spec.caCertificate).ca;
    } catch {
      ca = false;
    }
    p.check(ca, `${field}.caCertificate`, "(PEM)", "is not a PEM CA certificate", "give the PEM of the CA that signed the mirror's certificate");
    p.check(okUrl && url!.protocol === "https:", `${field}.caCertificate`, "(PEM)", "is set for an endpoint that is not https", "drop it, or use an https endpoint");
  }
  return { registry, endpoint: spec.endpoint.replace(/\/+$/, ""), ...(spec.caCertificate ? { caCertificate: spec.caCertificate } : {}) };
}

export function resolveSources(p: Problems, spec: ClusterSpec): ResolvedSources {
  const mirrors = spec.registryMirrors ?? {};
  const isMap = typeof mirrors === "object" && mirrors !== null && !Array.isArray(mirrors);
  p.check(isMap, "registryMirrors", mirrors, "is not a map of registry host to mirror", 'use e.g. { "registry.k8s.io": { endpoint: "https://mirror.example.com" } }');
  return {
    packageKeyFingerprint: fingerprint(p, "packageRepositoryKeyFingerprint", spec.packageRepositoryKeyFingerprint, PKGS_K8S_IO_KEY_FINGERPRINT),
    containerdKeyFingerprint: fingerprint(p, "containerdRepositoryKeyFingerprint", spec.containerdRepositoryKeyFingerprint, DOCKER_KEY_FINGERPRINT),
    registryMirrors: isMap ? Object.keys(mirrors).sort().map((registry) => mirror(p, registry, mirrors[registry])) : [],
  };
}

/** The registry's own API, the fallback after the mirror (Docker Hub's lives elsewhere). */
function upstream(registry: string): string {
  return registry === "docker.io" ? "https://registry-1.docker.io" : `https://${registry}`;
}

/** containerd's hosts.toml for one mirrored registry: the mirror first, then the registry itself. */
export function hostsToml(mirror: ResolvedRegistryMirror): string {
  const lines = [
    `server = "${upstream(mirror.registry)}"`,
    "",
    `[host."${mirror.endpoint}"]`,
    '  capabilities = ["pull", "resolve"]',
  ];
  if (mirror.caCertificate) lines.push(`  ca = "${CONTAINERD_CERTS_DIR}/${mirror.registry}/mirror-ca.crt"`);
  return `${lines.join("\n")}\n`;
}

/** Files under certs.d for every mirror: path, mode, content. */
export function registryMirrorFiles(mirrors: readonly ResolvedRegistryMirror[]): { path: string; permissions: string; content: string }[] {
  return mirrors.flatMap((m) => [
    { path: `${CONTAINERD_CERTS_DIR}/${m.registry}/hosts.toml`, permissions: "0644", content: hostsToml(m) },
    ...(m.caCertificate ? [{ path: `${CONTAINERD_CERTS_DIR}/${m.registry}/mirror-ca.crt`, permissions: "0644", content: m.caCertificate }] : []),
  ]);
}
