/**
 * Air-gapped sources: re-signed package mirrors (their key fingerprints reach the bootstrap's
 * checks) and containerd registry mirrors (certs.d/<registry>/hosts.toml on every node).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { TerraformStack, Testing } from "cdktf";
import { DOCKER_KEY_FINGERPRINT, PKGS_K8S_IO_KEY_FINGERPRINT } from "../src/bootstrap/catalog";
import { CONTAINERD_CERTS_DIR, hostsToml } from "../src/bootstrap/mirrors";
import { NODE_LAYOUT } from "../src/bootstrap/node-layout";
import { resolveCluster } from "../src/bootstrap/resolve-cluster";
import type { ClusterSpec, PlatformNetwork } from "../src/bootstrap/spec";
import { ClusterSpecError, SpecProblem } from "../src/bootstrap/validation-error";
import { KubeadmCluster } from "../src/constructs/kubeadm-cluster";
import { openssl } from "./support/openssl";
import { settingsOf, writeFilesOf } from "./support/stack-json";

const NET: PlatformNetwork = { platform: "test", nodeCidrs: ["10.0.0.0/16"] };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mirrors-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function problems(spec: Partial<ClusterSpec>): SpecProblem[] {
  try {
    resolveCluster({ name: "airgap", ...spec } as ClusterSpec, NET);
  } catch (e) {
    expect(e).toBeInstanceOf(ClusterSpecError);
    return [...(e as ClusterSpecError).problems];
  }
  throw new Error("expected the spec to be rejected");
}

/** A CA certificate made by openssl (as a company's private CA would be). */
function caPem(name: string, extensions = ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign"]): string {
  const key = path.join(tmp, `${name}.key`);
  const cert = path.join(tmp, `${name}.crt`);
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "30", "-subj", `/CN=${name}`,
    ...extensions.flatMap((e) => ["-addext", e])]);
  return fs.readFileSync(cert, "utf8");
}

const MIRROR_KEY = "0123456789ABCDEF0123456789ABCDEF01234567";

describe("repository signing keys", () => {
  test("default to pkgs.k8s.io's and Docker's keys", () => {
    const c = resolveCluster({ name: "airgap" }, NET);
    expect(c.sources).toEqual({ packageKeyFingerprint: PKGS_K8S_IO_KEY_FINGERPRINT, containerdKeyFingerprint: DOCKER_KEY_FINGERPRINT, registryMirrors: [] });
  });

  test("a re-signed mirror's fingerprint, with spaces and in lower case, is normalized", () => {
    const spaced = "0123 4567 89ab cdef 0123  4567 89ab cdef 0123 4567";
    const c = resolveCluster({ name: "airgap", packageRepositoryKeyFingerprint: spaced, containerdRepositoryKeyFingerprint: MIRROR_KEY }, NET);
    expect(c.sources.packageKeyFingerprint).toBe(MIRROR_KEY);
    expect(c.sources.containerdKeyFingerprint).toBe(MIRROR_KEY);
  });

  test.each([
    ["packageRepositoryKeyFingerprint", "0123456789ABCDEF"],
    ["containerdRepositoryKeyFingerprint", "Z123456789ABCDEF0123456789ABCDEF01234567"],
    ["packageRepositoryKeyFingerprint", ""],
  ])("%s = %j is refused, naming the field and the fix", (field, value) => {
    const [problem] = problems({ [field]: value });
    expect(problem).toMatchObject({ field, value, problem: expect.stringMatching(/40 hex digits/), fix: expect.stringMatching(/gpg --show-keys/) });
  });
});

describe("registry mirrors", () => {
  const ca = caPem("mirror-ca");

  test("resolve sorted by registry, endpoint without a trailing slash", () => {
    const c = resolveCluster({
      name: "airgap",
      registryMirrors: {
        "registry.k8s.io": { endpoint: "https://mirror.example.com:5000/", caCertificate: ca },
        "docker.io": { endpoint: "http://10.0.0.2:5000", allowPlainHttp: true },
      },
    }, NET);
    expect(c.sources.registryMirrors).toEqual([
      { registry: "docker.io", endpoint: "http://10.0.0.2:5000" },
      { registry: "registry.k8s.io", endpoint: "https://mirror.example.com:5000", caCertificate: ca },
    ]);
  });

  test("hosts.toml: the mirror first (pull, resolve), then the registry itself; Docker Hub's API host", () => {
    expect(hostsToml({ registry: "registry.k8s.io", endpoint: "https://mirror.example.com:5000", caCertificate: ca })).toBe([
      'server = "https://registry.k8s.io"',
      "",
      '[host."https://mirror.example.com:5000"]',
      '  capabilities = ["pull", "resolve"]',
      `  ca = "${CONTAINERD_CERTS_DIR}/registry.k8s.io/mirror-ca.crt"`,
      "",
    ].join("\n"));
    expect(hostsToml({ registry: "docker.io", endpoint: "http://10.0.0.2:5000" })).toMatch(/^server = "https:\/\/registry-1\.docker\.io"\n/);
  });

  test.each<[string, Record<string, unknown>, string, RegExp]>([
    ["plain HTTP without allowPlainHttp", { "registry.k8s.io": { endpoint: "http://10.0.0.2:5000" } }, 'registryMirrors["registry.k8s.io"].endpoint', /plain HTTP/],
    ["not a URL", { "registry.k8s.io": { endpoint: "mirror.example.com" } }, 'registryMirrors["registry.k8s.io"].endpoint', /not an http\(s\) URL/],
    ["credentials in the URL", { "registry.k8s.io": { endpoint: "https://user:pw@mirror.example.com" } }, 'registryMirrors["registry.k8s.io"].endpoint', /credentials/],
    ["a scheme in the registry key", { "https://registry.k8s.io": { endpoint: "https://mirror.example.com" } }, 'registryMirrors["https://registry.k8s.io"]', /not a registry host/],
    ["a CA that is not a certificate", { "registry.k8s.io": { endpoint: "https://mirror.example.com", caCertificate: "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n" } }, 'registryMirrors["registry.k8s.io"].caCertificate', /not a PEM CA certificate/],
    ["a CA for a plain-HTTP endpoint", { "registry.k8s.io": { endpoint: "http://10.0.0.2", allowPlainHttp: true, caCertificate: caPem("http-ca") } }, 'registryMirrors["registry.k8s.io"].caCertificate', /not https/],
  ])("%s is refused, naming the field", (_what, registryMirrors, field, problem) => {
    const found = problems({ registryMirrors: registryMirrors as ClusterSpec["registryMirrors"] });
    expect(found).toEqual([expect.objectContaining({ field, problem: expect.stringMatching(problem) })]);
  });

  test("a leaf certificate is not taken as the mirror's CA", () => {
    const leaf = caPem("leaf", ["basicConstraints=critical,CA:FALSE"]);
    const found = problems({ registryMirrors: { "registry.k8s.io": { endpoint: "https://mirror.example.com", caCertificate: leaf } } });
    expect(found).toEqual([expect.objectContaining({ field: 'registryMirrors["registry.k8s.io"].caCertificate' })]);
  });

  test("a list where a map belongs is refused", () => {
    const found = problems({ registryMirrors: [{ endpoint: "https://mirror.example.com" }] as unknown as ClusterSpec["registryMirrors"] });
    expect(found).toEqual([expect.objectContaining({ field: "registryMirrors", problem: expect.stringMatching(/not a map/) })]);
  });
});

describe("on the nodes", () => {
  const ca = caPem("node-ca");
  const stack = new TerraformStack(Testing.app(), "airgap");
  const kubeadm = new KubeadmCluster(stack, "cluster", {
    cluster: resolveCluster({
      name: "airgap",
      controlPlane: { replicas: 1 },
      nodePools: [{ name: "general" }],
      imageRepository: "mirror.example.com:5000/k8s",
      packageRepositoryKeyFingerprint: MIRROR_KEY,
      containerdRepositoryKeyFingerprint: MIRROR_KEY,
      registryMirrors: { "registry.k8s.io": { endpoint: "https://mirror.example.com:5000", caCertificate: ca }, "quay.io": { endpoint: "https://mirror.example.com:5000" } },
    }, NET),
    controlPlaneEndpointHost: "api.airgap.example.com",
    userDataLimit: 1 << 20,
    pkiDirectory: path.join(tmp, "pki"),
    outputs: false,
  });

  test.each(kubeadm.roles().map((r) => [r.kind, r] as const))("%s: hosts.toml and the CA under certs.d, the mirror's key in the settings", (_kind, role) => {
    const config = kubeadm.cloudConfig(role);
    const files = writeFilesOf(config);
    expect(files[`${CONTAINERD_CERTS_DIR}/registry.k8s.io/hosts.toml`]).toEqual({ permissions: "0644", content: expect.stringContaining('[host."https://mirror.example.com:5000"]') });
    expect(files[`${CONTAINERD_CERTS_DIR}/registry.k8s.io/mirror-ca.crt`]).toEqual({ permissions: "0644", content: ca });
    expect(files[`${CONTAINERD_CERTS_DIR}/quay.io/hosts.toml`].content).toContain('server = "https://quay.io"');
    expect(files[`${CONTAINERD_CERTS_DIR}/quay.io/mirror-ca.crt`]).toBeUndefined();
    const settings = settingsOf(config, NODE_LAYOUT.settings);
    expect(settings).toMatchObject({ PKG_KEY_FINGERPRINT: MIRROR_KEY, CONTAINERD_KEY_FINGERPRINT: MIRROR_KEY, SANDBOX_IMAGE: expect.stringMatching(/^mirror\.example\.com:5000\/k8s\/pause:/) });
  });
});
