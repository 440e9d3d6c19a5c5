/**
 * `host:port` addresses as the config writes them: split into their parts, and whether a host
 * is this machine's loopback (where links may stay in the clear).
 *
 * @module
 */

/** The parts of a `host:port` address; an IPv6 host loses its brackets. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Splits `host:port` (or `[v6]:port`) into its host and port. */
export function splitAddress(address: string): HostPort {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon);
  return {
    host: host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host,
    port: Number(address.slice(colon + 1)),
  };
}

/** Whether `host` is this machine's loopback: `localhost`, 127.0.0.0/8 or `::1`. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  return bare === "localhost" || bare === "::1" || /^127(\.\d{1,3}){3}$/.test(bare);
}

/** Whether `host` is an IPv4 or IPv6 literal rather than a name to resolve. */
export function isIpLiteral(host: string): boolean {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(bare) || bare.includes(":");
}
