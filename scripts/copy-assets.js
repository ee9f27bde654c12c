// tsc does not copy non-TS files: the bootstrap script ships next to the compiled cloud-init renderer.
const fs = require("fs");
const path = require("path");
const src = path.join(__dirname, "..", "src", "bootstrap");
const out = path.join(__dirname, "..", "lib", "bootstrap");
fs.mkdirSync(out, { recursive: true });
for (const f of fs.readdirSync(src).filter((f) => f.endsWith(".sh"))) {
  fs.copyFileSync(path.join(src, f), path.join(out, f));
}
