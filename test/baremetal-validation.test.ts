/**
 * Synth-time validation of the bare-metal inventory: every error names the field, the value and a
 * fix, all problems come in one ClusterSpecError, and nothing is created before it is thrown.
 */
import * as fs from "fs";
import { AnnotationMetadataEntryType, TerraformStack, Testing } from "cdktf";
import type { SpecProblem } from "../src/bootstrap/validation-error";
import { ClusterSpecError } from "../src/bootstrap/validation-error";
import { BaremetalHost, BaremetalKubeadmCluster, BaremetalKubeadmClusterProps } from "../src/constructs/baremetal";
import { baseProps, build, hosts3x2, problemsOf, tempDir, VIP } from "./support/baremetal-fixtures";

const dirs = { pki: tempDir("baremetal-validation-pki-"), seeds: tempDir("baremetal-validation-seeds-") };
afterAll(() => {
  fs.rmSync(dirs.pki, { recursive: true, force: true });
  fs.rmSync(dirs.seeds, { recursive: true, force: true });
});

const props = (overrides: Partial<BaremetalKubeadmClusterProps> = {}) => baseProps(dirs, overrides);
const withHosts = (edit: (hosts: BaremetalHost[]) => BaremetalHost[], overrides: Partial<BaremetalKubeadmClusterProps> = {}) =>
  props({ hosts: edit(hosts3x2()), ...overrides });
const setHost = (i: number, patch: Partial<BaremetalHost> | Record<string, unknown>) => (hosts: BaremetalHost[]) =>
  hosts.map((h, j) => (j === i ? ({ ...h, ...patch } as BaremetalHost) : h));

/** Asserts exactly one problem on `field`, with the problem and fix text given. */
function expectProblem(problems: SpecProblem[], field: string, problem: RegExp, fix: RegExp): void {
  const onField = problems.filter((p) => p.field === field);
  expect({ field, problems: onField.map((p) => `${p.problem} | ${p.fix}`) }).toEqual({ field, problems: [expect.stringMatching(problem)] });
  expect(onField[0].fix).toMatch(fix);
}

describe("bare-metal inventory validation", () => {
  test("the base inventory is valid", () => {
    expect(() => build(props())).not.toThrow();
  });

  const cases: [string, BaremetalKubeadmClusterProps, string, RegExp, RegExp][] = [
    ["no hosts", props({ hosts: [] }), "hosts", /is empty/, /list the machines/],
    ["duplicate name", withHosts(setHost(1, { name: "cp-1" })), "hosts[1].name", /also the name of hosts\[0\]/, /unique name/],
    ["name not a DNS label", withHosts(setHost(0, { name: "CP_1" })), "hosts[0].name", /not a DNS label/, /"cp-1"/],
    ["invalid address", withHosts(setHost(3, { address: "300.1.2.3" })), "hosts[3].address", /neither an IPv4 address nor a DNS name/, /over SSH/],
    ["duplicate SSH address", withHosts(setHost(2, { address: "192.168.10.11", internalAddress: "192.168.10.13" })), "hosts[2].address", /also the address of hosts\[0\]/, /own SSH address/],
    ["duplicate address (SSH and internal)", withHosts(setHost(2, { address: "192.168.10.11" })), "hosts[2].address", /also the address of hosts\[0\]/, /own SSH address/],
    ["DNS name without internal address", withHosts(setHost(3, { address: "worker-1.metal.example.com" })), "hosts[3].address", /is a DNS name/, /set internalAddress/],
    ["invalid internal address", withHosts(setHost(4, { internalAddress: "192.168.10" })), "hosts[4].internalAddress", /not an IPv4 address/, /cluster network/],
    ["duplicate internal address", withHosts(setHost(4, { address: "10.9.0.22", internalAddress: "192.168.10.21" })), "hosts[4].internalAddress", /also the internal address of hosts\[3\]/, /its own address/],
    ["internal address outside nodeCidr", withHosts(setHost(3, { address: "10.0.0.21" })), "hosts[3].address", /outside nodeCidr 192\.168\.10\.0\/24/, /set internalAddress when SSH goes through another network/],
    ["broadcast address", withHosts(setHost(3, { address: "192.168.10.255" })), "hosts[3].address", /network or broadcast address/, /host address inside/],
    ["unknown role", withHosts(setHost(3, { role: "master" })), "hosts[3].role", /neither "control-plane" nor "worker"/, /role: "control-plane"/],
    ["worker without pool", withHosts(setHost(3, { pool: undefined })), "hosts[3].pool", /is missing/, /pool: "general"/],
    ["control plane with a pool", withHosts(setHost(0, { pool: "general" })), "hosts[0].pool", /set on a control-plane host/, /remove pool/],
    ["invalid pool name", withHosts(setHost(3, { pool: "General_Pool" })), "hosts[3].pool", /not a DNS label of at most 20/, /"general"/],
    ["two control-plane hosts", withHosts((h) => h.filter((x) => x.name !== "cp-3")), "hosts", /1, 3 or 5 control-plane hosts/, /3 hosts for high availability/],
    ["no control-plane host", withHosts((h) => h.filter((x) => x.role === "worker")), "hosts", /1, 3 or 5 control-plane hosts/, /role: "control-plane"/],
    ["nodeCidr with host bits", props({ nodeCidr: "192.168.10.1/24" }), "nodeCidr", /host bits set/, /192\.168\.10\.0\/24/],
    ["no endpoint for 3 control-plane hosts", props({ apiEndpoint: undefined }), "apiEndpoint", /required with 3 control-plane hosts/, /kube-vip.*external-load-balancer/],
    ["single-control-plane endpoint with 3", props({ apiEndpoint: { type: "single-control-plane" } }), "apiEndpoint.type", /exactly 1 control-plane host, but there are 3/, /kube-vip/],
    ["unknown endpoint type", props({ apiEndpoint: { type: "vrrp" } as never }), "apiEndpoint.type", /not an endpoint type/, /"kube-vip"/],
    ["VIP outside nodeCidr", props({ apiEndpoint: { type: "kube-vip", address: "10.0.0.10" } }), "apiEndpoint.address", /outside nodeCidr.*ARP/, /192\.168\.10\.10/],
    ["VIP is a host's address", props({ apiEndpoint: { type: "kube-vip", address: "192.168.10.12" } }), "apiEndpoint.address", /address of hosts\[1\]; the virtual IP must be free/, /no machine uses/],
    ["VIP is a DNS name", props({ apiEndpoint: { type: "kube-vip", address: "api.example.com" } }), "apiEndpoint.address", /not an IPv4 address/, /free address in nodeCidr/],
    ["VIP is the network address", props({ apiEndpoint: { type: "kube-vip", address: "192.168.10.0" } }), "apiEndpoint.address", /network or broadcast/, /free host address/],
    ["bad interface name", props({ apiEndpoint: { type: "kube-vip", address: VIP, interface: "eth0 eth1" } }), "apiEndpoint.interface", /not a Linux interface name/, /ip -br link/],
    ["unpinned kube-vip image", props({ apiEndpoint: { type: "kube-vip", address: VIP, image: "ghcr.io/kube-vip/kube-vip:latest" } }), "apiEndpoint.image", /not a pinned image/, /kube-vip:v0\.8/],
    ["invalid load balancer", props({ apiEndpoint: { type: "external-load-balancer", address: "https://lb" } }), "apiEndpoint.address", /neither an IPv4 address nor a DNS name/, /load balancer's address/],
    ["load balancer is a host", props({ apiEndpoint: { type: "external-load-balancer", address: "192.168.10.21" } }), "apiEndpoint.address", /address of hosts\[3\], not a load balancer/, /in front of all control-plane hosts/],
    ["settings for a pool without hosts", props({ nodePools: [{ name: "gpu" }] }), "nodePools[0].name", /no worker host has this pool/, /pools: general/],
    ["a pool size", props({ nodePools: [{ name: "general", maxSize: 5 } as never] }), "nodePools[0].maxSize", /size is its number of worker hosts/, /add or remove worker hosts/],
    ["node-ip in a pool's kubelet flags", props({ nodePools: [{ name: "general", kubeletExtraArgs: { "node-ip": "1.2.3.4" } }] }), 'nodePools[0].kubeletExtraArgs["node-ip"]', /per host from internalAddress/, /internalAddress/],
    ["invalid SSH user", props({ ssh: { user: "Ubuntu User" } }), "ssh.user", /not a valid user name/, /"ubuntu"/],
    ["invalid SSH port", props({ ssh: { user: "ubuntu", port: 70000 } }), "ssh.port", /not a TCP port/, /22/],
    ["invalid per-host SSH port", withHosts(setHost(1, { ssh: { port: 0 } })), "hosts[1].ssh.port", /not a TCP port/, /22/],
    ["invalid host key", withHosts(setHost(1, { ssh: { hostKey: "AAAAC3NzaC1lZDI1NTE5" } })), "hosts[1].ssh.hostKey", /not an OpenSSH public key/, /ssh_host_ed25519_key\.pub/],
    ["literal private key", props({ ssh: { user: "ubuntu", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n" } }), "ssh.privateKey", /literal string/, /Fn\.file\(.*stringValue/],
    ["relative remote root", props({ ssh: { user: "ubuntu", remoteRoot: "dry-run" } }), "ssh.remoteRoot", /absolute path or start with \$HOME/, /\$HOME\/dry-run/],
    ["template syntax in the command prefix", props({ ssh: { user: "ubuntu", remoteCommandPrefix: "env X=${HOME}" } }), "ssh.remoteCommandPrefix", /template syntax/, /\$HOME rather than \$\{HOME\}/],
    ["invalid timeout", props({ ssh: { user: "ubuntu", timeout: "five minutes" } }), "ssh.timeout", /not a duration/, /"5m"/],
    ["a PKI store under ~", props({ pkiDirectory: "~/.cdktf-kubeadm/pki" }), "pkiDirectory", /shell expansion \(~, \$VAR or %VAR%\) that nothing expands/, /os\.homedir\(\)/],
    ["a seed directory with $VAR", props({ seedFiles: { directory: "$HOME/seeds" } }), "seedFiles.directory", /shell expansion/, /process\.env\.VAR/],
    ["a seed directory with ${VAR}", props({ seedFiles: { directory: "/srv/${SITE}/seeds" } }), "seedFiles.directory", /shell expansion/, /os\.homedir/],
    ["an empty PKI store path", props({ pkiDirectory: " " }), "pkiDirectory", /not a non-empty path/, /directory path/],
    ["no delivery at all", props({ ssh: undefined, seedFiles: { enabled: false } }), "seedFiles.enabled", /no delivery at all \(no ssh either\)/, /set ssh, or leave seedFiles enabled/],
    ["a backup interval under 5 minutes", props({ etcdBackup: { intervalMinutes: 1 } }), "etcdBackup.intervalMinutes", /not a whole number from 5 to 1440/, /every 5 minutes to once a day/],
    ["a fractional backup interval", props({ etcdBackup: { intervalMinutes: 7.5 } }), "etcdBackup.intervalMinutes", /not a whole number from 5 to 1440/, /every 5 minutes/],
    ["no hourly snapshots kept", props({ etcdBackup: { retention: { hourlyDays: 0 } } }), "etcdBackup.retention.hourlyDays", /not a whole number from 1 to 365/, /1 to 365 days/],
    ["daily snapshots kept too long", props({ etcdBackup: { retention: { dailyDays: 5000 } } }), "etcdBackup.retention.dailyDays", /from 1 to 3650/, /1 to 3650 days/],
    ["recent snapshots kept shorter than the interval", props({ etcdBackup: { intervalMinutes: 120, retention: { recentHours: 1 } } }), "etcdBackup.retention.recentHours", /keeps no snapshot taken every 120 minutes/, /at least one interval/],
    ["a relative backup directory", props({ etcdBackup: { directory: "backups" } }), "etcdBackup.directory", /not an absolute path/, /\/var\/lib\/cdktf-kubeadm\/etcd-backups/],
    ["a backup directory with ..", props({ etcdBackup: { directory: "/var/lib/../etc" } }), "etcdBackup.directory", /not an absolute path/, /etcd-backups/],
    ["a backup directory with a space", props({ etcdBackup: { directory: "/srv/etcd backups" } }), "etcdBackup.directory", /not an absolute path/, /etcd-backups/],
  ];

  test.each(cases)("%s", (_name, spec, field, problem, fix) => {
    expectProblem(problemsOf(spec), field, problem, fix);
  });

  test("cluster-model problems come in the same error as inventory problems", () => {
    const spec = withHosts(setHost(3, { pool: undefined }), { networking: { podCidr: "192.168.0.0/16" }, kubernetesVersion: "1.20.0" });
    const problems = problemsOf(spec);
    expect(problems.map((p) => p.field)).toEqual(expect.arrayContaining(["hosts[3].pool", "networking.podCidr", "kubernetesVersion"]));
    expect(problems.find((p) => p.field === "networking.podCidr")!.problem).toMatch(/overlaps the baremetal node network 192\.168\.10\.0\/24/);
  });

  test("the replica count is reported once, on the hosts", () => {
    const problems = problemsOf(withHosts((h) => h.filter((x) => x.name !== "cp-3")));
    expect(problems.map((p) => p.field)).toEqual(["hosts"]);
  });

  test("the message lists every problem with its fix, and nothing was created", () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, "s");
    const spec = withHosts((h) => setHost(0, { name: "CP" })(setHost(3, { pool: undefined })(h)), { nodeCidr: "nope" });
    let error: unknown;
    try {
      new BaremetalKubeadmCluster(stack, "c", spec);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ClusterSpecError);
    const message = (error as Error).message;
    expect(message).toMatch(/invalid cluster spec "metal" \(\d+ problems\)/);
    for (const field of ["hosts[0].name", "hosts[3].pool", "nodeCidr"]) expect(message).toContain(`  - ${field} = `);
    expect(message.split("\n").slice(1).every((line) => line.includes("Fix: "))).toBe(true);
    // The construct node itself exists (constructs attach it before its constructor body runs); nothing below it.
    expect(stack.node.findAll().map((c) => c.node.path)).toEqual(["s", "s/c"]);
  });

  test("a literal private key is never echoed in the error", () => {
    const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nSECRETSECRET\n-----END OPENSSH PRIVATE KEY-----\n";
    const problems = problemsOf(props({ ssh: { user: "ubuntu", privateKey: key } }));
    expect(JSON.stringify(problems)).not.toContain("SECRETSECRET");
  });

  test("one control-plane host needs no endpoint; its internal address is the endpoint", () => {
    const { cluster } = build(withHosts((h) => h.filter((x) => x.name !== "cp-2" && x.name !== "cp-3"), { apiEndpoint: undefined }));
    expect(cluster.apiEndpoint).toBe("https://192.168.10.11:6443");
    expect(cluster.inventory.apiEndpoint.type).toBe("single-control-plane");
  });

  test("per-host SSH users override the shared one", () => {
    const spec = withHosts((h) => h.map((x) => ({ ...x, ssh: { user: `u-${x.name.replace("-", "")}` } })), { ssh: { user: "ubuntu" } });
    expect(() => build(spec)).not.toThrow();
  });

  test("warning: kube-vip without an interface on hosts reached over another network", () => {
    const spec = withHosts(setHost(0, { address: "10.0.0.11", internalAddress: "192.168.10.11" }), { apiEndpoint: { type: "kube-vip", address: VIP } });
    const { stack } = build(spec);
    const warnings = stack.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === AnnotationMetadataEntryType.WARN).map((m) => String(m.data)));
    expect(warnings.join("\n")).toMatch(/set apiEndpoint\.interface/);
  });
});

test("requireExistingPkiStore: a missing store is refused before any seed or key is written", () => {
  const missing = `${dirs.pki}-missing`;
  const seeds = `${dirs.seeds}-guarded`;
  expectProblem(problemsOf(baseProps({ pki: missing, seeds }, { requireExistingPkiStore: true })), "pkiDirectory", /holds no PKI store, and requireExistingPkiStore forbids/, /restore the store from your backup/);
  expect(fs.existsSync(missing)).toBe(false);
  expect(fs.existsSync(seeds)).toBe(false);
});
