import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { packScript } from "../src/bootstrap/pack-script";
import { tempDir } from "./support/openssl";

const sample = [
  "#!/usr/bin/env bash",
  "# a comment",
  "set -euo pipefail",
  "",
  "f() {",
  "  # indented comment",
  "  local x='a # not a comment'",
  "  echo \"$x\"",
  "  cat <<EOF",
  "    kept   indentation",
  "  # kept comment",
  "EOF",
  "  cat <<-'END'",
  "\tliteral $x",
  "\tEND",
  "  grep -c . <<<\"here-string, not a heredoc\"",
  "}",
  "# shellcheck disable=SC2034",
  "f",
  "",
].join("\n");

function run(script: string): string {
  const dir = tempDir("pack-");
  try {
    const file = path.join(dir, "s.sh");
    fs.writeFileSync(file, script);
    const r = spawnSync("bash", [file], { encoding: "utf8" });
    expect(r.status).toBe(0);
    return r.stdout;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("drops comment-only lines, blank lines and indentation, but not heredoc bodies or shellcheck directives", () => {
  const packed = packScript(sample);
  expect(packed.split("\n")[0]).toBe("#!/usr/bin/env bash");
  expect(packed).not.toContain("# a comment");
  expect(packed).not.toContain("indented comment");
  expect(packed).toContain("local x='a # not a comment'");
  expect(packed).toContain("\n    kept   indentation\n  # kept comment\nEOF\n");
  expect(packed).toContain("\n\tliteral $x\n\tEND\n");
  expect(packed).toContain("# shellcheck disable=SC2034");
  expect(packed).not.toMatch(/\n\n/);
  expect(packed.length).toBeLessThan(sample.length);
});

test("the packed script does exactly what the original does", () => {
  expect(run(packScript(sample))).toBe(run(sample));
});

test("an unterminated heredoc is an error, not a silently broken script", () => {
  expect(() => packScript("cat <<EOF\nno end\n")).toThrow(/unterminated heredoc EOF/);
});

describe("control-plane-only sections", () => {
  const text = ["#!/bin/bash", "a=1", "# @control-plane-only", "cp() {", "  cat <<EOF", "# @end", "EOF", "}", "# @end", "echo $a", ""].join("\n");

  test("stay in the control-plane copy and leave the worker copy, heredoc bodies included", () => {
    expect(packScript(text, "control-plane")).toBe("#!/bin/bash\na=1\ncp() {\ncat <<EOF\n# @end\nEOF\n}\necho $a\n");
    expect(packScript(text, "worker")).toBe("#!/bin/bash\na=1\necho $a\n");
  });

  test("worker-only sections are the mirror image: out of the control-plane copy", () => {
    const workerOnly = ["a=1", "# @worker-only", "w() { :; }", "# @end", "echo $a", ""].join("\n");
    expect(packScript(workerOnly, "worker")).toBe("a=1\nw() { :; }\necho $a\n");
    expect(packScript(workerOnly, "control-plane")).toBe("a=1\necho $a\n");
    expect(() => packScript("# @worker-only\n# @control-plane-only\n# @end\n# @end\n", "worker")).toThrow(/line 2: nested # @control-plane-only/);
  });

  test.each([
    ["# @control-plane-only\na\n", /line 1: # @control-plane-only without # @end/],
    ["a\n# @end\n", /line 2: # @end without # @control-plane-only/],
    ["# @control-plane-only\n# @control-plane-only\n# @end\n", /line 2: nested # @control-plane-only/],
  ])("unbalanced markers are an error: %j", (bad, message) => {
    expect(() => packScript(bad, "worker")).toThrow(message);
  });
});

describe("feature sections (# @only FEATURE...)", () => {
  const text = ["#!/bin/bash", "a=1", "# @only aws gce", "both() {", "  :", "}", "# @end", "# @only gce", "g() { :; }", "# @end", "echo $a", ""].join("\n");

  test("stay only in copies for one of their features, for every role", () => {
    expect(packScript(text, "worker")).toBe("#!/bin/bash\na=1\necho $a\n");
    expect(packScript(text, "worker", ["aws"])).toBe("#!/bin/bash\na=1\nboth() {\n:\n}\necho $a\n");
    expect(packScript(text, "control-plane", ["gce"])).toBe("#!/bin/bash\na=1\nboth() {\n:\n}\ng() { :; }\necho $a\n");
  });

  test("cannot nest in a control-plane-only section", () => {
    expect(() => packScript("# @control-plane-only\n# @only aws\n# @end\n# @end\n", "worker", ["aws"])).toThrow(/line 2: nested # @only aws/);
  });
});

describe("stage sections (# @stage1, # @stage1-only): the loader and the full script from one source", () => {
  const text = [
    "#!/bin/bash", "# @stage1", "log() { echo \"$*\"; }", "# @only aws", "fetch() { log aws; }", "# @end", "# @end",
    "install() { log install; }", "# @stage1-only", "main() { fetch; echo loader; }", "# @end",
    "main() { install; }", "# @stage1", "main", "# @end", "",
  ].join("\n");

  test("the full copy has everything but the stage1-only sections; the loader only the stage-1 ones", () => {
    expect(packScript(text, "worker", ["aws"])).toBe("#!/bin/bash\nlog() { echo \"$*\"; }\nfetch() { log aws; }\ninstall() { log install; }\nmain() { install; }\nmain\n");
    expect(packScript(text, "worker", ["aws"], "loader")).toBe("#!/bin/bash\nlog() { echo \"$*\"; }\nfetch() { log aws; }\nmain() { fetch; echo loader; }\nmain\n");
    // feature sections nested in a stage section still follow their features
    expect(packScript(text, "worker", [], "loader")).toBe("#!/bin/bash\nlog() { echo \"$*\"; }\nmain() { fetch; echo loader; }\nmain\n");
  });

  test("both copies run", () => {
    expect(run(packScript(text, "worker", ["aws"]))).toBe("install\n");
    expect(run(packScript(text, "worker", ["aws"], "loader"))).toBe("aws\nloader\n");
  });

  test("stage sections are top level only", () => {
    expect(() => packScript("# @stage1\n# @stage1-only\n# @end\n# @end\n")).toThrow(/line 2: nested # @stage1-only \(the section on line 1 is open\)/);
    expect(() => packScript("# @only aws\n# @stage1\n# @end\n# @end\n")).toThrow(/line 2: nested # @stage1/);
    expect(() => packScript("# @stage1\nx\n")).toThrow(/line 1: # @stage1 without # @end/);
  });

  test("a shellcheck directive keeps its directive, not the reason after it", () => {
    expect(packScript("# shellcheck disable=SC2317 # why\nx\n")).toBe("# shellcheck disable=SC2317\nx\n");
  });
});
