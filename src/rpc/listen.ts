/**
 * Why an address cannot be listened on, found by trying it with Deno's own listener before a
 * server binds: grpc-js under Deno reports every bind failure alike ("No address added"), an
 * address outside the process's `--allow-net` even crashes it, and an address of another host
 * reads as EINVAL.
 *
 * @module
 */

import { splitAddress } from "../config/address.ts";

/** Why an address cannot be listened on. */
export type ListenFailureKind = "in-use" | "permission" | "not-local" | "unresolved" | "other";

/** A failed listen: its kind and a reason to print after the address. */
export interface ListenFailure {
  readonly kind: ListenFailureKind;
  readonly reason: string;
}

/** Tries to listen on `address` (and stops at once); undefined when it can. */
export function listenFailure(address: string): ListenFailure | undefined {
  const { host, port } = splitAddress(address);
  try {
    Deno.listen({ hostname: host, port }).close();
    return undefined;
  } catch (error) {
    return describe(host, error);
  }
}

function describe(host: string, error: unknown): ListenFailure {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Deno.errors.AddrInUse) {
    return { kind: "in-use", reason: "address already in use (is another node running?)" };
  }
  if (error instanceof Deno.errors.NotCapable) {
    return {
      kind: "permission",
      reason: `this process may not listen on ${host}: its --allow-net does not grant it ` +
        `(the tasks grant the addresses the config names: see tasks/permissions.ts)`,
    };
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return { kind: "permission", reason: `the system refuses it (${message})` };
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return { kind: "not-local", reason: `${host} is not an address of this host` };
  }
  if (/lookup|resolve|not known|nodename/i.test(message)) {
    return { kind: "unresolved", reason: `cannot resolve ${host} (${message})` };
  }
  return { kind: "other", reason: message };
}
