/**
 * Scheduled etcd snapshots taken on the control plane by the backup agent
 * (`cdktf-kubeadm-bootstrap backup`, a systemd timer on every control-plane node; the holder of
 * Lease kube-system/cdktf-kubeadm-etcd-backup takes them: src/bootstrap/bootstrap.sh). Each
 * snapshot is checked with `etcdutl snapshot status` before it is stored as
 * `recent/etcd-<UTC time>.db`, and the first one of each hour and day also as
 * `hourly/etcd-<YYYYMMDDTHH>.db` and `daily/etcd-<YYYYMMDD>.db`. The names never repeat, so a node
 * needs only permission to create objects; retention is by prefix and age (lifecycle rules in a
 * bucket, the agent's pruning in a directory).
 */
import { Problems } from "./validation-error";

/** How long snapshots are kept, by kind. Like kOps: hourly copies for a week, daily ones for 90 days. */
export interface EtcdBackupRetention {
  /**
   * Hours every snapshot (one per interval) is kept. Buckets expire by whole days: rounded up.
   * @default 24
   */
  readonly recentHours?: number;
  /** Days the first snapshot of each hour is kept. @default 7 */
  readonly hourlyDays?: number;
  /** Days the first snapshot of each day is kept. @default 90 */
  readonly dailyDays?: number;
}

/** What users set on every platform (each platform adds where the snapshots go). */
export interface EtcdBackupOptions {
  /** Take snapshots at all. @default true */
  readonly enabled?: boolean;
  /** Minutes between snapshots. @default 15 */
  readonly intervalMinutes?: number;
  /** @default 24 hours of every snapshot, 7 days of hourly ones, 90 days of daily ones */
  readonly retention?: EtcdBackupRetention;
}

/** Where the agent stores snapshots. */
export type EtcdBackupTarget =
  /** A directory on each control-plane host (bare metal). */
  | { readonly kind: "file"; readonly directory: string }
  /** An S3 bucket and key prefix; PutObject signed with the instance role. Values may be tokens. */
  | { readonly kind: "aws-s3"; readonly bucket: string; readonly prefix: string; readonly region: string }
  /** A GCS bucket and object prefix; objects created with the instance's service account. */
  | { readonly kind: "gce-gcs"; readonly bucket: string; readonly prefix: string };

/** Validated options with defaults, and the target: what node payloads get. */
export interface EtcdBackup {
  readonly target: EtcdBackupTarget;
  readonly intervalMinutes: number;
  readonly recentHours: number;
  readonly hourlyDays: number;
  readonly dailyDays: number;
}

export const ETCD_BACKUP_DEFAULTS = { intervalMinutes: 15, recentHours: 24, hourlyDays: 7, dailyDays: 90 } as const;

/** The default directory of the "file" target. */
export const DEFAULT_BACKUP_DIRECTORY = "/var/lib/cdktf-kubeadm/etcd-backups";

/**
 * The options, validated, with defaults; undefined when backups are off or a problem was added to
 * `problems`. `field` names them in errors (e.g. "etcdBackup").
 */
export function resolveEtcdBackup(problems: Problems, options: EtcdBackupOptions | undefined, target: EtcdBackupTarget, field = "etcdBackup"): EtcdBackup | undefined {
  if (options?.enabled === false) return undefined;
  const before = problems.list.length;
  const whole = (name: string, value: number, min: number, max: number, fix: string): number => {
    problems.check(Number.isInteger(value) && value >= min && value <= max, `${field}.${name}`, value, `is not a whole number from ${min} to ${max}`, fix);
    return value;
  };
  const retention = options?.retention ?? {};
  const backup: EtcdBackup = {
    target,
    intervalMinutes: whole("intervalMinutes", options?.intervalMinutes ?? ETCD_BACKUP_DEFAULTS.intervalMinutes, 5, 1440,
      "take a snapshot every 5 minutes to once a day (each one loads etcd for a moment)"),
    recentHours: whole("retention.recentHours", retention.recentHours ?? ETCD_BACKUP_DEFAULTS.recentHours, 1, 24 * 30, "keep every snapshot for 1 hour to 30 days"),
    hourlyDays: whole("retention.hourlyDays", retention.hourlyDays ?? ETCD_BACKUP_DEFAULTS.hourlyDays, 1, 365, "keep hourly snapshots for 1 to 365 days"),
    dailyDays: whole("retention.dailyDays", retention.dailyDays ?? ETCD_BACKUP_DEFAULTS.dailyDays, 1, 3650, "keep daily snapshots for 1 to 3650 days"),
  };
  problems.check(backup.recentHours * 60 >= backup.intervalMinutes, `${field}.retention.recentHours`, backup.recentHours,
    `keeps no snapshot taken every ${backup.intervalMinutes} minutes`, "keep them at least one interval");
  if (target.kind === "file") {
    problems.check(/^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/.test(target.directory) && !target.directory.split("/").includes(".."), `${field}.directory`, target.directory,
      "is not an absolute path of letters, digits, '.', '_', '-' and '/'", `use e.g. "${DEFAULT_BACKUP_DIRECTORY}"`);
  } else {
    problems.check(/^([A-Za-z0-9._-]+\/)*$/.test(target.prefix), `${field}.prefix`, target.prefix,
      "must be empty or end with '/', with letters, digits, '.', '_' and '-' between the slashes", 'use e.g. "etcd/"');
  }
  return problems.list.length === before ? backup : undefined;
}

/** Where the snapshots are, as the agent and the stack output name it. */
export function backupLocation(target: EtcdBackupTarget): string {
  switch (target.kind) {
    case "file": return target.directory;
    case "aws-s3": return `s3://${target.bucket}/${target.prefix}`.replace(/\/$/, "");
    case "gce-gcs": return `gs://${target.bucket}/${target.prefix}`.replace(/\/$/, "");
  }
}

/** The pack-script features of a control-plane copy that backs up to this target. */
export function backupFeatures(kind: EtcdBackupTarget["kind"] | undefined): string[] {
  return kind ? ["backup", `backup-${kind}`] : [];
}

/** bootstrap.env lines of the backup agent (control-plane nodes only). */
export function backupSettings(backup: EtcdBackup | undefined): Record<string, string | undefined> {
  if (!backup) return {};
  return {
    BACKUP_TARGET: backup.target.kind,
    BACKUP_LOCATION: backupLocation(backup.target),
    BACKUP_INTERVAL: String(backup.intervalMinutes),
    BACKUP_REGION: backup.target.kind === "aws-s3" ? backup.target.region : undefined,
    ...(backup.target.kind === "file" ? {
      BACKUP_RECENT_HOURS: String(backup.recentHours),
      BACKUP_HOURLY_DAYS: String(backup.hourlyDays),
      BACKUP_DAILY_DAYS: String(backup.dailyDays),
    } : {}),
  };
}

/**
 * Lifecycle rules of a bucket: prefix and days after which its objects expire. Buckets count whole
 * days, so recent snapshots stay `ceil(recentHours / 24)` days.
 */
export function backupExpirations(backup: EtcdBackup): { readonly prefix: string; readonly days: number }[] {
  const prefix = backup.target.kind === "file" ? "" : backup.target.prefix;
  return [
    { prefix: `${prefix}recent/`, days: Math.ceil(backup.recentHours / 24) },
    { prefix: `${prefix}hourly/`, days: backup.hourlyDays },
    { prefix: `${prefix}daily/`, days: backup.dailyDays },
  ];
}
