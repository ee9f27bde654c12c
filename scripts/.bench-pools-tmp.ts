import * as fs from "fs"; import * as os from "os"; import * as path from "path";
import { App, TerraformStack, Testing } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { AwsKubeadmCluster } from "../src/constructs/aws";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bp-"));
for (const n of [1, 2]) {
  const stack = new TerraformStack(Testing.app(), "b"); new AwsProvider(stack, "aws", { region: "eu-west-1" });
  new AwsKubeadmCluster(stack, "bench", { kubernetesVersion: "1.36.4", controlPlane: { replicas: 3 }, nodePools: Array.from({ length: n }, (_, i) => ({ name: `pool-${i}`, minSize: 1, maxSize: 10 })), pkiDirectory: dir });
  const json = JSON.parse(Testing.synth(stack));
  const counts: Record<string, number> = {};
  for (const [t, r] of Object.entries(json.resource as Record<string, object>)) counts[t] = Object.keys(r).length;
  for (const [t, r] of Object.entries((json.data ?? {}) as Record<string, object>)) counts["data." + t] = Object.keys(r).length;
  console.log(n, JSON.stringify(counts));
}
