/**
 * Least-privilege security groups, one rule per resource (aws_vpc_security_group_*_rule) so every
 * rule diffs on its own:
 *   api load balancer: API port from the allowed CIDRs and from the nodes; egress only to the control plane's API port
 *   control plane: API port from the load balancer and the nodes; etcd, controller-manager and
 *     scheduler ports only from control-plane nodes; kubelet from the control plane
 *   workers: kubelet from the control plane; NodePorts only when opted in
 *   all nodes: the CNI's data-plane traffic from all nodes; egress anywhere
 */
import { Construct } from "constructs";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import type { CniPlugin } from "../../bootstrap/spec";
import { fitName, NAME_LIMITS, resourceTags } from "./names";

/** A port range and protocol: "tcp", "udp", or an IP protocol number ("4" = IP-in-IP). */
export interface PortRule {
  readonly protocol: "tcp" | "udp" | "4";
  readonly from?: number;
  readonly to?: number;
  readonly description: string;
}

/** Node-to-node traffic each CNI needs (its data plane and agents), as shipped by the pinned manifests. */
export function cniPorts(plugin: CniPlugin): PortRule[] {
  switch (plugin) {
    case "calico": // calico.yaml: BGP (bird) with IP-in-IP encapsulation
      return [
        { protocol: "4", description: "calico IP-in-IP" },
        { protocol: "tcp", from: 179, to: 179, description: "calico BGP" },
      ];
    case "flannel":
      return [{ protocol: "udp", from: 8472, to: 8472, description: "flannel VXLAN" }];
    case "cilium":
      return [
        { protocol: "udp", from: 8472, to: 8472, description: "cilium VXLAN" },
        { protocol: "tcp", from: 4240, to: 4240, description: "cilium health" },
      ];
    case "none":
      return [];
  }
}

export const KUBELET_PORT = 10250;
export const ETCD_PORTS = { from: 2379, to: 2380 } as const;
export const CONTROLLER_MANAGER_PORT = 10257;
export const SCHEDULER_PORT = 10259;
export const NODE_PORT_RANGE = { from: 30000, to: 32767 } as const;

export interface ClusterSecurityGroupsProps {
  readonly clusterName: string;
  readonly vpcId: string;
  readonly apiServerPort: number;
  readonly cni: CniPlugin;
  /** Stacked etcd opens 2379-2380 between control-plane nodes. */
  readonly stackedEtcd: boolean;
  readonly apiAllowedCidrs: string[];
  /**
   * `<NAT address>/32` per NAT gateway (may be tokens): nodes reach an internet-facing load balancer
   * at its public addresses, so their traffic arrives from the NAT gateways. @default []
   */
  readonly natCidrs?: string[];
  readonly nodePortCidrs: string[];
  readonly kubeletFromWorkers: boolean;
  readonly tags: Record<string, string>;
}

type Source = { readonly cidr: string } | { readonly group: SecurityGroup; readonly groupName: string };

export class ClusterSecurityGroups extends Construct {
  readonly loadBalancer: SecurityGroup;
  readonly controlPlane: SecurityGroup;
  readonly workers: SecurityGroup;
  /** Every rule by construct id, e.g. "control-plane-etcd-from-control-plane". */
  readonly ingressRules: Record<string, VpcSecurityGroupIngressRule> = {};
  readonly egressRules: Record<string, VpcSecurityGroupEgressRule> = {};
  private readonly props: ClusterSecurityGroupsProps;

  constructor(scope: Construct, id: string, props: ClusterSecurityGroupsProps) {
    super(scope, id);
    this.props = props;
    const name = props.clusterName;
    const group = (suffix: string, description: string) => {
      const groupName = fitName(`${name}-${suffix}`, NAME_LIMITS.securityGroup);
      return new SecurityGroup(this, suffix, {
        name: groupName,
        description,
        vpcId: props.vpcId,
        // Rules reference each other's groups: revoke them first so a destroy never deadlocks.
        revokeRulesOnDelete: true,
        tags: resourceTags(name, groupName, props.tags),
      });
    };
    this.loadBalancer = group("api-lb", `Kubernetes API load balancer of ${name}`);
    this.controlPlane = group("control-plane", `Kubernetes control-plane nodes of ${name}`);
    this.workers = group("workers", `Kubernetes worker nodes of ${name}`);

    const lb: Source = { group: this.loadBalancer, groupName: "api-lb" };
    const cp: Source = { group: this.controlPlane, groupName: "control-plane" };
    const workers: Source = { group: this.workers, groupName: "workers" };
    const api: PortRule = { protocol: "tcp", from: props.apiServerPort, to: props.apiServerPort, description: "Kubernetes API" };

    // Load balancer: clients and the nodes in; only the control plane's API port out.
    props.apiAllowedCidrs.forEach((cidr, i) => this.ingress(this.loadBalancer, "api-lb", `api-from-cidr-${i}`, api, { cidr }));
    (props.natCidrs ?? []).forEach((cidr, i) => this.ingress(this.loadBalancer, "api-lb", `api-from-nat-${i}`, api, { cidr }));
    this.ingress(this.loadBalancer, "api-lb", "api-from-control-plane", api, cp);
    this.ingress(this.loadBalancer, "api-lb", "api-from-workers", api, workers);
    this.egressRules["api-lb-to-control-plane"] = new VpcSecurityGroupEgressRule(this, "api-lb-egress-to-control-plane", {
      securityGroupId: this.loadBalancer.id,
      referencedSecurityGroupId: this.controlPlane.id,
      ipProtocol: "tcp",
      fromPort: props.apiServerPort,
      toPort: props.apiServerPort,
      description: "Kubernetes API on the control-plane nodes (traffic and health checks)",
      tags: resourceTags(name, `${name}-api-lb-to-control-plane`, props.tags),
    });

    // Control plane.
    this.ingress(this.controlPlane, "control-plane", "api-from-api-lb", api, lb);
    this.ingress(this.controlPlane, "control-plane", "api-from-control-plane", api, cp);
    // Pods reach the API through the kubernetes Service, whose endpoints are the nodes' addresses.
    this.ingress(this.controlPlane, "control-plane", "api-from-workers", api, workers);
    if (props.stackedEtcd) {
      this.ingress(this.controlPlane, "control-plane", "etcd-from-control-plane", { protocol: "tcp", ...ETCD_PORTS, description: "etcd client and peer" }, cp);
    }
    this.ingress(this.controlPlane, "control-plane", "controller-manager-from-control-plane", { protocol: "tcp", from: CONTROLLER_MANAGER_PORT, to: CONTROLLER_MANAGER_PORT, description: "kube-controller-manager" }, cp);
    this.ingress(this.controlPlane, "control-plane", "scheduler-from-control-plane", { protocol: "tcp", from: SCHEDULER_PORT, to: SCHEDULER_PORT, description: "kube-scheduler" }, cp);

    // Every node: kubelet from the control plane (logs, exec, port-forward), CNI between nodes.
    const kubelet: PortRule = { protocol: "tcp", from: KUBELET_PORT, to: KUBELET_PORT, description: "kubelet API" };
    for (const [target, targetName] of [[this.controlPlane, "control-plane"], [this.workers, "workers"]] as const) {
      this.ingress(target, targetName, "kubelet-from-control-plane", kubelet, cp);
      if (props.kubeletFromWorkers) this.ingress(target, targetName, "kubelet-from-workers", kubelet, workers);
      for (const rule of cniPorts(props.cni)) {
        const key = rule.description.toLowerCase().replace(/[^a-z0-9]+/g, "-");
        this.ingress(target, targetName, `${key}-from-control-plane`, rule, cp);
        this.ingress(target, targetName, `${key}-from-workers`, rule, workers);
      }
    }

    props.nodePortCidrs.forEach((cidr, i) => {
      for (const protocol of ["tcp", "udp"] as const) {
        this.ingress(this.workers, "workers", `node-ports-${protocol}-from-cidr-${i}`, { protocol, ...NODE_PORT_RANGE, description: "NodePort services" }, { cidr });
      }
    });

    // Nodes reach package repositories, registries and the load balancer: egress anywhere (IPv4).
    for (const [target, targetName] of [[this.controlPlane, "control-plane"], [this.workers, "workers"]] as const) {
      this.egressRules[`${targetName}-all`] = new VpcSecurityGroupEgressRule(this, `${targetName}-egress-all`, {
        securityGroupId: target.id,
        cidrIpv4: "0.0.0.0/0",
        ipProtocol: "-1",
        description: "All outbound traffic",
        tags: resourceTags(name, `${name}-${targetName}-egress-all`, props.tags),
      });
    }
  }

  private ingress(target: SecurityGroup, targetName: string, key: string, rule: PortRule, source: Source): void {
    const id = `${targetName}-${key}`;
    const from = "cidr" in source ? source.cidr : source.groupName;
    this.ingressRules[id] = new VpcSecurityGroupIngressRule(this, id, {
      securityGroupId: target.id,
      ipProtocol: rule.protocol,
      // Portless protocols (IP-in-IP): -1/-1 is what EC2 reports back, so the plan stays empty.
      fromPort: rule.from ?? -1,
      toPort: rule.to ?? -1,
      ...("cidr" in source ? { cidrIpv4: source.cidr } : { referencedSecurityGroupId: source.group.id }),
      description: `${rule.description} from ${from}`,
      tags: resourceTags(this.props.clusterName, `${this.props.clusterName}-${id}`, this.props.tags),
    });
  }
}
