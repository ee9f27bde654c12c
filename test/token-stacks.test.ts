/**
 * The platform constructs build with shallow token creation stacks (src/constructs/token-stacks.ts)
 * and hand the process's stack formatting back afterwards, also when they refuse a spec.
 */
import * as fs from "fs";
import { Fn, TerraformStack, Testing, Tokenization } from "cdktf";
import { AwsKubeadmCluster } from "../src/constructs/aws";
import { shallowTokenStacks } from "../src/constructs/token-stacks";
import { baseProps, tempDir } from "./support/aws-fixtures";

const pki = tempDir("token-stacks-");
afterAll(() => fs.rmSync(pki, { recursive: true, force: true }));

test("a token made while shallow keeps its first 12 frames, unmapped; the previous formatter comes back", () => {
  const before = Error.prepareStackTrace;
  const restore = shallowTokenStacks();
  const nest = (depth: number): string => (depth === 0 ? Fn.upper("x") : nest(depth - 1));
  const token = nest(30);
  restore();
  expect(Error.prepareStackTrace).toBe(before);
  const [intrinsic] = Tokenization.reverseString(token).tokens as unknown as { creationStack: string[] }[];
  expect(intrinsic.creationStack.length).toBeGreaterThan(5);
  expect(intrinsic.creationStack.length).toBeLessThanOrEqual(12);
  expect(intrinsic.creationStack.join("\n")).toMatch(/token-stacks\.test\.ts/);
});

test("AwsKubeadmCluster restores the formatter after building, and after refusing a spec", () => {
  const before = Error.prepareStackTrace;
  new AwsKubeadmCluster(new TerraformStack(Testing.app(), "ok"), "prod", baseProps(pki));
  expect(Error.prepareStackTrace).toBe(before);
  expect(() => new AwsKubeadmCluster(new TerraformStack(Testing.app(), "bad"), "prod", baseProps(pki, { kubernetesVersion: "1.36" }))).toThrow(/kubernetesVersion/);
  expect(Error.prepareStackTrace).toBe(before);
});
