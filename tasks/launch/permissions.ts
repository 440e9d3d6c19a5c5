/**
 * The network permission each process of a network needs, derived from its config: the address
 * a node listens on, and the addresses it dials (a mix: the next mix; a client: the first and
 * last mix; the CLI: the clients). Used by the launcher, and by `bin/mixnet` through
 * `tasks/permissions.ts`, so a node is granted exactly the hosts its config names.
 *
 * Deno checks a connection against the address it is made to, and grpc-js resolves a host name
 * itself and dials the addresses it gets, so a name must be granted with the addresses it
 * resolves to. `localhost` resolves to loopback everywhere and is granted with both; any other
 * name resolves to addresses no launcher can know in advance (containers get theirs as they
 * start, and again when they restart), so a node whose config names hosts by name gets net
 * access without a host list, and says so.
 *
 * @module
 */
import {
  type Config,
  isIpLiteral,
  type NodeConfig,
  parseConfig,
  splitAddress,
} from "../../src/config/mod.ts";

/** Who a permission is for: a node by role and id, the CLI, or the network task's port check. */
export type Grantee =
  | { readonly role: "mix" | "client"; readonly id: string }
  | { readonly role: "cli" }
  | { readonly role: "network" };

/** The `--allow-net` flag of a process, and why it is broad when it is. */
export interface NetPermission {
  /** `--allow-net=host:port,…`, `--allow-net` when some host is a name, `--deny-net` for none. */
  readonly flag: string;
  /** Set when the flag lists no hosts: the names that made it so. */
  readonly broadBecause?: string;
}

/**
 * The `listen` and dial addresses of `grantee` in `config`, a mix's wire port included: it
 * listens on its own and dials the next mix's, clients dial the first and last mix's.
 */
function addressesOf(config: Config, grantee: Grantee): string[] {
  const listens = (n: NodeConfig) => [n.listen, ...(n.wire ? [n.wire.listen] : [])];
  const dials = (n: NodeConfig) => [n.address, ...(n.wire ? [n.wire.address] : [])];
  if (grantee.role === "network") return [...config.mixServers, ...config.clients].flatMap(listens);
  if (grantee.role === "cli") return config.clients.map((c) => c.address);
  const mixes = config.mixServers;
  const index = mixes.findIndex((m) => m.id === grantee.id);
  if (grantee.role === "mix") {
    if (index < 0) return [];
    return [...listens(mixes[index]), ...(mixes[index + 1] ? dials(mixes[index + 1]) : [])];
  }
  const self = config.clients.find((c) => c.id === grantee.id);
  return self ? [self.listen, ...dials(mixes[0]), ...dials(mixes[mixes.length - 1])] : [];
}

/** The `--allow-net` flag `grantee` needs to run `config`. */
export function netPermission(config: Config, grantee: Grantee): NetPermission {
  const hosts = new Set<string>();
  const names = new Set<string>();
  for (const address of addressesOf(config, grantee)) {
    const { host, port } = splitAddress(address);
    if (host === "localhost") {
      // The bare name for the lookup, and what it resolves to for the connection.
      for (const h of ["localhost", `127.0.0.1:${port}`, `[::1]:${port}`]) hosts.add(h);
    } else if (isIpLiteral(host)) {
      hosts.add(host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`);
    } else names.add(host);
  }
  if (names.size > 0) {
    return {
      flag: "--allow-net",
      broadBecause: `${[...names].join(", ")} ${
        names.size === 1 ? "is a name" : "are names"
      } resolved at run time, and Deno checks the addresses dialed`,
    };
  }
  // An id the config does not list dials nothing: the node will say so and exit.
  return { flag: hosts.size > 0 ? `--allow-net=${[...hosts].join(",")}` : "--deny-net" };
}

/**
 * `base` permissions with their `--allow-net` replaced by the one `grantee` needs for the
 * config at `configPath`; `base` unchanged when the config cannot be read (the process then
 * reports why itself).
 */
export function withNetPermission(
  base: readonly string[],
  configPath: string,
  grantee: Grantee,
): string[] {
  let config: Config;
  try {
    config = parseConfig(Deno.readTextFileSync(configPath), configPath);
  } catch {
    return [...base];
  }
  return replaceNet(base, netPermission(config, grantee).flag);
}

/** `base` permissions with their `--allow-net` replaced by `flag`. */
export function replaceNet(base: readonly string[], flag: string): string[] {
  return [...base.filter((p) => !p.startsWith("--allow-net")), flag];
}
