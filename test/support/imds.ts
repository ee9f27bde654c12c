/**
 * A double of the EC2 instance metadata service (IMDSv2) for the scripts' real curl: a session
 * token for `PUT /latest/api/token`, then, only with that token, an instance role and its
 * credentials (a role session moto's STS made). A Python process on 127.0.0.1: the tests call the scripts
 * with spawnSync, which blocks Node's own event loop.
 */
import { spawn, spawnSync } from "child_process";
import { freePort } from "./net";

const SERVER = `
import http.server, json, sys
TOKEN = "imds-double-token"
ROLE, KEY, SECRET, SESSION = sys.argv[2:6]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def answer(self, code, body):
        self.send_response(code); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body.encode())
    def do_PUT(self):
        if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"): self.answer(200, TOKEN)
        else: self.answer(400, "")
    def do_GET(self):
        if self.headers.get("X-aws-ec2-metadata-token") != TOKEN: return self.answer(401, "")
        if self.path == "/latest/meta-data/iam/security-credentials/": return self.answer(200, ROLE + "\\n")
        if self.path == "/latest/meta-data/iam/security-credentials/" + ROLE:
            return self.answer(200, json.dumps({"Code": "Success", "AccessKeyId": KEY, "SecretAccessKey": SECRET, "Token": SESSION, "Expiration": "2030-01-01T00:00:00Z"}))
        self.answer(404, "")
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
`;

export interface ImdsDouble {
  readonly endpoint: string;
  stop(): void;
}

/** The instance role and its session credentials IMDS hands out. */
export interface InstanceRoleCredentials {
  readonly role: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly token: string;
}

export async function startImdsDouble(credentials: InstanceRoleCredentials): Promise<ImdsDouble> {
  const port = await freePort();
  const c = credentials;
  const child = spawn("python3", ["-c", SERVER, String(port), c.role, c.accessKeyId, c.secretAccessKey, c.token], { stdio: "ignore" });
  const endpoint = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (spawnSync("curl", ["-s", "-o", "/dev/null", "-X", "PUT", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60", `${endpoint}/latest/api/token`]).status === 0) break;
    spawnSync("sleep", ["0.1"]);
  }
  return { endpoint, stop: () => child.kill() };
}
