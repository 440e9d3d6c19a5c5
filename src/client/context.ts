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

/** What a client records about each event. */
export interface ClientRecord {
  /** `prepared`, `sent`, `polled` or `delivered` (a message to itself arrived). */
  readonly event: "prepared" | "sent" | "polled" | "delivered";
  /** The round a packet was sent in. */
  readonly round?: number;
  /** Whether the sent packet was a real message or a dummy. */
  readonly kind?: "message" | "dummy";
  /** Milliseconds building an onion, sending a packet, or polling the mailbox. */
  readonly prepare_ms?: number;
  readonly send_ms?: number;
  readonly poll_ms?: number;
  /** Messages a poll fetched. */
  readonly messages?: number;
  /** From PrepareMessage to holding the decrypted message (messages to itself). */
  readonly latency_ms?: number;
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
