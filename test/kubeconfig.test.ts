/**
 * The admin kubeconfig, used by the real kubectl (Go's TLS stack, like the API server's) against a
 * real TLS server: etcd configured to require client certificates from our cluster CA.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { renderKubeconfig } from "../src/bootstrap/kubeconfig";
import { ClusterPki, createAdminCertificate, createCertificateAuthority, generateClusterPki } from "../src/bootstrap/pki";
import { freePort } from "./support/net";
import { openssl, tempDir, writeTemp } from "./support/openssl";

const options = { keyAlgorithm: "ECDSA-P256", caValidityHours: 87600, certificateValidityHours: 8760 } as const;
const tmp = tempDir("kubeconfig-test-");
let etcd: ChildProcess | undefined;
let server = "";
let pki: ClusterPki;
/** etcd's log (stderr): where it says why it rejected a connection. */
const etcdLog = path.join(tmp, "etcd.log");

function kubeconfigFor(p: Pick<ClusterPki, "ca" | "admin">, url = server): string {
  return renderKubeconfig({ clusterName: "prod", server: url, caCertPem: p.ca.certPem, userName: "kubernetes-admin", clientCertPem: p.admin.certPem, clientKeyPem: p.admin.keyPem });
}

function kubectl(config: string, args: string[]): { status: number; output: string } {
  const file = writeTemp(tmp, `kubeconfig-${Math.random().toString(36).slice(2)}`, config);
  const r = spawnSync("kubectl", ["--kubeconfig", file, "--request-timeout", "10s", ...args], { encoding: "utf8" });
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

beforeAll(async () => {
  pki = generateClusterPki(options);
  const ca = writeTemp(tmp, "ca.crt", pki.ca.certPem);
  const caKey = writeTemp(tmp, "ca.key", pki.ca.keyPem);
  // A server certificate for 127.0.0.1, issued by our CA with openssl (kubeadm would make it on the node).
  const key = path.join(tmp, "server.key");
  const csr = path.join(tmp, "server.csr");
  const crt = path.join(tmp, "server.crt");
  openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=kube-apiserver"]);
  const ext = writeTemp(tmp, "server.ext", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n");
  openssl(["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext]);
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  server = `https://127.0.0.1:${clientPort}`;
  etcd = spawn("etcd", [
    "--name", "t", "--data-dir", path.join(tmp, "etcd"),
    "--listen-client-urls", server, "--advertise-client-urls", server,
    "--listen-peer-urls", `http://127.0.0.1:${peerPort}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${peerPort}`,
    "--initial-cluster", `t=http://127.0.0.1:${peerPort}`,
    "--cert-file", crt, "--key-file", key, "--client-cert-auth", "--trusted-ca-file", ca,
  ], { stdio: ["ignore", "ignore", fs.openSync(etcdLog, "a")] });
  for (let i = 0; i < 100; i++) {
    if (kubectl(kubeconfigFor(pki), ["get", "--raw", "/version"]).status === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("etcd did not come up with the generated certificates");
}, 60_000);

afterAll(() => {
  etcd?.kill();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test("kubectl parses it: one cluster, user and current context, data fields base64 of the PEMs", () => {
  const text = kubeconfigFor(pki);
  const r = kubectl(text, ["config", "view", "--raw", "-o", "jsonpath={.current-context} {.clusters[0].cluster.server} {.users[0].name}"]);
  expect(r.output).toBe(`kubernetes-admin@prod ${server} kubernetes-admin`);
  const doc = yaml.load(text) as { users: [{ user: Record<string, string> }] };
  expect(Buffer.from(doc.users[0].user["client-key-data"], "base64").toString()).toBe(pki.admin.keyPem);
  expect(text).not.toMatch(/\n {6,}[A-Za-z0-9+/=]+\n/); // never folded
});

test("kubectl authenticates with the admin certificate over mutual TLS and trusts the CA", () => {
  const r = kubectl(kubeconfigFor(pki), ["get", "--raw", "/version"]);
  expect(r.status).toBe(0);
  expect(JSON.parse(r.output)).toHaveProperty("etcdserver");
});

test("a client certificate from another CA is rejected by the server", async () => {
  const stranger = createAdminCertificate(createCertificateAuthority("kubernetes", options), options);
  const r = kubectl(kubeconfigFor({ ca: pki.ca, admin: stranger }), ["get", "--raw", "/version"]);
  expect(r.status).not.toBe(0);
  // With TLS 1.3 the client may see the server's alert or just the closed connection.
  expect(r.output).toMatch(/certificate|tls|remote error|broken pipe|connection reset/i);
  // The server's side says why: the client certificate is not from the trusted CA.
  let log = "";
  for (let i = 0; i < 25 && !/unknown authority|bad certificate|failed to verify/.test(log); i++) {
    await new Promise((done) => setTimeout(done, 200));
    log = fs.readFileSync(etcdLog, "utf8");
  }
  expect(log).toMatch(/rejected connection[\s\S]*(unknown authority|bad certificate|failed to verify)/);
});

test("a kubeconfig with another CA does not trust the server", () => {
  const other = generateClusterPki(options);
  const r = kubectl(kubeconfigFor({ ca: other.ca, admin: pki.admin }), ["get", "--raw", "/version"]);
  expect(r.status).not.toBe(0);
  expect(r.output).toMatch(/x509: certificate signed by unknown authority/);
});

test("a server that is a Terraform token is kept verbatim", () => {
  const text = kubeconfigFor(pki, "https://${TfToken[TOKEN.42]}:6443");
  expect(text).toContain("server: https://${TfToken[TOKEN.42]}:6443");
});
