/**
 * The API reference (npm run docs:api: typedoc over the four entry points, from the TSDoc) builds
 * without a warning (broken {@link}s, unknown tags fail it) and documents what users look up:
 * each platform construct, its props with their @default values.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { tempDir } from "./support/stack-json";

const ROOT = path.join(__dirname, "..");
const out = tempDir("api-docs-");
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

const text = (page: string) => fs.readFileSync(path.join(out, page), "utf8").replace(/<[^>]+>/g, " ").replace(/\s+/g, " ");

test("typedoc builds the reference with warnings as errors", () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, "node_modules", "typedoc", "bin", "typedoc"), "--out", out], { cwd: ROOT, encoding: "utf8", timeout: 300_000 });
  expect(`${r.stdout}${r.stderr}`).not.toMatch(/\[warning\]|\[error\]/);
  expect(r.status).toBe(0);
  for (const construct of ["constructs_aws.AwsKubeadmCluster", "constructs_gce.GceKubeadmCluster", "constructs_baremetal.BaremetalKubeadmCluster", "index.KubeadmCluster"]) {
    expect(fs.existsSync(path.join(out, "classes", `${construct}.html`))).toBe(true);
  }
  expect(text("interfaces/constructs_aws.AwsApiLoadBalancerOptions.html")).toMatch(/closedToClients \?: boolean Accept an internet-facing load balancer .* Default false/);
  expect(text("interfaces/constructs_aws.AwsKubeadmClusterProps.html")).toMatch(/requireExistingPkiStore/);
  expect(text("interfaces/index.ClusterSpec.html")).toMatch(/kubernetesVersion/);
});
