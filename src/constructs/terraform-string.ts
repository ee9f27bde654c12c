import * as zlib from "zlib";
import { Fn } from "cdktf";

/** How cdktf encodes an unresolved string token inside a string. */
const TOKEN = /(\$\{TfToken\[[^\]]+\]\})/;

/**
 * Turns text that mixes literal content (shell scripts full of `${...}` and quotes) with cdktf
 * tokens into a Terraform string expression. Literal parts travel as `base64decode("...")`
 * because base64 needs no escaping; cdktf's own escaping of `${`, `%{` and quotes inside
 * function arguments is not reliable (a literal `"` breaks `base64gzip(...)`).
 */
export function toTerraformString(text: string): string {
  const parts = text.split(TOKEN).filter((part) => part !== "");
  return parts.map((part) => (TOKEN.test(part) ? part : Fn.base64decode(Buffer.from(part, "utf8").toString("base64")))).join("");
}

export function hasTokens(text: string): boolean {
  return TOKEN.test(text);
}

/** The text with every token replaced by `width` characters: for size estimates only. */
export function withTokensAs(text: string, width: number): string {
  return text.split(TOKEN).map((part) => (TOKEN.test(part) ? "x".repeat(width) : part)).join("");
}

/**
 * base64(gzip(text)): computed at synth when the text is fully known (deterministic: Node's gzip
 * writes no timestamp), otherwise by Terraform's base64gzip at apply time.
 */
export function base64Gzip(text: string): string {
  if (!hasTokens(text)) return zlib.gzipSync(Buffer.from(text, "utf8"), { level: 9 }).toString("base64");
  return Fn.base64gzip(toTerraformString(text));
}
