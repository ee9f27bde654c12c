/**
 * Files our constructs keep on disk (PKI store, version history, secret bundles, seed files) are
 * written at synthesis, not in constructors: by then every construct of the app exists, and each
 * validated its props when it was built, so a spec refused anywhere in the app leaves nothing
 * behind. An Aspect is the hook cdktf and cdktn share: both invoke aspects first when a stack is
 * synthesized (`app.synth()`, `Testing.synth`).
 */
import { Aspects } from "cdktf";
import type { IConstruct } from "constructs";

export function writeAtSynth(scope: IConstruct, write: () => void): void {
  let written = false;
  Aspects.of(scope).add({
    visit(node: IConstruct): void {
      if (node !== scope || written) return;
      written = true;
      write();
    },
  });
}
