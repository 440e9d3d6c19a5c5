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
  type TlsIdentity,
} from "../crypto/mod.ts";
import type { Logger } from "../log.ts";
import type { AuthCheck } from "./server.ts";
import { pinnedChannel, type PinnedPeer, TlsServer } from "./tls.ts";

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
  readonly #logger: Logger;

  private constructor(
    server: TlsServer | undefined,
    identity: TlsIdentity | undefined,
    pins: Map<string, PinnedPeer>,
    logger: Logger,
  ) {
    this.server = server;
    this.#identity = identity;
    this.#pins = pins;
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
    return new NodeTransport(server, identity, pins, options.logger);
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
