/**
 * The cluster's network: a custom-mode VPC network with one regional subnetwork for the nodes,
 * Private Google Access, and a Cloud Router + Cloud NAT on static addresses for egress (nodes have
 * no external address). Or the user's existing network and subnetwork, untouched.
 */
import { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { ComputeAddress } from "@cdktf/provider-google/lib/compute-address";
import { ComputeNetwork } from "@cdktf/provider-google/lib/compute-network";
import { ComputeRouter } from "@cdktf/provider-google/lib/compute-router";
import { ComputeRouterNat } from "@cdktf/provider-google/lib/compute-router-nat";
import { ComputeSubnetwork } from "@cdktf/provider-google/lib/compute-subnetwork";
import { fitName, resourceLabels } from "./names";
import type { ResolvedGceNetwork } from "./resolve-gce";

export interface GceClusterNetworkProps {
  readonly clusterName: string;
  readonly project: string;
  readonly region: string;
  readonly network: ResolvedGceNetwork;
  readonly labels: Record<string, string>;
}

export class GceClusterNetwork extends Construct {
  /** Undefined for an existing network. */
  readonly vpc?: ComputeNetwork;
  readonly subnet?: ComputeSubnetwork;
  readonly router?: ComputeRouter;
  readonly nat?: ComputeRouterNat;
  /** Cloud NAT's static external addresses. */
  readonly natAddresses: ComputeAddress[] = [];
  /** Network and subnetwork as self links / ids (created or given). */
  readonly networkId: string;
  readonly subnetworkId: string;
  /** What must exist before nodes boot (they download packages and images). */
  readonly egressDependencies: ITerraformDependable[] = [];

  constructor(scope: Construct, id: string, props: GceClusterNetworkProps) {
    super(scope, id);
    const net = props.network;
    if (net.kind === "existing") {
      this.networkId = net.network;
      this.subnetworkId = net.subnetwork;
      return;
    }
    const name = props.clusterName;
    this.vpc = new ComputeNetwork(this, "network", {
      project: props.project,
      name: fitName(`${name}-network`),
      description: `Kubernetes cluster ${name}`,
      autoCreateSubnetworks: false,
      routingMode: "REGIONAL",
      mtu: net.mtu,
    });
    this.subnet = new ComputeSubnetwork(this, "nodes", {
      project: props.project,
      region: props.region,
      name: fitName(`${name}-nodes`),
      description: `Nodes of Kubernetes cluster ${name}`,
      network: this.vpc.id,
      ipCidrRange: net.subnetCidr,
      stackType: "IPV4_ONLY",
      // Google APIs (logging, monitoring, Artifact Registry) without going through NAT.
      privateIpGoogleAccess: true,
    });
    this.router = new ComputeRouter(this, "router", {
      project: props.project,
      region: props.region,
      name: fitName(`${name}-router`),
      network: this.vpc.id,
    });
    for (let i = 0; i < net.natAddressCount; i++) {
      this.natAddresses.push(
        new ComputeAddress(this, `nat-address-${i}`, {
          project: props.project,
          region: props.region,
          name: fitName(`${name}-nat-${i}`),
          description: `Cloud NAT egress address of Kubernetes cluster ${name}`,
          addressType: "EXTERNAL",
          networkTier: "PREMIUM",
          labels: resourceLabels(name, props.labels),
        }),
      );
    }
    this.nat = new ComputeRouterNat(this, "nat", {
      project: props.project,
      region: props.region,
      name: fitName(`${name}-nat`),
      router: this.router.name,
      // Static addresses: an external API load balancer can allow them (workers reach it through NAT).
      natIpAllocateOption: "MANUAL_ONLY",
      natIps: this.natAddresses.map((a) => a.selfLink),
      sourceSubnetworkIpRangesToNat: "LIST_OF_SUBNETWORKS",
      subnetwork: [{ name: this.subnet.id, sourceIpRangesToNat: ["ALL_IP_RANGES"] }],
      enableEndpointIndependentMapping: false,
      logConfig: { enable: true, filter: "ERRORS_ONLY" },
    });
    this.networkId = this.vpc.id;
    this.subnetworkId = this.subnet.id;
    this.egressDependencies.push(this.nat);
  }
}
