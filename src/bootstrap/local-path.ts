/**
 * Directories on the synth machine (PKI store, seed files). Node's fs takes "~" and "$HOME"
 * literally, so "~/pki" would silently become "<cwd>/~/pki": refused, with the expansion to use.
 */
import type { SpecProblem } from "./validation-error";

const UNEXPANDED = /^~|\$(\{?[A-Za-z_][A-Za-z0-9_]*)|%[A-Za-z_][A-Za-z0-9_]*%/;

/** A problem when `value` (a path given by the user) still holds "~", "$VAR" or "%VAR%". */
export function unexpandedPathProblem(field: string, value: unknown): SpecProblem | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.trim() === "") {
    return { field, value, problem: "is not a non-empty path", fix: "give a directory path, e.g. path.join(__dirname, \".cdktf-kubeadm\")" };
  }
  if (!UNEXPANDED.test(value)) return undefined;
  return {
    field,
    value,
    problem: "holds a shell expansion (~, $VAR or %VAR%) that nothing expands here: it would name a directory literally called that",
    fix: "expand it yourself, e.g. path.join(os.homedir(), ...) or process.env.VAR",
  };
}
