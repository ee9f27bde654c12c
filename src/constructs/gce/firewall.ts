/**
 * Least-privilege ingress firewall rules, targeted by network tag (`<cluster>-control-plane`,
 * `<cluster>-worker`). GCE denies every other ingress implicitly; egress stays open (packages,
 * registries). One rule per purpose, so each diffs on its own:
 *   API port: from the allowed CIDRs, Cloud NAT's addresses (external LB), the load balancer's
 *     health checkers, and the nodes (pods reach the API through the nodes' addresses)
 *   etcd, kube-controller-manager, kube-scheduler: only between control-plane nodes
 *   kubelet: from the control plane; from the auto-healing health checkers
 *   CNI data plane: between all nodes
 *   NodePorts: only when opted in
 */
import { Construct } from "constructs";
import { ComputeFirewall, ComputeFirewallAllow } from "@cdktf/provider-google/lib/compute-firewall";
import type { CniPlugin } from "../../bootstrap/spec";
import { fitName } from "./names";

/** Google's health checkers: regional passthrough LBs and auto-healing (global health checks). */
export const HEALTH_CHECK_RANGES = {
  /** Internal passthrough LB, global health checks (MIG auto-healing). */
  standard: ["35.191.0.0/16", "130.211.0.0/22"],
  /** Backend-service-based external passthrough Network Load Balancer. */
  externalPassthrough: ["35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22"],
} as const;

export const KUBELET_PORT = 10250;
export const ETCD_PORTS = "2379-2380";
export const CONTROLLER_MANAGER_PORT = 10257;
export const SCHEDULER_PORT = 10259;
export const NODE_PORT_RANGE = "30000-32767";

/** Node-to-node traffic each CNI needs, as shipped by the pinned manifests. */
export function cniAllow(plugin: CniPlugin): ComputeFirewallAllow[] {
  switch (plugin) {
    case "calico": // BGP (bird) with IP-in-IP encapsulation
      return [{ protocol: "ipip" }, { protocol: "tcp", ports: ["179"] }];
    case "flannel": // VXLAN
      return [{ protocol: "udp", ports: ["8472"] }];
    case "cilium": // VXLAN and health probes
      return [
        { protocol: "udp", ports: ["8472"] },
        { protocol: "tcp", ports: ["4240"] },
      ];
    case "none":
      return [];
  }
}

export interface ClusterFirewallProps {
  readonly clusterName: string;
  readonly project: string;
  readonly networkId: string;
  readonly controlPlaneTag: string;
  readonly workerTag: string;
  readonly apiServerPort: number;
  readonly cni: CniPlugin;
  readonly stackedEtcd: boolean;
  readonly externalLoadBalancer: boolean;
  readonly apiAllowedCidrs: string[];
  /** Cloud NAT's external addresses (tokens): workers reach an external LB from them. */
  readonly natAddresses: string[];
  readonly nodePortCidrs: string[];
  readonly kubeletFromWorkers: boolean;
}

export class ClusterFirewall extends Construct {
  /** Every rule by key, e.g. "api-from-nodes". */
  readonly rules: Record<string, ComputeFirewall> = {};
  private readonly props: ClusterFirewallProps;

  constructor(scope: Construct, id: string, props: ClusterFirewallProps) {
    super(scope, id);
    this.props = props;
    const cp = [props.controlPlaneTag];
    const nodes = [props.controlPlaneTag, props.workerTag];
    const api = [{ protocol: "tcp", ports: [String(props.apiServerPort)] }];

    if (props.apiAllowedCidrs.length > 0) this.rule("api-from-clients", "Kubernetes API from the allowed networks", api, { ranges: props.apiAllowedCidrs }, cp);
    if (props.externalLoadBalancer && props.natAddresses.length > 0) {
      this.rule("api-from-nat", "Kubernetes API through the external load balancer from the nodes' Cloud NAT addresses", api, { ranges: props.natAddresses.map((a) => `${a}/32`) }, cp);
    }
    const lbCheckers = props.externalLoadBalancer ? HEALTH_CHECK_RANGES.externalPassthrough : HEALTH_CHECK_RANGES.standard;
    this.rule("api-from-health-checks", "Kubernetes API from the load balancer's health checkers", api, { ranges: [...lbCheckers] }, cp);
    this.rule("api-from-nodes", "Kubernetes API from the nodes (joins, kubelets, pods via the kubernetes Service)", api, { tags: nodes }, cp);

    const controlPlanePorts = [String(CONTROLLER_MANAGER_PORT), String(SCHEDULER_PORT)];
    this.rule(
      "control-plane-internal",
      `${props.stackedEtcd ? "etcd client and peer, " : ""}kube-controller-manager and kube-scheduler between control-plane nodes`,
      [{ protocol: "tcp", ports: props.stackedEtcd ? [ETCD_PORTS, ...controlPlanePorts] : controlPlanePorts }],
      { tags: cp },
      cp,
    );

    const kubelet = [{ protocol: "tcp", ports: [String(KUBELET_PORT)] }];
    this.rule("kubelet-from-control-plane", "kubelet API from the control plane (logs, exec, port-forward)", kubelet, { tags: props.kubeletFromWorkers ? nodes : cp }, nodes);
    this.rule("kubelet-from-health-checks", "kubelet port from the auto-healing health checkers", kubelet, { ranges: [...HEALTH_CHECK_RANGES.standard] }, nodes);

    const cni = cniAllow(props.cni);
    if (cni.length > 0) this.rule("cni", `${props.cni} data plane between nodes`, cni, { tags: nodes }, nodes);

    if (props.nodePortCidrs.length > 0) {
      this.rule(
        "node-ports",
        "NodePort services",
        [
          { protocol: "tcp", ports: [NODE_PORT_RANGE] },
          { protocol: "udp", ports: [NODE_PORT_RANGE] },
        ],
        { ranges: props.nodePortCidrs },
        [props.workerTag],
      );
    }
  }

  private rule(key: string, description: string, allow: ComputeFirewallAllow[], source: { ranges?: string[]; tags?: string[] }, targetTags: string[]): void {
    const name = this.props.clusterName;
    this.rules[key] = new ComputeFirewall(this, key, {
      project: this.props.project,
      name: fitName(`${name}-${key}`),
      description: `${description} (cluster ${name})`,
      network: this.props.networkId,
      direction: "INGRESS",
      priority: 1000,
      allow,
      sourceRanges: source.ranges,
      sourceTags: source.tags,
      targetTags,
    });
  }
}
