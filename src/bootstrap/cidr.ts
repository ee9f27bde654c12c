/** IPv4 addresses and CIDR blocks: just what validation and NO_PROXY need. */

export interface Ipv4Cidr {
  /** Network address as an unsigned 32-bit integer. */
  readonly network: number;
  readonly prefix: number;
  /** Canonical text, e.g. "10.244.0.0/16". */
  readonly text: string;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function parseIpv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

/**
 * Parses "a.b.c.d/n". Returns a reason string instead of a value when the text is not a
 * canonical CIDR (host bits set is an error: "10.0.0.1/16" is usually a typo for a network).
 */
export function parseCidr(text: string): Ipv4Cidr | string {
  const match = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!match) return "is not in a.b.c.d/n form";
  const address = parseIpv4(match[1]);
  const prefix = Number(match[2]);
  if (address === undefined) return "has an invalid IPv4 address";
  if (prefix > 32) return "has a prefix length above 32";
  const size = 2 ** (32 - prefix);
  if (address % size !== 0) {
    return `has host bits set (the network is ${formatIpv4(address - (address % size))}/${prefix})`;
  }
  return { network: address, prefix, text: `${formatIpv4(address)}/${prefix}` };
}

export function cidrSize(cidr: Ipv4Cidr): number {
  return 2 ** (32 - cidr.prefix);
}

export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  return a.network < b.network + cidrSize(b) && b.network < a.network + cidrSize(a);
}

export function cidrContains(cidr: Ipv4Cidr, address: number): boolean {
  return address >= cidr.network && address < cidr.network + cidrSize(cidr);
}

/** The n-th address of a block (0 = network address). */
export function cidrHost(cidr: Ipv4Cidr, n: number): string {
  return formatIpv4(cidr.network + n);
}

/** The kubernetes Service's ClusterIP: the first host of the service CIDR (what the API server takes). */
export function kubernetesServiceIp(serviceCidr: string): string {
  const cidr = parseCidr(serviceCidr);
  if (typeof cidr === "string") throw new Error(`cdktf-kubeadm: service CIDR ${serviceCidr}: ${cidr}`);
  return cidrHost(cidr, 1);
}
