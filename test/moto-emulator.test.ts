/**
 * The emulator the apply tests run against: the pinned moto from the project venv, and EC2's
 * ClientToken idempotency that moto lacks (test/support/moto_server.py). Without it a provider
 * retry of CreateLaunchTemplateVersion (same token, the first answer lost) made an extra version,
 * which real EC2 does not: the day-2 upgrade test then saw version 3 where the plan made one update.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { boto, MotoServer, startMoto, TEST_VENV } from "./support/moto";

jest.setTimeout(120_000);

let moto: MotoServer;

beforeAll(async () => {
  moto = await startMoto();
});

afterAll(async () => {
  await moto?.stop();
});

test("moto and boto3 are the versions requirements-test.txt pins, from the project venv", () => {
  const pinned = Object.fromEntries(
    fs
      .readFileSync(path.join(__dirname, "..", "requirements-test.txt"), "utf8")
      .split("\n")
      .map((l) => /^(moto|boto3)==(\S+)/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
  expect(Object.keys(pinned).sort()).toEqual(["boto3", "moto"]);
  const cmdline = fs.readFileSync(`/proc/${moto.pid}/cmdline`, "utf8").split("\0");
  expect(cmdline[0]).toBe(path.join(TEST_VENV, "bin", "python"));
  const r = spawnSync(cmdline[0], ["-c", "import moto, boto3; print(moto.__version__, boto3.__version__)"], { encoding: "utf8" });
  expect(r.stdout.trim()).toBe(`${pinned.moto} ${pinned.boto3}`);
});

test("a repeated CreateLaunchTemplateVersion with the same ClientToken is answered with the first version, as EC2 does", () => {
  const data = (text: string) => ({ UserData: Buffer.from(text).toString("base64") });
  const [created] = boto(moto.endpoint, [{ service: "ec2", operation: "create_launch_template", params: { LaunchTemplateName: "idem", LaunchTemplateData: data("v1") } }]);
  const id = created.LaunchTemplate.LaunchTemplateId;
  const version = (token: string, text: string) => ({ service: "ec2", operation: "create_launch_template_version", params: { LaunchTemplateId: id, ClientToken: token, LaunchTemplateData: data(text) } });
  const answers = boto(moto.endpoint, [version("token-a", "v2"), version("token-a", "v2"), version("token-b", "v3")]);
  expect(answers.map((a) => a.LaunchTemplateVersion.VersionNumber)).toEqual([2, 2, 3]);
  const [{ LaunchTemplates: [template] }] = boto(moto.endpoint, [{ service: "ec2", operation: "describe_launch_templates", params: { LaunchTemplateIds: [id] } }]);
  expect(template.LatestVersionNumber).toBe(3);
  // The request log shows the repeat as replayed.
  const lines = moto.requests(["CreateLaunchTemplateVersion"]);
  expect(lines.map((l) => / -> 200( replayed #\d+)? /.exec(l)?.[1] !== undefined)).toEqual([false, true, false]);
  // The same token with other parameters is EC2's IdempotentParameterMismatch, and makes nothing.
  expect(() => boto(moto.endpoint, [version("token-a", "other")])).toThrow(/IdempotentParameterMismatch/);
  const [{ LaunchTemplates: [after] }] = boto(moto.endpoint, [{ service: "ec2", operation: "describe_launch_templates", params: { LaunchTemplateIds: [id] } }]);
  expect(after.LatestVersionNumber).toBe(3);
});
