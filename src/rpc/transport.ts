/**
 * Which links of a node run over TLS, and with which certificates, read from the config: a
 * link to a node uses TLS when that node's entry says so (`tls` in the config), both ends read
 * the same entry, and each end pins the other's published certificate `<id>.crt`.
 *
 * - A mix serves TLS when its own entry says so; the mix before it must show its certificate
 *   for `ForwardBatch` (mutual TLS), clients show none (their MACs authenticate them).
 * - A client serves its user's API over TLS the same way; its user (the CLI) pins it.
 *
 * @module
 */
import type * as grpc from "@grpc/grpc-js";
import type { Config, NodeConfig } from "../config/mod.ts";
import {
  type Certificate,
  CryptoError,
  ensureTlsIdentity,
  readCertificate,
  TLS_SERVER_NAME,
  type TlsIdentity,
} from "../crypto/mod.ts";
import { MixnetError } from "../errors.ts";
import { type Logger, RateLimitedLog } from "../log.ts";
import { type WireCheck, type WireDialer, WireStub } from "../wire/mod.ts";
import type { AuthCheck } from "./server.ts";
import { type MixServerCalls, MixServerStub } from "./stubs.ts";
import { certificateSeen, pinnedChannel, type PinnedPeer, TlsServer } from "./tls.ts";

/** Options of {@link NodeTransport.load}. */
export interface TransportOptions {
  /** Logs waiting for a peer's certificate, and refused callers. */
  readonly logger: Logger;
  /** How long to wait for a peer's certificate to be published; default 120 s. */
  readonly timeoutMs?: number;
}

/** A node's side of every link it has: what it serves with, and what it dials with. */
export class NodeTransport {
  /** The server side, when this node serves TLS. */
  readonly server: TlsServer | undefined;
  readonly #identity: TlsIdentity | undefined;
  readonly #pins: Map<string, PinnedPeer>;
  /** Peers this node shows its certificate to (a mix to the next). */
  readonly #presentsTo: ReadonlySet<string>;
  readonly #logger: Logger;

  private constructor(
    server: TlsServer | undefined,
    identity: TlsIdentity | undefined,
    pins: Map<string, PinnedPeer>,
    presentsTo: ReadonlySet<string>,
    logger: Logger,
  ) {
    this.server = server;
    this.#identity = identity;
    this.#pins = pins;
    this.#presentsTo = presentsTo;
    this.#logger = logger;
  }

  /**
   * Loads what node `id` needs: its own TLS key and certificate when it serves TLS or shows a
   * certificate to the next mix (made on first use, and published before waiting on anyone),
   * then the certificate of every peer it dials or verifies over TLS, waiting for each to be
   * published.
   *
   * @throws {CryptoError} when the node's own TLS files are unusable, or a peer's certificate
   * does not appear in time.
   */
  static async load(config: Config, id: string, options: TransportOptions): Promise<NodeTransport> {
    const links = linksOf(config, id);
    const needsIdentity = links.self.tls ||
      links.dials.some((d) => d.presentIdentity && d.node.tls);
    const ensured = needsIdentity
      ? await ensureTlsIdentity({ configDir: config.dir, keysDir: config.keysDir }, id)
      : undefined;
    const identity = ensured?.identity;
    if (identity) {
      options.logger.info("TLS certificate", { fingerprint: identity.certificate.fingerprint });
    }
    if (ensured?.replaced) {
      options.logger.warn(
        "replaced another certificate published under this id: peers that pinned it refuse " +
          "this node until they have this one (export a new descriptor)",
        { previous: ensured.replaced },
      );
    }
    const pins = new Map<string, PinnedPeer>();
    const pinned = [
      ...links.dials.map((d) => d.node).filter((n) => n.tls),
      ...(links.self.tls ? links.callers : []),
    ];
    for (const node of pinned) {
      if (pins.has(node.id)) continue;
      const certificate = await waitForCertificate(config, node.id, options);
      pins.set(node.id, { id: node.id, address: node.address, certificate });
    }
    const callers = links.self.tls ? links.callers.map((c) => pins.get(c.id)!) : [];
    const server = links.self.tls ? new TlsServer(identity!, callers) : undefined;
    const presentsTo = new Set(links.dials.filter((d) => d.presentIdentity).map((d) => d.node.id));
    return new NodeTransport(server, identity, pins, presentsTo, options.logger);
  }

  /**
   * Credentials of this node's channel to `peer`: pinned TLS (showing this node's certificate
   * to a mix, when it has one) when links to `peer` run over TLS, else none (plain gRPC).
   */
  channelTo(peer: NodeConfig): grpc.ChannelCredentials | undefined {
    if (!peer.tls) return undefined;
    return pinnedChannel(this.#pins.get(peer.id)!, this.#identity);
  }

  /**
   * This node's calls to mix `peer`: over the peer's wire protocol when it has a wire port
   * (TLS pinned to its certificate when links to it use TLS, this node proving its own
   * certificate where it shows one), else over gRPC with {@link channelTo}'s credentials.
   */
  mixStub(
    peer: NodeConfig,
    options: { maxMessageBytes: number; name?: string; timeoutMs?: number },
  ): MixServerCalls {
    if (!peer.wire) {
      return new MixServerStub(peer.address, { ...options, credentials: this.channelTo(peer) });
    }
    const presents = peer.tls && this.#presentsTo.has(peer.id);
    return new WireStub(peer.wire.address, {
      ...options,
      dial: peer.tls ? pinnedWireDialer(this.#pins.get(peer.id)!) : undefined,
      identity: presents ? this.#identity : undefined,
    });
  }

  /** How this node serves its wire port: TLS with its own certificate where links to it use it. */
  get wireTls(): { readonly cert: string; readonly key: string } | undefined {
    if (!this.server || !this.#identity) return undefined;
    return { cert: this.#identity.certificate.pem, key: this.#identity.keyPem };
  }

  /**
   * The wire check that lets `method` through only from `caller` proving its pinned
   * certificate, when this node serves TLS and pins that caller; undefined otherwise.
   */
  wireRequireCaller(
    method: string,
    caller: NodeConfig,
    onRefused?: () => void,
  ): WireCheck | undefined {
    const pin = this.#pins.get(caller.id);
    if (!this.server || !pin) return undefined;
    const warnings = new RateLimitedLog(this.#logger);
    const expected = pin.certificate.fingerprint;
    return (name, call) => {
      if (name !== method || call.fingerprint === expected) return;
      onRefused?.();
      const shown = call.fingerprint
        ? `certificate ${call.fingerprint}`
        : `no certificate${call.unproved ? ` (${call.unproved})` : ""}`;
      warnings.warn(`refused ${method} from a caller without ${pin.id}'s certificate`, {
        peer: call.peer,
        presented: call.fingerprint ?? "none",
        ...(call.unproved ? { unproved: call.unproved } : {}),
        expected,
      });
      throw new MixnetError(
        `${method} needs the certificate of ${pin.id} (${expected}): the caller at ${call.peer} ` +
          `proved ${shown}`,
        { status: "unauthenticated" },
      );
    };
  }

  /**
   * The check that lets `method` through only from `caller` showing its pinned certificate,
   * when this node serves TLS and pins that caller; undefined otherwise.
   */
  requireCaller(method: string, caller: NodeConfig, onRefused?: () => void): AuthCheck | undefined {
    const pin = this.#pins.get(caller.id);
    if (!this.server || !pin) return undefined;
    return this.server.requireCaller(method, pin, { logger: this.#logger, onRefused });
  }
}

/**
 * Dials a wire port over TLS that accepts only `pin`'s certificate; a refusal names the peer,
 * the fingerprint pinned and the one it presented.
 */
export function pinnedWireDialer(pin: PinnedPeer): WireDialer {
  return async (host, port) => {
    const tcp = await Deno.connect({ hostname: host, port });
    // Kept by the TLS connection: its frames must not wait on the peer's ACK either.
    tcp.setNoDelay(true);
    let conn: Deno.TlsConn | undefined;
    try {
      conn = await Deno.startTls(tcp, {
        hostname: TLS_SERVER_NAME,
        caCerts: [pin.certificate.pem],
      });
      await conn.handshake();
      return conn;
    } catch (cause) {
      try {
        (conn ?? tcp).close();
      } catch {
        // Already closed with its failed handshake.
      }
      const seen = await certificateSeen(host, port);
      throw new MixnetError(
        `TLS to ${pin.id} at ${host}:${port} refused: it presented ${
          seen ? `certificate ${seen}` : "no certificate"
        }, not the one pinned for it (${pin.certificate.fingerprint})`,
        { status: "unavailable", cause },
      );
    }
  };
}

/**
 * Credentials of a user's channel to `node` (the CLI to its client): TLS pinned to the node's
 * published certificate when links to it use TLS, else none.
 *
 * @throws {CryptoError} when the node's certificate is not published.
 */
export async function userChannel(
  config: Config,
  node: NodeConfig,
): Promise<grpc.ChannelCredentials | undefined> {
  if (!node.tls) return undefined;
  const certificate = await readCertificate(config.dir, node.id);
  return pinnedChannel({ id: node.id, address: node.address, certificate });
}

/** The links of node `id`: whom it dials (and whether it shows its own certificate), who may call it with one. */
function linksOf(config: Config, id: string) {
  const index = config.mixServers.findIndex((m) => m.id === id);
  if (index >= 0) {
    const next = config.mixServers[index + 1];
    const previous = config.mixServers[index - 1];
    return {
      self: config.mixServers[index],
      dials: next ? [{ node: next, presentIdentity: true }] : [],
      callers: previous ? [previous] : [],
    };
  }
  const self = config.clients.find((c) => c.id === id);
  if (!self) {
    throw new CryptoError(`Cannot set up TLS for ${id}: it is neither a mix nor a client`, {
      status: "invalid-argument",
    });
  }
  const first = config.mixServers[0];
  const last = config.mixServers[config.mixServers.length - 1];
  return {
    self,
    dials: [first, last].map((node) => ({ node, presentIdentity: false })),
    callers: [],
  };
}

async function waitForCertificate(
  config: Config,
  id: string,
  options: TransportOptions,
): Promise<Certificate> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  let logged = false;
  for (;;) {
    try {
      return await readCertificate(config.dir, id);
    } catch (error) {
      if (Date.now() >= deadline) {
        throw new CryptoError(
          `Certificate of ${id} did not appear within ${timeoutMs / 1000} s: ${
            (error as Error).message
          }`,
          { status: "failed-precondition", cause: error },
        );
      }
      if (!logged) {
        options.logger.info("waiting for a peer's certificate", { peer: id });
        logged = true;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
