/** The pins every node download depends on: real-looking hashes, URLs that name their version. */
import { PINNED_CNI } from "../src/bootstrap/catalog";

describe("pinned CNI artefacts", () => {
  test.each(Object.entries(PINNED_CNI))("%s: sha256 is 64 lowercase hex and not a placeholder; the URL names the version", (_plugin, pin) => {
    const artefacts = [{ url: pin.url, sha256: pin.sha256 }, ...(pin.arm64 ? [pin.arm64] : [])];
    for (const a of artefacts) {
      expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(new Set(a.sha256).size).toBeGreaterThan(8); // not 000..., aaa...
      expect(a.url).toMatch(/^https:\/\//);
    }
    if (pin.url.includes("cilium-cli")) expect(pin.arm64?.url).toBe(pin.url.replace("amd64", "arm64"));
    else expect(pin.url).toContain(`/${pin.version}/`);
    expect(new Set(artefacts.map((a) => a.sha256)).size).toBe(artefacts.length);
  });
});

describe("support statements", () => {
  test.each(Object.entries(PINNED_CNI))("%s: a Kubernetes range and where it was read", (_plugin, pin) => {
    expect(pin.support.source.length).toBeGreaterThan(10);
    expect(pin.support.oldestMinor).toBeGreaterThan(0);
    if (pin.support.newestMinor !== undefined) expect(pin.support.newestMinor).toBeGreaterThanOrEqual(pin.support.oldestMinor);
  });
});
