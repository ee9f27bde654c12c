/**
 * The cluster's network: a new VPC (public + private subnets in 2-3 zones, internet gateway, NAT
 * gateways, route tables) or the user's existing VPC and subnets. Nodes live in the private
 * subnets; the public ones hold only the NAT gateways and an internet-facing API load balancer.
 */
import { Fn, ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { DataAwsAvailabilityZones } from "@cdktf/provider-aws/lib/data-aws-availability-zones";
import { Eip } from "@cdktf/provider-aws/lib/eip";
import { InternetGateway } from "@cdktf/provider-aws/lib/internet-gateway";
import { NatGateway } from "@cdktf/provider-aws/lib/nat-gateway";
import { Route } from "@cdktf/provider-aws/lib/route";
import { RouteTable } from "@cdktf/provider-aws/lib/route-table";
import { RouteTableAssociation } from "@cdktf/provider-aws/lib/route-table-association";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { resourceTags } from "./names";
import type { ResolvedAwsNetwork } from "./resolve-aws";

export interface AwsClusterNetworkProps {
  readonly clusterName: string;
  readonly network: ResolvedAwsNetwork;
  readonly tags: Record<string, string>;
}

export class AwsClusterNetwork extends Construct {
  readonly vpcId: string;
  /** Literal CIDR blocks of the VPC (security group rules, NO_PROXY). */
  readonly vpcCidrs: string[];
  /** One per zone, in zone order: control-plane slot n uses privateSubnetIds[n mod length]. */
  readonly privateSubnetIds: string[];
  readonly publicSubnetIds: string[];
  /** Created resources; undefined / empty for an existing VPC. */
  readonly vpc?: Vpc;
  readonly availabilityZones?: DataAwsAvailabilityZones;
  readonly privateSubnets: Subnet[] = [];
  readonly publicSubnets: Subnet[] = [];
  readonly internetGateway?: InternetGateway;
  readonly natGateways: NatGateway[] = [];
  readonly natEips: Eip[] = [];
  readonly publicRouteTable?: RouteTable;
  readonly privateRouteTables: RouteTable[] = [];
  /** What nodes in the private subnets need before they boot: their default routes and route table associations. */
  readonly egressDependencies: ITerraformDependable[] = [];

  constructor(scope: Construct, id: string, props: AwsClusterNetworkProps) {
    super(scope, id);
    const net = props.network;
    if (net.kind === "existing") {
      this.vpcId = net.vpcId;
      this.vpcCidrs = net.vpcCidrs;
      this.privateSubnetIds = net.privateSubnetIds;
      this.publicSubnetIds = net.publicSubnetIds;
      return;
    }
    const name = props.clusterName;
    const tags = (suffix: string, extra: Record<string, string> = {}) => resourceTags(name, `${name}-${suffix}`, props.tags, extra);

    this.vpc = new Vpc(this, "vpc", { cidrBlock: net.vpcCidr, enableDnsSupport: true, enableDnsHostnames: true, tags: tags("vpc") });
    this.vpcId = this.vpc.id;
    this.vpcCidrs = [net.vpcCidr];

    let zone: (n: number) => string;
    if (net.availabilityZones) {
      const zones = net.availabilityZones;
      zone = (n) => zones[n];
    } else {
      this.availabilityZones = new DataAwsAvailabilityZones(this, "zones", {
        state: "available",
        filter: [{ name: "zone-type", values: ["availability-zone"] }],
        lifecycle: {
          postcondition: [
            {
              condition: `\${length(self.names) >= ${net.zoneCount}}`,
              errorMessage: `cdktf-kubeadm: the cluster needs ${net.zoneCount} availability zones but the region has fewer; set network.availabilityZoneCount or network.availabilityZones.`,
            },
          ],
        },
      });
      const names = this.availabilityZones.names;
      zone = (n) => Fn.element(names, n);
    }

    this.internetGateway = new InternetGateway(this, "igw", { vpcId: this.vpc.id, tags: tags("igw") });
    this.publicRouteTable = new RouteTable(this, "public-rt", { vpcId: this.vpc.id, tags: tags("public") });
    new Route(this, "public-default-route", { routeTableId: this.publicRouteTable.id, destinationCidrBlock: "0.0.0.0/0", gatewayId: this.internetGateway.id });

    for (let n = 0; n < net.zoneCount; n++) {
      const subnet = new Subnet(this, `public-${n}`, {
        vpcId: this.vpc.id,
        cidrBlock: net.publicSubnetCidrs[n],
        availabilityZone: zone(n),
        mapPublicIpOnLaunch: false,
        tags: tags(`public-${n}`, { "kubernetes.io/role/elb": "1" }),
      });
      new RouteTableAssociation(this, `public-${n}-rta`, { subnetId: subnet.id, routeTableId: this.publicRouteTable.id });
      this.publicSubnets.push(subnet);
    }

    const natCount = net.natGateways === "one-per-az" ? net.zoneCount : net.natGateways === "single" ? 1 : 0;
    for (let n = 0; n < natCount; n++) {
      const eip = new Eip(this, `nat-${n}-eip`, { domain: "vpc", tags: tags(`nat-${n}`), dependsOn: [this.internetGateway] });
      const nat = new NatGateway(this, `nat-${n}`, {
        allocationId: eip.allocationId,
        subnetId: this.publicSubnets[n].id,
        tags: tags(`nat-${n}`),
        dependsOn: [this.internetGateway],
      });
      this.natEips.push(eip);
      this.natGateways.push(nat);
    }

    for (let n = 0; n < net.zoneCount; n++) {
      const subnet = new Subnet(this, `private-${n}`, {
        vpcId: this.vpc.id,
        cidrBlock: net.privateSubnetCidrs[n],
        availabilityZone: zone(n),
        mapPublicIpOnLaunch: false,
        tags: tags(`private-${n}`, { "kubernetes.io/role/internal-elb": "1" }),
      });
      const table = new RouteTable(this, `private-${n}-rt`, { vpcId: this.vpc.id, tags: tags(`private-${n}`) });
      if (natCount > 0) {
        const route = new Route(this, `private-${n}-default-route`, {
          routeTableId: table.id,
          destinationCidrBlock: "0.0.0.0/0",
          natGatewayId: this.natGateways[Math.min(n, natCount - 1)].id,
        });
        this.egressDependencies.push(route);
      }
      this.egressDependencies.push(new RouteTableAssociation(this, `private-${n}-rta`, { subnetId: subnet.id, routeTableId: table.id }));
      this.privateSubnets.push(subnet);
      this.privateRouteTables.push(table);
    }
    this.privateSubnetIds = this.privateSubnets.map((s) => s.id);
    this.publicSubnetIds = this.publicSubnets.map((s) => s.id);
  }
}
