/**
 * `npm run bench`: PKI generation next to openssl, synth time of a reference cluster, and the
 * gzipped user-data size of every node role against its goal and platform limit.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { performance } from "perf_hooks";
import { App, TerraformStack } from "cdktf";
import { resolveCluster } from "../src/bootstrap/resolve-cluster";
import { USER_DATA_LIMITS } from "../src/bootstrap/user-data-budget";
import { KubeadmCluster } from "../src/constructs/kubeadm-cluster";
import { SECRET_BUNDLE_LIMIT, SecretAudience, SecretSource } from "../src/bootstrap/secret-bundle";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { AwsKubeadmCluster } from "../src/constructs/aws";
import { benchPki } from "./bench-pki";

const GOALS = { "control-plane": 8192, worker: 4096 };

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** What AWS nodes get by default: the secrets in Secrets Manager, user data with references only. */
const AWS_SECRETS: Record<SecretAudience, SecretSource> = {
  "control-plane": { kind: "aws-secretsmanager", secretId: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:bench/bootstrap/control-plane-20261201000000000000000001-AbCdEf", region: "eu-west-1" },
  worker: { kind: "aws-secretsmanager", secretId: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:bench/bootstrap/worker-20261201000000000000000002-GhIjKl", region: "eu-west-1" },
};

function synthOnce(pkiDirectory: string, secrets?: Record<SecretAudience, SecretSource>): KubeadmCluster {
  const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), "bench-out-")) });
  const stack = new TerraformStack(app, "bench");
  const cluster = resolveCluster(
    {
      name: "bench",
      kubernetesVersion: "1.36.4",
      controlPlane: { replicas: 3, apiServerExtraArgs: { "audit-log-maxage": "30" } },
      nodePools: [
        { name: "general", minSize: 2, maxSize: 20, labels: { "example.com/tier": "general" } },
        { name: "gpu", maxSize: 4, taints: [{ key: "nvidia.com/gpu", effect: "NoSchedule" }] },
        { name: "spot", maxSize: 30 },
      ],
      proxy: { httpsProxy: "http://proxy.corp.example:3128", noProxy: [".corp.example"] },
    },
    { platform: "aws", nodeCidrs: ["10.0.0.0/16"] },
  );
  const kc = new KubeadmCluster(stack, "cluster", {
    cluster,
    controlPlaneEndpointHost: "bench-api-0123456789abcdef.elb.eu-west-1.amazonaws.com",
    userDataLimit: USER_DATA_LIMITS.aws,
    pkiDirectory,
    secrets,
    // AWS nodes read the desired version from SSM (the control plane's upgrade agent)
    upgradeChannel: secrets ? { kind: "aws-ssm", parameterName: "/cdktf-kubeadm/bench/kubernetes-version", region: "eu-west-1" } : undefined,
  });
  for (const role of kc.roles()) kc.userDataBase64Gzip(role);
  app.synth();
  return kc;
}

/** One in-process synth of an AWS cluster with `pools` worker pools (the store reused), in ms. */
export function awsSynthMs(pkiDirectory: string, pools: number): number {
  const start = performance.now();
  const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), "bench-aws-")) });
  const stack = new TerraformStack(app, "bench");
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  new AwsKubeadmCluster(stack, "bench", {
    kubernetesVersion: "1.36.4",
    controlPlane: { replicas: 3 },
    nodePools: Array.from({ length: pools }, (_, i) => ({ name: `pool-${i}`, minSize: 1, maxSize: 10 })),
    pkiDirectory,
  });
  app.synth();
  const elapsed = performance.now() - start;
  fs.rmSync(app.outdir, { recursive: true, force: true });
  return elapsed;
}

function benchPools(): string[] {
  const pkiDirectory = fs.mkdtempSync(path.join(os.tmpdir(), "bench-aws-pki-"));
  awsSynthMs(pkiDirectory, 1); // creates the store; warms the module cache
  const runs = (pools: number) => median(Array.from({ length: 5 }, () => awsSynthMs(pkiDirectory, pools)));
  const one = runs(1);
  const twenty = runs(20);
  fs.rmSync(pkiDirectory, { recursive: true, force: true });
  return [
    `AWS synth in process, 3 control-plane slots: 1 pool ${one.toFixed(0)} ms, 20 pools ${twenty.toFixed(0)} ms: ${((twenty - one) / 19).toFixed(1)} ms per pool (budget 10)`,
  ];
}

async function main(): Promise<void> {
  for (const line of benchPools()) console.log(line);
  for (const line of await benchPki()) console.log(line);

  const pkiDirectory = fs.mkdtempSync(path.join(os.tmpdir(), "bench-pki-"));
  synthOnce(pkiDirectory); // first synth generates the PKI store; later ones reuse it
  const times: number[] = [];
  let kc: KubeadmCluster | undefined;
  for (let i = 0; i < 7; i++) {
    const start = performance.now();
    kc = synthOnce(pkiDirectory);
    times.push(performance.now() - start);
  }
  console.log(`synth (reference cluster: 3 control-plane slots, 3 pools, store reused): median ${median(times).toFixed(1)} ms over ${times.length} runs`);
  const aws = synthOnce(pkiDirectory, AWS_SECRETS);
  for (const audience of ["control-plane", "worker"] as const) {
    const bytes = Buffer.byteLength(aws.secretBundle(audience));
    console.log(`secret bundle ${audience.padEnd(13)} ${String(bytes).padStart(6)} B  limit ${SECRET_BUNDLE_LIMIT} (${Math.round((bytes / SECRET_BUNDLE_LIMIT) * 100)}%)`);
  }
  for (const [label, sizes] of [
    ["AWS default: loader in user data, script and secrets in Secrets Manager, SSM upgrade channel", aws.userDataSizes],
    ["secrets in user data (secretStore disabled, bare metal)", kc!.userDataSizes],
  ] as const) {
    console.log(`user data after gzip, ${label} (goal / EC2 limit):`);
    for (const [role, bytes] of Object.entries(sizes)) {
      const goal = role.startsWith("control-plane") ? GOALS["control-plane"] : GOALS.worker;
      console.log(`  ${role.padEnd(20)} ${String(bytes).padStart(6)} B  goal ${goal} ${bytes <= goal ? "met" : "MISSED"}  limit ${USER_DATA_LIMITS.aws} (${Math.round((bytes / USER_DATA_LIMITS.aws) * 100)}%)`);
    }
  }
  fs.rmSync(pkiDirectory, { recursive: true, force: true });
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
