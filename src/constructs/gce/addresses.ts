/**
 * Reserved addresses the user data and certificates refer to: the API load balancer's (external,
 * or internal in the subnetwork) and one internal address per control-plane slot, so a joining
 * control-plane node can reach a healthy peer directly (GCE hairpin) and a replaced slot keeps
 * its address.
 */
import { Construct } from "constructs";
import { ComputeAddress } from "@cdktf/provider-google/lib/compute-address";
import { fitName, resourceLabels } from "./names";

export interface ClusterAddressesProps {
  readonly clusterName: string;
  readonly project: string;
  readonly region: string;
  readonly subnetworkId: string;
  readonly externalApi: boolean;
  /** Literal internal API address; undefined: GCE chooses (internal) or external. */
  readonly internalApiAddress?: string;
  /** Per slot: a literal address, or undefined for GCE's choice. */
  readonly controlPlaneAddresses: (string | undefined)[];
  readonly labels: Record<string, string>;
}

export class ClusterAddresses extends Construct {
  readonly api: ComputeAddress;
  /** The API endpoint host: the literal internal address when known at synth, else a reference. */
  readonly apiHost: string;
  readonly controlPlane: ComputeAddress[];
  /** Per slot: the literal address when known at synth, else a reference. */
  readonly controlPlaneHosts: string[];

  constructor(scope: Construct, id: string, props: ClusterAddressesProps) {
    super(scope, id);
    const name = props.clusterName;
    const labels = resourceLabels(name, props.labels);
    this.api = new ComputeAddress(this, "api", {
      project: props.project,
      region: props.region,
      name: fitName(`${name}-api`),
      description: `Kubernetes API endpoint of cluster ${name}`,
      ...(props.externalApi
        ? { addressType: "EXTERNAL", networkTier: "PREMIUM" }
        : { addressType: "INTERNAL", subnetwork: props.subnetworkId, address: props.internalApiAddress }),
      labels,
    });
    this.apiHost = !props.externalApi && props.internalApiAddress ? props.internalApiAddress : this.api.address;
    this.controlPlane = props.controlPlaneAddresses.map(
      (address, slot) =>
        new ComputeAddress(this, `control-plane-${slot}`, {
          project: props.project,
          region: props.region,
          name: fitName(`${name}-cp-${slot}`),
          description: `Internal address of control-plane slot ${slot} of cluster ${name}`,
          addressType: "INTERNAL",
          subnetwork: props.subnetworkId,
          address,
          labels,
        }),
    );
    this.controlPlaneHosts = this.controlPlane.map((a, slot) => props.controlPlaneAddresses[slot] ?? a.address);
  }
}
