/** One problem with the spec: which field, what value, what is wrong, how to fix it. */
export interface SpecProblem {
  readonly field: string;
  readonly value: unknown;
  readonly problem: string;
  readonly fix: string;
}

/**
 * Thrown at synth time, before any resource exists. Lists every problem at once so a user fixes
 * the spec in one round trip instead of one error per synth.
 */
export class ClusterSpecError extends Error {
  constructor(
    readonly cluster: string,
    readonly problems: readonly SpecProblem[],
  ) {
    super(
      `cdktf-kubeadm: invalid cluster spec "${cluster}" (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p.field} = ${showValue(p.value)}: ${p.problem}. Fix: ${p.fix}.`).join("\n"),
    );
    this.name = "ClusterSpecError";
  }
}

/** The value as the user wrote it: JSON, except what JSON cannot say (NaN, Infinity, functions). */
export function showValue(value: unknown): string {
  if (value === undefined) return "(unset)";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  if (typeof value === "function") return "(a function)";
  if (typeof value === "bigint") return `${value}n`;
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v));
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}


/** Collects problems; `check` keeps call sites one line each. */
export class Problems {
  readonly list: SpecProblem[] = [];
  add(field: string, value: unknown, problem: string, fix: string): void {
    this.list.push({ field, value, problem, fix });
  }
  check(ok: boolean, field: string, value: unknown, problem: string, fix: string): boolean {
    if (!ok) this.add(field, value, problem, fix);
    return ok;
  }
}
