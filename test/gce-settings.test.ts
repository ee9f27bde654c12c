/**
 * API_HAIRPIN_DNAT: the bootstrap setting that makes a control-plane node joining through a peer
 * DNAT its traffic for the load balancer address to that peer (GCE hairpin). Set for
 * control-plane roles only, and only when asked for.
 */
import { NodePayloadInput, renderSettings } from "../src/bootstrap/cloud-init";
import { caCertHash, generateClusterPki } from "../src/bootstrap/pki";
import { resolveCluster } from "../src/bootstrap/resolve-cluster";

const cluster = resolveCluster(
  { name: "prod", kubernetesVersion: "1.36.4", controlPlane: { replicas: 3 }, nodePools: [{ name: "general", maxSize: 10 }] },
  { platform: "gce", nodeCidrs: ["10.0.0.0/20"] },
);
const pki = generateClusterPki({ keyAlgorithm: "ECDSA-P256", caValidityHours: 87600, certificateValidityHours: 8760 });
const base: Omit<NodePayloadInput, "role"> = {
  cluster,
  pki,
  caCertHash: caCertHash(pki.ca.certPem),
  controlPlaneEndpointHost: "203.0.113.7",
  controlPlanePeerEndpoints: ["10.0.0.10:6443", "10.0.0.11:6443", "10.0.0.12:6443"],
};
const roles = [
  { kind: "control-plane", slot: 0 },
  { kind: "control-plane", slot: 2 },
  { kind: "worker", pool: "general" },
] as const;

function settings(input: NodePayloadInput): Record<string, string> {
  return Object.fromEntries(
    renderSettings(input)
      .trim()
      .split("\n")
      .map((line) => {
        const m = /^([A-Z0-9_]+)='(.*)'$/.exec(line);
        if (!m) throw new Error(`not a KEY='value' line: ${line}`);
        return [m[1], m[2]];
      }),
  );
}

test("apiHairpinDnat: API_HAIRPIN_DNAT='1' on control-plane roles, never on workers", () => {
  for (const role of roles) {
    const s = settings({ ...base, role, apiHairpinDnat: true });
    if (role.kind === "control-plane") {
      expect(s.API_HAIRPIN_DNAT).toBe("1");
      expect(s.API_PEER_ENDPOINTS).toBe("10.0.0.10:6443 10.0.0.11:6443 10.0.0.12:6443");
    } else {
      expect(s).not.toHaveProperty("API_HAIRPIN_DNAT");
      expect(s).not.toHaveProperty("API_PEER_ENDPOINTS");
    }
    expect(s.API_ENDPOINT).toBe("203.0.113.7:6443");
  }
  expect(renderSettings({ ...base, role: roles[0], apiHairpinDnat: true })).toContain("API_HAIRPIN_DNAT='1'\n");
});

test.each([undefined, false])("apiHairpinDnat %s: no API_HAIRPIN_DNAT line for any role", (apiHairpinDnat) => {
  for (const role of roles) {
    expect(renderSettings({ ...base, role, apiHairpinDnat })).not.toMatch(/API_HAIRPIN_DNAT/);
  }
});
