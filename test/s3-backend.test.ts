/**
 * The S3 backend the README recommends for the state (SSE-KMS, S3-native locking with
 * use_lockfile) really initializes and locks: the README's snippet is synthesized, then
 * `terraform init` and `apply` run against moto's S3 on 127.0.0.1, and the state object and its
 * lock file are read back from there.
 */
import * as fs from "fs";
import * as path from "path";
import { App, S3Backend, TerraformOutput, TerraformStack } from "cdktf";
import { boto, MOTO_CREDENTIALS, MotoServer, startMoto } from "./support/moto";
import { ENGINE_NAME, terraform } from "./support/terraform";
import { tempDir } from "./support/stack-json";

jest.setTimeout(300_000);

const README = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8");
const SNIPPET = README.match(/```ts\n(import \{ S3Backend \} from "cdktf";[\s\S]*?)```/)![1];
const BUCKET = "my-tf-state";
const KEY = "clusters/prod.tfstate";
const KMS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/3f8a7c2e-9b1d-4e6f-8a2c-5d7e9f1b3a4c";
const work = tempDir("s3-backend-");
let moto: MotoServer;
let stackDir: string;

beforeAll(async () => {
  moto = await startMoto();
  boto(moto.endpoint, [{ service: "s3", operation: "create_bucket", params: { Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: "eu-west-1" } } }]);
  // The README's snippet, statement for statement, in a stack with one output (so apply writes state).
  const app = new App({ outdir: path.join(work, "out") });
  const stack = new TerraformStack(app, "prod");
  new S3Backend(stack, { bucket: BUCKET, key: KEY, region: "eu-west-1", encrypt: true, kmsKeyId: KMS_KEY });
  stack.addOverride("terraform.backend.s3.use_lockfile", true);
  new TerraformOutput(stack, "answer", { value: "42" });
  app.synth();
  stackDir = path.join(work, "out", "stacks", "prod");
});

afterAll(async () => {
  await moto?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

test("the stack here is the README's snippet", () => {
  for (const piece of [`bucket: "${BUCKET}"`, `key: "${KEY}"`, 'region: "eu-west-1"', "encrypt: true", `kmsKeyId: "${KMS_KEY}"`, 'stack.addOverride("terraform.backend.s3.use_lockfile", true);']) {
    expect(SNIPPET).toContain(piece);
  }
  expect(JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8")).terraform.backend.s3).toEqual({
    bucket: BUCKET, key: KEY, region: "eu-west-1", encrypt: true, kms_key_id: KMS_KEY, use_lockfile: true,
  });
});

test(`${ENGINE_NAME} init and apply store the state in the bucket, SSE-KMS encrypted, under an S3 lock file`, () => {
  // moto instead of AWS: its endpoint and credentials; nothing else changes in the backend.
  const env = { ...MOTO_CREDENTIALS, AWS_ENDPOINT_URL_S3: moto.endpoint };
  const flags = ["use_path_style", "skip_credentials_validation", "skip_requesting_account_id", "skip_metadata_api_check", "skip_region_validation"]
    .map((f) => `-backend-config=${f}=true`);
  const init = terraform(stackDir, ["init", "-no-color", "-input=false", ...flags], env);
  expect({ status: init.status, out: init.status === 0 ? "" : init.stdout + init.stderr }).toEqual({ status: 0, out: "" });
  const apply = terraform(stackDir, ["apply", "-auto-approve", "-no-color"], env);
  expect({ status: apply.status, out: apply.status === 0 ? "" : apply.stdout + apply.stderr }).toEqual({ status: 0, out: "" });
  const [listed, head] = boto(moto.endpoint, [
    { service: "s3", operation: "list_objects_v2", params: { Bucket: BUCKET } },
    { service: "s3", operation: "head_object", params: { Bucket: BUCKET, Key: KEY } },
  ]);
  expect(listed.Contents.map((o: { Key: string }) => o.Key)).toEqual([KEY]); // the lock file is gone again
  expect(head).toMatchObject({ ServerSideEncryption: "aws:kms", SSEKMSKeyId: KMS_KEY });
  // apply took the lock: a conditional PUT of <key>.tflock, then its DELETE
  const log = moto.log();
  const lockFile = `/${BUCKET}/${KEY}.tflock?`;
  expect(log).toContain(`PUT ${lockFile}`);
  expect(log).toContain(`DELETE ${lockFile}`);
});
