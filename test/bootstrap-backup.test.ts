/**
 * The etcd backup agent (`cdktf-kubeadm-bootstrap backup`, control-plane nodes, systemd timer) in
 * the stub harness: its timer, the uploads to an S3 or GCS bucket (SigV4 with the instance role's
 * IMDSv2 credentials; a GCS media upload that never replaces an object), the hourly and daily
 * copies decided from the status ConfigMap, and every failure's one line. The snapshot, its check,
 * the directory target, the Lease and the ConfigMap against real etcd and a real API server:
 * test/real-control-plane.test.ts ("etcd backups").
 */
import * as fs from "fs";
import { EtcdBackup } from "../src/bootstrap/etcd-backup";
import {
  BACKUP_SEAMS, BootstrapRun, createNodeRoot, failCommand, inRoot, NodeOptions, NodeRoot, readCalls, readLog, removeNodeRoot, resetCalls,
  runBootstrap, serveBackupBucket, setControl, setLease,
} from "./harness";

const nodes: NodeRoot[] = [];
afterAll(() => nodes.forEach(removeNodeRoot));

const SNAPSHOT = "stub etcd snapshot";
const ETCD_IMAGE = "registry.k8s.io/etcd:3.6.8-0";
const RETENTION = { intervalMinutes: 15, recentHours: 24, hourlyDays: 7, dailyDays: 90 };
const S3: EtcdBackup = { target: { kind: "aws-s3", bucket: "prod-etcd-backups", prefix: "etcd/", region: "eu-west-1" }, ...RETENTION };
const GCS: EtcdBackup = { target: { kind: "gce-gcs", bucket: "prod-etcd-backups", prefix: "etcd/" }, ...RETENTION };

/** A bootstrapped control-plane node with the backup agent. */
function controlPlane(backup: EtcdBackup, opts: NodeOptions = {}): NodeRoot {
  const n = createNodeRoot({ role: "control-plane", backup, ...opts });
  nodes.push(n);
  expect(runBootstrap(n).lastLine).toMatch(/bootstrap succeeded$/);
  // what kubeadm init writes (the stub's does not): the etcd static Pod, whose image the agent runs
  fs.writeFileSync(inRoot(n, "/etc/kubernetes/manifests/etcd.yaml"), `apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - command:\n    - etcd\n    image: ${ETCD_IMAGE}\n    name: etcd\n`);
  resetCalls(n);
  return n;
}
const agent = (n: NodeRoot): BootstrapRun => runBootstrap(n, BACKUP_SEAMS, ["backup"]);
const uploads = (n: NodeRoot) => readCalls(n).filter((c) => c.startsWith("curl") && c.includes(" -T ")).map((c) => c.split(" ").find((a) => /^https:\/\/(s3|storage)\.stub/.test(a)));
const statusMap = (n: NodeRoot): Record<string, string> => JSON.parse(fs.readFileSync(`${n.ctl}/cm-cdktf-kubeadm-etcd-backup.json`, "utf8")).data;
const STAMP = /\d{8}T\d{6}Z/;

function expectFailure(r: BootstrapRun, step: string, reason: RegExp): void {
  expect(r.code).not.toBe(0);
  expect(r.lastLine.startsWith(`cdktf-kubeadm backup FAILED in step ${step}: `)).toBe(true);
  expect(r.lastLine.endsWith(". Log: /var/log/cdktf-kubeadm-backup.log")).toBe(true);
  expect(r.lastLine).toMatch(reason);
  expect(r.output.match(/FAILED/g)).toHaveLength(1);
}

describe("the backup timer", () => {
  test("control-plane nodes with a target run the agent every interval; without one, and on workers, there is none", () => {
    const n = controlPlane({ ...S3, intervalMinutes: 30 });
    expect(fs.readFileSync(inRoot(n, "/etc/systemd/system/cdktf-kubeadm-backup.timer"), "utf8")).toMatch(/OnBootSec=30min\nOnUnitActiveSec=30min\n/);
    expect(fs.readFileSync(inRoot(n, "/etc/systemd/system/cdktf-kubeadm-backup.service"), "utf8")).toContain("ExecStart=/usr/local/sbin/cdktf-kubeadm-bootstrap backup");
    const plain = createNodeRoot({ role: "control-plane" });
    const worker = createNodeRoot({ role: "worker", apiUp: ["*"] });
    nodes.push(plain, worker);
    expect(runBootstrap(plain).code).toBe(0);
    expect(fs.existsSync(inRoot(plain, "/etc/systemd/system/cdktf-kubeadm-backup.timer"))).toBe(false);
    expect(fs.readFileSync(plain.script, "utf8")).not.toMatch(/etcdctl snapshot|bput_/);
    expect(runBootstrap(plain, {}, ["backup"]).output).toContain("this node has no backup agent (no UPGRADE_CHANNEL or BACKUP_TARGET): nothing to do");
    expect(runBootstrap(worker).code).toBe(0);
    const r = runBootstrap(worker, {}, ["backup"]);
    expect(r.code).not.toBe(0);
    expect(r.lastLine).toMatch(/'backup' runs on control-plane nodes only/);
  });

  test("a BACKUP_TARGET the copy has no code for, or an unknown one, is refused with the setting named", () => {
    const n = controlPlane(S3);
    for (const [target, reason] of [["gce-gcs", /cannot store backups in BACKUP_TARGET 'gce-gcs'/], ["ftp", /BACKUP_TARGET 'ftp' is not one of file, aws-s3, gce-gcs/]] as const) {
      const settings = fs.readFileSync(inRoot(n, "/etc/cdktf-kubeadm/bootstrap.env"), "utf8");
      fs.writeFileSync(inRoot(n, "/etc/cdktf-kubeadm/bootstrap.env"), settings.replace(/^BACKUP_TARGET=.*$/m, `BACKUP_TARGET='${target}'`));
      expectFailure(agent(n), "backup", reason);
      fs.writeFileSync(inRoot(n, "/etc/cdktf-kubeadm/bootstrap.env"), settings);
    }
  });
});

describe("S3", () => {
  test("the first run stores recent, hourly and daily copies with PutObject, SigV4-signed with the instance role and the payload's sha256; the ConfigMap records it", () => {
    const n = controlPlane(S3);
    const secrets = serveBackupBucket(n, SNAPSHOT);
    const r = agent(n);
    expect(r.code).toBe(0);
    const put = uploads(n);
    expect(put).toEqual([
      expect.stringMatching(new RegExp(`^https://s3\\.stub/prod-etcd-backups/etcd/recent/etcd-${STAMP.source}\\.db$`)),
      expect.stringMatching(/^https:\/\/s3\.stub\/prod-etcd-backups\/etcd\/hourly\/etcd-\d{8}T\d\d\.db$/),
      expect.stringMatching(/^https:\/\/s3\.stub\/prod-etcd-backups\/etcd\/daily\/etcd-\d{8}\.db$/),
    ]);
    const last = JSON.parse(statusMap(n).lastSnapshot);
    expect(last).toEqual({ time: expect.any(String), node: n.settings.NODE_NAME, revision: 4242, sizeBytes: 2461696, hash: 3135210123, location: put[0]!.replace("https://s3.stub/", "s3://") });
    expect(statusMap(n)).toMatchObject({ lastHourly: put[1]!.match(/etcd-(\d{8}T\d\d)\.db$/)![1], lastDaily: put[2]!.match(/etcd-(\d{8})\.db$/)![1], lastError: "" });
    // credentials travel on stdin (curl -K -), never on a command line or into the log
    for (const secret of secrets.values) {
      expect(readCalls(n).join("\n")).not.toContain(secret);
      expect(readLog(n)).not.toContain(secret);
    }
    // the scratch copy is gone, the Lease is this node's for two intervals
    expect(fs.existsSync(inRoot(n, "/var/lib/cdktf-kubeadm/etcd-backup"))).toBe(false);
    const lease = JSON.parse(fs.readFileSync(`${n.ctl}/lease`, "utf8"));
    expect(lease.metadata.name).toBe("cdktf-kubeadm-etcd-backup");
    expect(lease.spec).toMatchObject({ holderIdentity: n.settings.NODE_NAME, leaseDurationSeconds: 1800 });
  });

  test("the next run within the hour stores only the recent copy", () => {
    const n = controlPlane(S3);
    serveBackupBucket(n, SNAPSHOT);
    expect(agent(n).code).toBe(0);
    resetCalls(n);
    expect(agent(n).code).toBe(0);
    expect(uploads(n)).toEqual([expect.stringMatching(/\/etcd\/recent\/etcd-\d{8}T\d{6}Z\.db$/)]);
  });

  test("a denied upload is retried, then fails in one line naming the bucket and the IAM fix; the ConfigMap shows it, the Lease is let go", () => {
    const n = controlPlane(S3);
    serveBackupBucket(n, SNAPSHOT, 403);
    const r = agent(n);
    expectFailure(r, "store", /cannot store the snapshot as s3:\/\/prod-etcd-backups\/etcd\/recent\/etcd-\d{8}T\d{6}Z\.db: the instance role \S+ may not s3:PutObject into s3:\/\/prod-etcd-backups\/etcd: check its IAM policy and the bucket policy/);
    expect(uploads(n).length).toBeGreaterThan(1);
    expect(statusMap(n).lastError).toMatch(new RegExp(`^\\S+ ${n.settings.NODE_NAME}, step store: cannot store the snapshot`));
    expect(statusMap(n).lastSnapshot).toBeUndefined();
    expect(JSON.parse(fs.readFileSync(`${n.ctl}/lease`, "utf8")).spec.holderIdentity).toBeUndefined();
    expect(fs.existsSync(inRoot(n, "/var/lib/cdktf-kubeadm/etcd-backup"))).toBe(false);
  });

  test("a snapshot etcdutl refuses is never uploaded", () => {
    const n = controlPlane(S3);
    serveBackupBucket(n, SNAPSHOT);
    failCommand(n, "etcdutl snapshot status", 1, "Error: snapshot file integrity check failed");
    expectFailure(agent(n), "check", /etcdutl snapshot status refuses the snapshot \(not stored\)/);
    expect(uploads(n)).toEqual([]);
  });

  test("while another control-plane node holds the Lease, nothing is taken", () => {
    const n = controlPlane(S3);
    serveBackupBucket(n, SNAPSHOT);
    setLease(n, "prod-cp-1", 0, 1800);
    const r = agent(n);
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/prod-cp-1 holds the backup Lease for \d+s more/);
    expect(readCalls(n).filter((c) => c.startsWith("ctr"))).toEqual([]);
  });
});

describe("GCS", () => {
  test("objects are created with the service account's token and ifGenerationMatch=0 (never replaced); 412 means it is there already", () => {
    const n = controlPlane(GCS);
    serveBackupBucket(n, SNAPSHOT);
    expect(agent(n).code).toBe(0);
    expect(uploads(n)).toEqual([
      expect.stringMatching(/^https:\/\/storage\.stub\/upload\/storage\/v1\/b\/prod-etcd-backups\/o\?uploadType=media&ifGenerationMatch=0&name=etcd%2Frecent%2Fetcd-\d{8}T\d{6}Z\.db$/),
      expect.stringMatching(/name=etcd%2Fhourly%2Fetcd-\d{8}T\d\d\.db$/),
      expect.stringMatching(/name=etcd%2Fdaily%2Fetcd-\d{8}\.db$/),
    ]);
    expect(JSON.parse(statusMap(n).lastSnapshot).location).toMatch(/^gs:\/\/prod-etcd-backups\/etcd\/recent\/etcd-\d{8}T\d{6}Z\.db$/);
    // the status ConfigMap lost: the hourly copy exists already, GCS answers 412
    fs.rmSync(`${n.ctl}/cm-cdktf-kubeadm-etcd-backup.json`);
    serveBackupBucket(n, SNAPSHOT, 412);
    expect(agent(n).code).toBe(0);
  });

  test("a snapshot the agent cannot take fails in the snapshot step with the fix", () => {
    const n = controlPlane(GCS);
    serveBackupBucket(n, SNAPSHOT);
    failCommand(n, "etcdctl", 1, "Error: context deadline exceeded");
    expectFailure(agent(n), "snapshot", /etcdctl snapshot save failed: check this node's etcd \(crictl ps --name etcd; crictl logs\)/);
    expect(uploads(n)).toEqual([]);
  });
});

test("the snapshot's content is what is uploaded (its digest is signed and checked)", () => {
  const n = controlPlane(S3);
  setControl(n, "snapshot", "another snapshot");
  serveBackupBucket(n, SNAPSHOT);
  // the bucket wants the digest of SNAPSHOT: a different payload is refused (401 from the stub)
  expect(agent(n).code).not.toBe(0);
  serveBackupBucket(n, "another snapshot");
  expect(agent(n).code).toBe(0);
});

describe("restore (RESTORE_SNAPSHOT on control-plane slot 0)", () => {
  const SNAPSHOT_PATH = "/var/lib/cdktf-kubeadm/etcd-backups/daily/etcd-20261206.db";
  function restoringNode(snapshot: string, opts: NodeOptions = {}): NodeRoot {
    const n = createNodeRoot({ role: "control-plane", restore: snapshot, ...opts });
    nodes.push(n);
    return n;
  }

  test("no API server answers: the snapshot is restored into /var/lib/etcd, then kubeadm init keeps it", () => {
    const n = restoringNode(SNAPSHOT_PATH);
    fs.mkdirSync(inRoot(n, "/var/lib/cdktf-kubeadm/etcd-backups/daily"), { recursive: true });
    fs.writeFileSync(inRoot(n, SNAPSHOT_PATH), SNAPSHOT);
    const r = runBootstrap(n);
    expect(r.lastLine).toMatch(/bootstrap succeeded$/);
    const calls = readCalls(n);
    const restore = calls.findIndex((c) => c.startsWith("ctr") && c.includes("etcdutl snapshot restore"));
    const init = calls.findIndex((c) => c.startsWith("kubeadm init"));
    expect(restore).toBeGreaterThan(-1);
    expect(init).toBeGreaterThan(restore);
    expect(calls[init]).toContain("--ignore-preflight-errors=DirAvailable--var-lib-etcd");
    expect(calls[restore]).toMatch(/ registry\.k8s\.io\/etcd:3\.6\.8-0 cdktf-kubeadm-etcd-\d+ etcdutl snapshot restore \S+\/snapshot\.db --data-dir \S+\/etcd --name \S+ --initial-cluster \S+=https:\/\/[\d.]+:2380 --initial-advertise-peer-urls https:\/\/[\d.]+:2380$/);
    expect(r.output).toMatch(/restored etcd from \/var\/lib\/cdktf-kubeadm\/etcd-backups\/daily\/etcd-20261206\.db \(revision 4242\)/);
  });

  test("an API server answers (the cluster runs): slot 0 joins it, nothing is restored", () => {
    const n = restoringNode(SNAPSHOT_PATH, { apiUp: ["*"] });
    expect(runBootstrap(n).lastLine).toMatch(/bootstrap succeeded$/);
    const calls = readCalls(n);
    expect(calls.some((c) => c.includes("snapshot restore"))).toBe(false);
    expect(calls.some((c) => c.startsWith("kubeadm join"))).toBe(true);
  });

  test("a missing snapshot fails in the cluster step, naming the path and the fix; nothing is initialized", () => {
    const n = restoringNode("/var/lib/cdktf-kubeadm/missing.db");
    const r = runBootstrap(n);
    expect(r.lastLine).toMatch(/^cdktf-kubeadm bootstrap FAILED in step cluster: cannot read \/var\/lib\/cdktf-kubeadm\/missing\.db: copy the snapshot to this path on the node\./);
    expect(readCalls(n).some((c) => c.startsWith("kubeadm init"))).toBe(false);
  });
});
