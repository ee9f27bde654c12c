/**
 * The GCE hairpin on the real kernel and the real iptables: two network namespaces are two
 * control-plane backends of an internal passthrough load balancer, each holding the route GCE's
 * guest agent installs for the LB address (`local <LB-IP>` in table local). The joiner runs the
 * packed script's own `hairpin` function; the peer's "API server" answers with the source address
 * it saw. A DNAT alone (what the script did before) times out: the SYN leaves with the LB address as
 * its source, which the peer holds itself and drops as a martian.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import { bootstrapScript } from "../src/bootstrap/bootstrap-script";
import { waitFor } from "./support/wait";

const LB = "10.0.0.100";
const JOINER = "10.0.0.12";
const PEER = "10.0.0.11";
const PORT = 6443;

interface Namespace {
  readonly holder: ChildProcess;
  readonly pid: number;
}

function namespace(): Namespace {
  const holder = spawn("unshare", ["--net", "sleep", "infinity"], { stdio: "ignore", detached: true });
  return { holder, pid: holder.pid! };
}

function inNamespace(ns: Namespace, command: string, args: string[], env: NodeJS.ProcessEnv = {}): { code: number; output: string } {
  const r = spawnSync("nsenter", ["-t", String(ns.pid), "-n", "--", command, ...args], { encoding: "utf8", timeout: 30_000, env: { ...process.env, ...env } });
  return { code: r.status ?? -1, output: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

function must(ns: Namespace, script: string): void {
  const r = inNamespace(ns, "bash", ["-euc", script]);
  if (r.code !== 0) throw new Error(`${script}: ${r.output}`);
}

/** The packed GCE control-plane script's hairpin function, exactly as it ships. */
function hairpinFunction(): string {
  const script = bootstrapScript("control-plane", "gce-secretmanager");
  const match = /^hairpin\(\) \{\n[\s\S]*?\n\}\n/m.exec(script);
  if (!match) throw new Error("the packed control-plane script has no hairpin function");
  return match[0];
}

/** `hairpin -A|-D <peer>` on the joiner, with the settings a GCE control-plane joiner gets. */
function hairpin(ns: Namespace, op: "-A" | "-D"): { code: number; output: string } {
  return inNamespace(ns, "bash", ["-c", `set -euo pipefail\n${hairpinFunction()}hairpin ${op} ${PEER}:${PORT}`], {
    API_ENDPOINT: `${LB}:${PORT}`, API_HAIRPIN_DNAT: "1", NODE_ROLE: "control-plane",
  });
}

/** What the joiner gets from the LB address: the peer's answer, or curl's exit code. */
function callLoadBalancer(ns: Namespace): string {
  const r = inNamespace(ns, "curl", ["-sS", "--max-time", "4", `http://${LB}:${PORT}/`]);
  return r.code === 0 ? r.output.trim() : `curl exit ${r.code}`;
}

const natRules = (ns: Namespace) => inNamespace(ns, "iptables", ["-t", "nat", "-S"]).output.split("\n").filter((l) => l.includes("cdktf-kubeadm-hairpin"));

let joiner: Namespace;
let peer: Namespace;
let server: ChildProcess | undefined;

beforeAll(() => {
  joiner = namespace();
  peer = namespace();
  const suffix = crypto.randomBytes(3).toString("hex");
  const [a, b] = [`hpa${suffix}`, `hpb${suffix}`];
  waitFor("both namespaces", () => [joiner, peer].every((ns) => inNamespace(ns, "true", []).code === 0), { timeoutMs: 10_000, intervalMs: 100 });
  const host = spawnSync("bash", ["-euc", `ip link add ${a} type veth peer name ${b}; ip link set ${a} netns ${joiner.pid}; ip link set ${b} netns ${peer.pid}`], { encoding: "utf8" });
  if (host.status !== 0) throw new Error(host.stderr);
  for (const [ns, dev, address] of [[joiner, a, JOINER], [peer, b, PEER]] as const) {
    // proto 66: what google-guest-agent tags its forwarded-IP routes with.
    must(ns, `ip link set lo up; ip addr add ${address}/24 dev ${dev}; ip link set ${dev} up; ip route add local ${LB} dev ${dev} table local proto 66`);
  }
  const echo = [
    "import http.server",
    "class Echo(http.server.BaseHTTPRequestHandler):",
    "    def do_GET(self):",
    "        body = ('peer saw ' + self.client_address[0]).encode()",
    "        self.send_response(200); self.end_headers(); self.wfile.write(body)",
    "    def log_message(self, *args): pass",
    `http.server.HTTPServer(('0.0.0.0', ${PORT}), Echo).serve_forever()`,
  ].join("\n");
  server = spawn("nsenter", ["-t", String(peer.pid), "-n", "--", "python3", "-c", echo], { stdio: "ignore" });
  waitFor("the peer's server", () => inNamespace(joiner, "curl", ["-s", "--max-time", "2", `http://${PEER}:${PORT}/`]).code === 0, { timeoutMs: 15_000, intervalMs: 200 });
});

afterAll(() => {
  for (const child of [server, joiner?.holder, peer?.holder]) child?.kill("SIGKILL");
});

test("the setup reproduces GCE: the LB address is the joiner's own, and a bare DNAT to the peer times out", () => {
  expect(inNamespace(joiner, "curl", ["-s", `http://${PEER}:${PORT}/`]).output).toBe(`peer saw ${JOINER}`);
  // Nothing of its own listens there yet: refused at once, locally.
  expect(callLoadBalancer(joiner)).toBe("curl exit 7");
  const bare = ["-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", LB, "--dport", String(PORT), "-j", "DNAT", "--to-destination", `${PEER}:${PORT}`];
  expect(inNamespace(joiner, "iptables", bare).code).toBe(0);
  expect(callLoadBalancer(joiner)).toBe("curl exit 28");
  expect(inNamespace(joiner, "iptables", ["-t", "nat", "-D", ...bare.slice(3)]).code).toBe(0);
});

test("hairpin -A: the joiner reaches the peer through the LB address, from its own address", () => {
  expect(hairpin(joiner, "-A")).toEqual({ code: 0, output: "" });
  expect(natRules(joiner)).toHaveLength(2);
  expect(callLoadBalancer(joiner)).toBe(`peer saw ${JOINER}`);
  // Idempotent: a retried join adds nothing.
  expect(hairpin(joiner, "-A").code).toBe(0);
  expect(natRules(joiner)).toHaveLength(2);
});

test("hairpin -D removes both rules: the LB address is the joiner's own again", () => {
  expect(hairpin(joiner, "-D")).toEqual({ code: 0, output: "" });
  expect(natRules(joiner)).toEqual([]);
  expect(callLoadBalancer(joiner)).toBe("curl exit 7");
  expect(hairpin(joiner, "-D").code).toBe(0);
});
