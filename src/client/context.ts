/**
 * What every stage of a client shares: its identity and keys, the route, its store, metrics
 * and logger.
 *
 * @module
 */
import type { Config, NodeConfig } from "../config/mod.ts";
import type { KeyPair, PeerMac, SealedBox } from "../crypto/mod.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { RouteNode } from "../onion/mod.ts";
import type { ClientStore } from "./store.ts";

/**
 * What a client records about each event: timings only. Nothing says whether a round carried
 * a message, a loop or a dummy, nor who a message was for or from.
 */
export interface ClientRecord {
  /** `prepared` (a message queued), `sent` (a round's packet) or `fetched` (a mailbox fetch). */
  readonly event: "prepared" | "sent" | "fetched";
  /** The round a packet was sent in, or a fetch waited for. */
  readonly round?: number;
  /** Milliseconds building an onion, sending a packet, or fetching the mailbox. */
  readonly prepare_ms?: number;
  readonly send_ms?: number;
  readonly fetch_ms?: number;
}

/** The shared state of a client's stages. */
export interface ClientContext {
  readonly id: string;
  /** This client's entry in the config. */
  readonly self: NodeConfig;
  readonly config: Config;
  readonly box: SealedBox;
  readonly keyPair: KeyPair;
  readonly mac: PeerMac;
  /** The mixes, in cascade order, with their public keys. */
  readonly route: readonly RouteNode[];
  readonly store: ClientStore;
  readonly metrics: Metrics<ClientRecord>;
  readonly logger: Logger;
}
