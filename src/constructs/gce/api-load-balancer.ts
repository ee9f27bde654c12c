/**
 * The Kubernetes API endpoint: a regional TCP passthrough load balancer (backend service +
 * forwarding rule on the reserved address, port = API port), external or internal, with a
 * regional HTTPS health check of the API server's /livez. Backends are the control-plane slots'
 * instance groups. Passthrough keeps client certificates end to end (TLS terminates on the API
 * server).
 *
 * Hairpin: a backend connecting to the forwarding rule's address is answered by itself (the guest
 * agent routes the address locally), never by a peer; joining control-plane nodes therefore use a
 * peer's reserved address directly (API_PEER_ENDPOINTS, API_HAIRPIN_DNAT).
 */
import { Construct } from "constructs";
import { ComputeForwardingRule } from "@cdktf/provider-google/lib/compute-forwarding-rule";
import { ComputeRegionBackendService } from "@cdktf/provider-google/lib/compute-region-backend-service";
import { ComputeRegionHealthCheck } from "@cdktf/provider-google/lib/compute-region-health-check";
import { fitName, resourceLabels } from "./names";
import { GCE_DEFAULTS } from "./props";

export interface ApiLoadBalancerProps {
  readonly clusterName: string;
  readonly project: string;
  readonly region: string;
  readonly external: boolean;
  /** The reserved address (ComputeAddress.address). */
  readonly address: string;
  readonly networkId: string;
  readonly subnetworkId: string;
  readonly apiServerPort: number;
  /** Instance group of each control-plane slot. */
  readonly backendGroups: string[];
  readonly labels: Record<string, string>;
}

export class ApiLoadBalancer extends Construct {
  readonly healthCheck: ComputeRegionHealthCheck;
  readonly backendService: ComputeRegionBackendService;
  readonly forwardingRule: ComputeForwardingRule;

  constructor(scope: Construct, id: string, props: ApiLoadBalancerProps) {
    super(scope, id);
    const name = props.clusterName;
    const scheme = props.external ? "EXTERNAL" : "INTERNAL";
    this.healthCheck = new ComputeRegionHealthCheck(this, "health-check", {
      project: props.project,
      region: props.region,
      name: fitName(`${name}-api`),
      description: `Kubernetes API server of cluster ${name} (/livez is readable anonymously and stays up while etcd elects)`,
      checkIntervalSec: 5,
      timeoutSec: 5,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
      httpsHealthCheck: { port: props.apiServerPort, requestPath: "/livez" },
    });
    this.backendService = new ComputeRegionBackendService(this, "backend-service", {
      project: props.project,
      region: props.region,
      name: fitName(`${name}-api`),
      description: `Kubernetes API of cluster ${name}`,
      loadBalancingScheme: scheme,
      protocol: "TCP",
      ...(props.external ? {} : { network: props.networkId }),
      healthChecks: [this.healthCheck.id],
      connectionDrainingTimeoutSec: GCE_DEFAULTS.connectionDrainingSeconds,
      backend: props.backendGroups.map((group) => ({ group, balancingMode: "CONNECTION" })),
    });
    this.forwardingRule = new ComputeForwardingRule(this, "forwarding-rule", {
      project: props.project,
      region: props.region,
      name: fitName(`${name}-api`),
      description: `Kubernetes API of cluster ${name}`,
      loadBalancingScheme: scheme,
      ipAddress: props.address,
      ipProtocol: "TCP",
      ports: [String(props.apiServerPort)],
      backendService: this.backendService.id,
      ...(props.external ? { networkTier: "PREMIUM" } : { network: props.networkId, subnetwork: props.subnetworkId }),
      labels: resourceLabels(name, props.labels),
    });
  }
}
