/**
 * A listening wire endpoint: accepts connections, checks that each starts with the wire
 * magic, and serves `MixServer` on it.
 *
 * @module
 */
import { splitAddress } from "../config/address.ts";
import { MixnetError } from "../errors.ts";
import { listenFailure } from "../rpc/listen.ts";
import { WIRE_HANDSHAKE_TIMEOUT_MS } from "../rpc/policy.ts";
import type { MixServerHandlers } from "../rpc/messages.ts";
import { WIRE_MAGIC, type WireConn } from "./frames.ts";
import { readExactly, serverHandshake, type WireCaller } from "./handshake.ts";
import { serveWire, type WireCheck } from "./serve.ts";

/** Options of {@link startWireServer}. */
export interface WireServerOptions {
  readonly handlers: MixServerHandlers;
  /** Largest message accepted, in bytes. */
  readonly maxMessageBytes: number;
  /** Called with every error a handler throws that is not a deliberate domain error. */
  readonly onInternalError?: (method: string, error: unknown) => void;
  /**
   * Called with a caller refused at its handshake (its address, and why): a proof part over its
   * limit, or a handshake not done within the timeout.
   */
  readonly onRefused?: (peer: string, reason: string) => void;
  /** Decides whether a call may reach its handler (see {@link WireCheck}). */
  readonly check?: WireCheck;
  /** Serve over TLS with this certificate and key (PEM); plain TCP when absent. */
  readonly tls?: { readonly cert: string; readonly key: string };
  /**
   * Closes a connection whose handshake (TLS's, where served, then the wire's) is not done
   * within this many milliseconds; default {@link WIRE_HANDSHAKE_TIMEOUT_MS}.
   */
  readonly handshakeTimeoutMs?: number;
}

/** A running wire server. */
export interface WireServer {
  /** The port it is bound to. */
  readonly port: number;
  /** Stops accepting and closes every connection. */
  close(): Promise<void>;
}

/**
 * Listens on `address` (`host:port`) and serves every connection that starts with the magic.
 *
 * @throws {MixnetError} unavailable when the address cannot be bound.
 */
export function startWireServer(address: string, options: WireServerOptions): WireServer {
  const { host: hostname, port } = splitAddress(address);
  const at = { hostname, port };
  let listener: Deno.Listener;
  try {
    listener = options.tls ? Deno.listenTls({ ...at, ...options.tls }) : Deno.listen(at);
  } catch (cause) {
    // The same words as a gRPC server's bind failure (rpc/listen.ts).
    const reason = listenFailure(address)?.reason ?? (cause as Error).message;
    throw new MixnetError(`Cannot listen on ${address}: ${reason}`, {
      status: "unavailable",
      cause,
    });
  }
  const connections = new Set<WireConn>();
  let closed = false;
  const serving = (async () => {
    for await (const conn of listener) {
      // Answers must not wait on the caller's ACK (a TLS connection offers no such switch).
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      connections.add(conn);
      acceptWire(conn, options).finally(() => connections.delete(conn));
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      if (closed) return await serving;
      closed = true;
      listener.close();
      for (const conn of connections) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      await serving;
    },
  };
}

/**
 * Serves one accepted connection if it starts with the magic and its caller's proof is in
 * within the handshake timeout; closes it otherwise.
 */
export async function acceptWire(conn: WireConn, options: WireServerOptions): Promise<void> {
  const address = conn.remoteAddr as Deno.NetAddr;
  const peer = `${address.hostname}:${address.port}`;
  let caller: WireCaller;
  const timeoutMs = options.handshakeTimeoutMs ?? WIRE_HANDSHAKE_TIMEOUT_MS;
  // Closing the connection ends the handshake's pending read. A TLS connection whose caller has
  // not finished TLS's own handshake is let go here, but Deno keeps its socket open until the
  // caller speaks or leaves: its TLS server closes a socket only once that handshake has ended.
  const timer = setTimeout(() => {
    options.onRefused?.(peer, `its handshake was not done within ${timeoutMs} ms`);
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }, timeoutMs);
  try {
    const magic = await readExactly(conn, WIRE_MAGIC.length);
    if (!magic.every((b, i) => b === WIRE_MAGIC[i])) throw new Error("not the wire protocol");
    caller = await serverHandshake(conn);
  } catch (error) {
    if (error instanceof MixnetError && error.status === "permission-denied") {
      options.onRefused?.(peer, error.message);
    }
    try {
      conn.close();
    } catch {
      // Already closed.
    }
    return;
  } finally {
    clearTimeout(timer);
  }
  await serveWire(conn, { ...options, peer, caller });
}
