/**
 * Shrinks the bootstrap script for user data: drops comment-only and blank lines and leading
 * indentation (keeping heredoc bodies verbatim) and, for workers, the sections marked
 * `# @control-plane-only` ... `# @end` (for control-plane nodes, `# @worker-only` ... `# @end`);
 * sections marked `# @only FEATURE...` ... `# @end` stay only
 * when one of their features is asked for (e.g. the code for one secret store). The readable script
 * ships in the package; the packed one is what nodes run and what the behaviour tests execute.
 *
 * Two stages: with a secret store, user data carries only the *loader* (stage "loader"): the
 * top-level sections marked `# @stage1` (kept in both copies) and `# @stage1-only` (left out of the
 * full copy). The loader fetches the secret bundle, which holds the full copy, checks it against the
 * sha256 pinned in user data and runs it. Feature and control-plane sections may nest in a stage
 * section, nothing else nests.
 */

/** `<<WORD`, `<<-WORD`, `<<'WORD'`, `<<"WORD"`, but not the here-string `<<<`. */
const HEREDOC = /(?<!<)<<(-?)\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\2(?!<)/;
const SECTION_START = "# @control-plane-only";
const WORKER_ONLY = "# @worker-only";
const FEATURE_START = /^# @only((?: [a-z0-9-]+)+)$/;
const STAGE1 = "# @stage1";
const STAGE1_ONLY = "# @stage1-only";
const SECTION_END = "# @end";

export type ScriptRole = "control-plane" | "worker";
/** "full": the whole script; "loader": the stage-1 sections only. */
export type ScriptStage = "full" | "loader";

interface Section {
  readonly line: number;
  readonly stage: boolean;
  readonly drop: boolean;
}

export function packScript(text: string, role: ScriptRole = "control-plane", features: readonly string[] = [], stage: ScriptStage = "full"): string {
  const out: string[] = [];
  let heredoc: { word: string; stripTabs: boolean } | undefined;
  const open: Section[] = [];
  // A line stays when no open section drops it and, in the loader, a stage section holds it.
  const kept = () => !open.some((s) => s.drop) && (stage === "full" || open.some((s) => s.stage));
  text.split("\n").forEach((line, i) => {
    if (heredoc) {
      if (kept()) out.push(line);
      if ((heredoc.stripTabs ? line.replace(/^\t+/, "") : line) === heredoc.word) heredoc = undefined;
      return;
    }
    if (i === 0 && line.startsWith("#!")) return void out.push(line);
    const trimmed = line.replace(/^[ \t]+/, "");
    const feature = FEATURE_START.exec(trimmed);
    const isStage = trimmed === STAGE1 || trimmed === STAGE1_ONLY;
    if (trimmed === SECTION_START || trimmed === WORKER_ONLY || feature || isStage) {
      const outer = open[open.length - 1];
      if (outer && (isStage || !outer.stage)) throw new Error(`packScript: line ${i + 1}: nested ${trimmed} (the section on line ${outer.line + 1} is open)`);
      const drop = isStage
        ? trimmed === STAGE1_ONLY && stage === "full"
        : feature
          ? !feature[1].trim().split(" ").some((f) => features.includes(f))
          : trimmed === WORKER_ONLY
            ? role === "control-plane"
            : role === "worker";
      open.push({ line: i, stage: isStage, drop });
      return;
    }
    if (trimmed === SECTION_END) {
      if (!open.length) throw new Error(`packScript: line ${i + 1}: ${SECTION_END} without ${SECTION_START}`);
      open.pop();
      return;
    }
    if (trimmed === "" || (trimmed.startsWith("#") && !trimmed.startsWith("# shellcheck"))) return;
    const m = HEREDOC.exec(trimmed);
    if (m) heredoc = { word: m[3], stripTabs: m[1] === "-" };
    if (!kept()) return;
    // a directive's trailing "# why" is for readers of the source
    out.push(trimmed.startsWith("# shellcheck") ? trimmed.replace(/\s+#.*$/, "") : trimmed);
  });
  if (heredoc) throw new Error(`packScript: unterminated heredoc ${heredoc.word}`);
  if (open.length) throw new Error(`packScript: line ${open[0].line + 1}: ${text.split("\n")[open[0].line].trim()} without ${SECTION_END}`);
  return `${out.join("\n")}\n`;
}
