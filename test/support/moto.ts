/**
 * A moto server (AWS API emulator) for apply tests: started on a free 127.0.0.1 port in its own
 * process group and killed by `stop()`; plus boto3 calls against it and the Terraform override that
 * points the AWS provider at it (so the synthesized stack itself stays production-shaped).
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { freePort } from "./net";

export const MOTO_REGION = "eu-west-1";
export const MOTO_CREDENTIALS = { AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing", AWS_DEFAULT_REGION: MOTO_REGION } as const;

/** The services the AWS stacks use, by their Terraform `endpoints` keys. */
export const MOTO_SERVICES = ["ec2", "elbv2", "elb", "autoscaling", "iam", "sts", "secretsmanager", "ssm", "s3"] as const;

export interface MotoServer {
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** Output so far (its last 20,000 characters, for failure messages). */
  log(): string;
  /** Request-log lines so far of these API actions (e.g. "CreateLaunchTemplateVersion"). */
  requests(actions: readonly string[]): string[];
  stop(): Promise<void>;
}

/** The project's test venv (scripts/setup.sh makes it from requirements-test.txt). */
export const TEST_VENV = path.resolve(__dirname, "..", "..", ".venv-test");
const REQUIREMENTS = path.resolve(__dirname, "..", "..", "requirements-test.txt");
/** moto's server with a request log (one line per API call): see moto_server.py. */
const MOTO_SERVER_SCRIPT = path.join(__dirname, "moto_server.py");

/**
 * The venv's python, if the venv was made from the requirements file as it is now: never a moto or
 * boto3 from the PATH, whose version nobody pinned. Otherwise a message naming the fix.
 */
export function testPython(): { python: string } | { missing: string } {
  const python = path.join(TEST_VENV, "bin", "python");
  const stamp = path.join(TEST_VENV, ".requirements-sha256");
  const fix = "Run `bash scripts/setup.sh` (it installs the pinned moto and boto3 of requirements-test.txt into .venv-test/).";
  if (!fs.existsSync(python) || !fs.existsSync(stamp)) return { missing: `The test venv ${TEST_VENV} is missing or incomplete. ${fix}` };
  const want = crypto.createHash("sha256").update(fs.readFileSync(REQUIREMENTS)).digest("hex");
  if (fs.readFileSync(stamp, "utf8").trim() !== want) return { missing: `The test venv ${TEST_VENV} was made from another requirements-test.txt. ${fix}` };
  return { python };
}

/** How to start moto here, or a message saying why it cannot be. */
export function motoCommand(): { command: string; args: string[] } | { missing: string } {
  const venv = testPython();
  if ("missing" in venv) return venv;
  return { command: venv.python, args: [MOTO_SERVER_SCRIPT] };
}

/** The request-log lines (see moto_server.py) of these actions, e.g. for a failure message. */
export function motoRequests(log: string, actions: readonly string[]): string[] {
  return log.split("\n").filter((l) => {
    const m = /^moto-request #\d+ \S+ \S+ (\S+)/.exec(l);
    return m !== null && actions.includes(m[1]);
  });
}

function ping(endpoint: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(`${endpoint}/moto-api/`, (res) => {
      res.resume();
      resolve(true);
    });
    req.on("error", () => resolve(false));
    req.setTimeout(2000, () => {
      req.destroy();
      resolve(false);
    });
  });
}

export async function startMoto(timeoutMs = 60_000): Promise<MotoServer> {
  const how = motoCommand();
  if ("missing" in how) throw new Error(how.missing);
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  // Output to a file, not a pipe: tests block in spawnSync (terraform) for minutes, and a pipe
  // nobody drains fills up and stalls moto in the middle of a request.
  // CDKTF_KUBEADM_MOTO_LOG_DIR=<dir> keeps the log there after the run (to read every request).
  const keepDir = process.env.CDKTF_KUBEADM_MOTO_LOG_DIR;
  if (keepDir) fs.mkdirSync(keepDir, { recursive: true });
  const logFile = path.join(fs.mkdtempSync(path.join(keepDir ?? os.tmpdir(), "moto-")), "moto.log");
  const logFd = fs.openSync(logFile, "a", 0o600);
  const child: ChildProcess = spawn(how.command, [...how.args, "-H", "127.0.0.1", "-p", String(port)], {
    detached: true, // own process group: stop() kills moto and anything it forked, nothing else
    stdio: ["ignore", logFd, logFd],
    env: { ...process.env, ...MOTO_CREDENTIALS },
  });
  fs.closeSync(logFd);
  const fullOutput = (): string => {
    try {
      return fs.readFileSync(logFile, "utf8");
    } catch {
      return "";
    }
  };
  const output = (): string => fullOutput().slice(-20_000);
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => child.on("exit", () => ((exited = true), resolve())));

  const stop = async (): Promise<void> => {
    if (exited || child.pid === undefined) return;
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      return;
    }
    // Clear the grace timer once moto is gone: a pending 5 s timer alone keeps Jest from exiting.
    let grace: NodeJS.Timeout | undefined;
    const killed = await Promise.race([exitedPromise.then(() => true), new Promise<boolean>((r) => (grace = setTimeout(() => r(false), 5000)))]);
    clearTimeout(grace);
    if (!killed) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
      await exitedPromise;
    }
    if (!keepDir) fs.rmSync(path.dirname(logFile), { recursive: true, force: true });
  };

  const deadline = Date.now() + timeoutMs;
  while (!(await ping(endpoint))) {
    if (exited) throw new Error(`moto exited before answering on ${endpoint}:\n${output()}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`moto did not answer on ${endpoint} within ${timeoutMs} ms:\n${output()}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { endpoint, port, pid: child.pid!, log: output, requests: (actions) => motoRequests(fullOutput(), actions), stop };
}

/** Terraform override (`*_override.tf.json`) pointing the "aws" provider at moto. */
export function motoProviderOverride(endpoint: string): object {
  return {
    provider: {
      aws: [
        {
          access_key: MOTO_CREDENTIALS.AWS_ACCESS_KEY_ID,
          secret_key: MOTO_CREDENTIALS.AWS_SECRET_ACCESS_KEY,
          skip_credentials_validation: true,
          skip_requesting_account_id: true,
          skip_metadata_api_check: true,
          skip_region_validation: true,
          // moto serves buckets at <endpoint>/<bucket>, not at <bucket>.<endpoint>
          s3_use_path_style: true,
          endpoints: [Object.fromEntries(MOTO_SERVICES.map((s) => [s, endpoint]))],
        },
      ],
    },
  };
}

export function writeMotoOverride(stackDir: string, endpoint: string): string {
  const file = path.join(stackDir, "moto_override.tf.json");
  fs.writeFileSync(file, `${JSON.stringify(motoProviderOverride(endpoint), null, 2)}\n`);
  return file;
}

export interface BotoCall {
  readonly service: string;
  readonly operation: string;
  readonly params?: Record<string, unknown>;
  /** Use the operation's paginator and merge this result key. */
  readonly paginateKey?: string;
}

const BOTO_SCRIPT = `
import base64, json, sys, boto3
calls = json.load(sys.stdin)
endpoint, region = sys.argv[1], sys.argv[2]
out = []
for c in calls:
    client = boto3.client(c["service"], endpoint_url=endpoint, region_name=region,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    params = c.get("params") or {}
    if c.get("paginateKey"):
        items = []
        for page in client.get_paginator(c["operation"]).paginate(**params):
            items.extend(page.get(c["paginateKey"], []))
        out.append({c["paginateKey"]: items})
    else:
        r = getattr(client, c["operation"])(**params)
        r.pop("ResponseMetadata", None)
        if hasattr(r.get("Body"), "read"):
            r["Body"] = base64.b64encode(r["Body"].read()).decode()  # get_object: the content, base64
        out.append(r)
print(json.dumps(out, default=str))
`;

/** Runs boto3 calls against moto (one python process for the batch); returns their responses. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function boto(endpoint: string, calls: BotoCall[]): any[] {
  const venv = testPython();
  if ("missing" in venv) throw new Error(venv.missing);
  const r = spawnSync(venv.python, ["-c", BOTO_SCRIPT, endpoint, MOTO_REGION], {
    input: JSON.stringify(calls),
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`boto3 calls failed (${r.status}): ${r.stderr}${r.error ?? ""}`);
  return JSON.parse(r.stdout);
}

/**
 * Terraform override for moto's known read-back differences from EC2, so `terraform plan` right
 * after apply is judged on our configuration, not on the emulator (moto 5.x):
 * - launch templates: CreateLaunchTemplate copies the template's own tags into the version's
 *   TagSpecifications as resource type "launch-template" (moto/ec2/responses/launch_templates.py);
 *   EC2 keeps them apart, so the provider would plan a new version every time.
 * - security group rules referencing a group: moto returns ReferencedGroupInfo as
 *   "<account>/<sg-id>" and drops the rule's description (it keeps descriptions on CIDR ranges only).
 * Only those arguments of only those resources are ignored; everything else must plan clean.
 */
export function motoQuirkOverrides(stackJson: { resource?: Record<string, Record<string, Record<string, unknown>>> }): object {
  const resource: Record<string, Record<string, object>> = {};
  const ignore = (type: string, id: string, attributes: string[]) => {
    (resource[type] ??= {})[id] = { lifecycle: { ignore_changes: attributes } };
  };
  for (const id of Object.keys(stackJson.resource?.aws_launch_template ?? {})) ignore("aws_launch_template", id, ["tag_specifications"]);
  for (const type of ["aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"]) {
    for (const [id, rule] of Object.entries(stackJson.resource?.[type] ?? {})) {
      if (rule.referenced_security_group_id !== undefined) ignore(type, id, ["referenced_security_group_id", "description"]);
    }
  }
  return { resource };
}
