/**
 * Shrinks the bootstrap script for user data: drops comment-only and blank lines and leading
 * indentation (keeping heredoc bodies verbatim) and, for workers, the sections marked
 * `# @control-plane-only` ... `# @end`; sections marked `# @only FEATURE...` ... `# @end` stay only
 * when one of their features is asked for (e.g. the code for one secret store). The readable script
 * ships in the package; the packed one is what nodes run and what the behaviour tests execute.
 */

/** `<<WORD`, `<<-WORD`, `<<'WORD'`, `<<"WORD"`, but not the here-string `<<<`. */
const HEREDOC = /(?<!<)<<(-?)\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\2(?!<)/;
const SECTION_START = "# @control-plane-only";
const FEATURE_START = /^# @only((?: [a-z0-9-]+)+)$/;
const SECTION_END = "# @end";

export type ScriptRole = "control-plane" | "worker";

export function packScript(text: string, role: ScriptRole = "control-plane", features: readonly string[] = []): string {
  const out: string[] = [];
  let heredoc: { word: string; stripTabs: boolean } | undefined;
  let section: number | undefined;
  let drop = false;
  text.split("\n").forEach((line, i) => {
    if (heredoc) {
      if (!drop) out.push(line);
      if ((heredoc.stripTabs ? line.replace(/^\t+/, "") : line) === heredoc.word) heredoc = undefined;
      return;
    }
    if (i === 0 && line.startsWith("#!")) return void out.push(line);
    const trimmed = line.replace(/^[ \t]+/, "");
    const feature = FEATURE_START.exec(trimmed);
    if (trimmed === SECTION_START || feature) {
      if (section !== undefined) throw new Error(`packScript: line ${i + 1}: nested ${trimmed} (the section on line ${section + 1} is open)`);
      section = i;
      drop = feature ? !feature[1].trim().split(" ").some((f) => features.includes(f)) : role === "worker";
      return;
    }
    if (trimmed === SECTION_END) {
      if (section === undefined) throw new Error(`packScript: line ${i + 1}: ${SECTION_END} without ${SECTION_START}`);
      section = undefined;
      drop = false;
      return;
    }
    if (trimmed === "" || (trimmed.startsWith("#") && !trimmed.startsWith("# shellcheck"))) return;
    const m = HEREDOC.exec(trimmed);
    if (m) heredoc = { word: m[3], stripTabs: m[1] === "-" };
    if (drop) return;
    out.push(trimmed);
  });
  if (heredoc) throw new Error(`packScript: unterminated heredoc ${heredoc.word}`);
  if (section !== undefined) throw new Error(`packScript: line ${section + 1}: ${SECTION_START} without ${SECTION_END}`);
  return `${out.join("\n")}\n`;
}
