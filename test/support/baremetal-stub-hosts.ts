/**
 * Fake bare-metal hosts for the SSH end-to-end test: each one is a stub-harness node root
 * (test/harness) that is also the home directory of its own local account, served by its own
 * sshd on a loopback address. The construct's SSH delivery then runs the real bootstrap there
 * with BOOTSTRAP_ROOT=$HOME/root and the harness stubs first on PATH.
 */
import * as fs from "fs";
import * as path from "path";
import { createNodeRoot, NodeRoot, setApiUp, STUB_SCRIPT } from "../harness";
import { NODE_LAYOUT } from "../../src/bootstrap/node-layout";
import { createUser, KeyPair, SshServer, startSshd } from "./sshd";

export interface StubHostSpec {
  readonly name: string;
  readonly role: "control-plane" | "worker";
  readonly slot?: number;
  readonly pool?: string;
  /** Loopback address sshd listens on. */
  readonly address: string;
  /** Address on the (imaginary) cluster network. */
  readonly internalAddress: string;
}

export interface StubHost {
  readonly spec: StubHostSpec;
  readonly user: string;
  /** The harness node; node.dir is the account's home. */
  readonly node: NodeRoot;
  readonly server: SshServer;
}

/** What the remote commands need so the bootstrap runs against the stubs (cf. harness bootstrapEnv). */
export const STUB_REMOTE_ROOT = "$HOME/root";
export const STUB_COMMAND_PREFIX = [
  "env",
  "PATH=$HOME/bin:/usr/bin:/bin",
  "STUB_CTL=$HOME/ctl",
  "STUB_CALLS=$HOME/calls.log",
  "BOOTSTRAP_SLEEP=fake-sleep",
  "BOOTSTRAP_RETRIES=3",
  "BOOTSTRAP_WAIT_RETRIES=3",
  "BOOTSTRAP_PROBE_RETRIES=2",
  "LANG=C",
].join(" ");

/** Files the harness pre-places that the construct's payload must deliver instead. */
function removePayloadFiles(node: NodeRoot): void {
  for (const file of [NODE_LAYOUT.script, NODE_LAYOUT.settings, NODE_LAYOUT.initConfig, NODE_LAYOUT.joinConfig]) {
    fs.rmSync(path.join(node.root, file), { force: true });
  }
  fs.rmSync(path.join(node.root, NODE_LAYOUT.pkiDir), { recursive: true, force: true });
}

/**
 * A kubeadm stand-in in front of the harness stub: records a nanosecond timestamp per call (the
 * order across hosts) and what the kube-vip static pod looked like when init/join ran.
 */
function recordKubeadm(node: NodeRoot): void {
  const wrapper = path.join(node.bin, "kubeadm");
  fs.rmSync(wrapper, { force: true });
  fs.writeFileSync(
    wrapper,
    [
      "#!/usr/bin/env bash",
      'printf \'%s %s\\n\' "$(/bin/date +%s%N)" "$*" >>"$HOME/kubeadm-times.log"',
      'm=${BOOTSTRAP_ROOT:-}/etc/kubernetes/manifests/kube-vip.yaml',
      'if [[ ${1-} == init || ${1-} == join ]]; then',
      '  if [[ -f $m ]]; then cp "$m" "$HOME/kube-vip-at-$1.yaml"; else : >"$HOME/no-kube-vip-at-$1"; fi',
      "fi",
      `STUB_AS=kubeadm exec ${STUB_SCRIPT} "$@"`,
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
}

export function userName(prefix: string, host: StubHostSpec): string {
  return `${prefix}${host.name.replace(/[^a-z0-9]/g, "")}`.slice(0, 31);
}

export async function createStubHost(spec: StubHostSpec, port: number, user: string, key: KeyPair, sshdDir: string): Promise<StubHost> {
  const node = createNodeRoot({ role: spec.role, slot: spec.slot ?? 0, cni: "none" });
  removePayloadFiles(node);
  recordKubeadm(node);
  // Slot 0 finds no API server and inits; every other node finds one and joins.
  if (!(spec.role === "control-plane" && (spec.slot ?? 0) === 0)) setApiUp(node, ["*"]);
  createUser(user, node.dir, key.publicKey);
  const server = await startSshd(sshdDir, spec.address, port, user);
  return { spec, user, node, server };
}

/** kubeadm calls with their timestamps (ns), in order. */
export function kubeadmTimes(host: StubHost): { ns: bigint; args: string }[] {
  const file = path.join(host.node.dir, "kubeadm-times.log");
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => {
      const space = l.indexOf(" ");
      return { ns: BigInt(l.slice(0, space)), args: l.slice(space + 1) };
    });
}

export function inHome(host: StubHost, relative: string): string {
  return path.join(host.node.dir, relative);
}
