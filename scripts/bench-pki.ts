/**
 * PKI generation next to the openssl CLI making the same keys and certificates: three CAs, the
 * admin client certificate (key algorithm as configured) and the RSA-2048 service-account key.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { performance } from "perf_hooks";
import { generateClusterPki } from "../src/bootstrap/pki";
import type { KeyAlgorithm } from "../src/bootstrap/spec";

const RUNS = 9;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function timeIt(runs: number, fn: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    fn();
    times.push(performance.now() - start);
  }
  return median(times);
}

function opensslPki(dir: string, algorithm: KeyAlgorithm): void {
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  const newkey = algorithm === "ECDSA-P256" ? ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] : ["-newkey", "rsa:2048"];
  for (const cn of ["kubernetes", "front-proxy-ca", "etcd-ca"]) {
    run(["req", "-x509", ...newkey, "-nodes", "-keyout", `${cn}.key`, "-out", `${cn}.crt`, "-days", "3650", "-subj", `/CN=${cn}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign"]);
  }
  run(["req", "-new", ...newkey, "-nodes", "-keyout", "admin.key", "-out", "admin.csr", "-subj", "/O=kubeadm:cluster-admins/CN=kubernetes-admin"]);
  run(["x509", "-req", "-in", "admin.csr", "-CA", "kubernetes.crt", "-CAkey", "kubernetes.key", "-CAcreateserial", "-days", "365", "-out", "admin.crt"]);
  run(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key"]);
  run(["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
}

export async function benchPki(): Promise<string[]> {
  const lines: string[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-openssl-"));
  try {
    for (const algorithm of ["ECDSA-P256", "RSA-2048"] as const) {
      const options = { keyAlgorithm: algorithm, caValidityHours: 87600, certificateValidityHours: 8760 };
      generateClusterPki(options); // warm up (module load, JIT)
      const ours = timeIt(RUNS, () => generateClusterPki(options));
      const theirs = timeIt(RUNS, () => opensslPki(dir, algorithm));
      const ratio = ours / theirs;
      lines.push(
        `PKI generation ${algorithm.padEnd(10)}: ours ${ours.toFixed(1)} ms, openssl CLI ${theirs.toFixed(1)} ms, ratio ${ratio.toFixed(2)}x (goal <= 1.5x: ${ratio <= 1.5 ? "met" : "MISSED"}; median of ${RUNS}; RSA key generation time varies run to run)`,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}
