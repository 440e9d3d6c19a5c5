/**
 * Every size, offset and wire constant of the packet format, and nothing else. A packet at hop
 * i of n mixes is a sealed box to mix i holding
 *
 *   version (1) ‖ next hop (HOP_BYTES) ‖ packet for hop i+1
 *
 * and the innermost packet is a sealed box to the recipient holding
 *
 *   kind (1) ‖ message id (16) ‖ message length (4, big-endian) ‖ message padded with zeros to
 *   payload_size.
 *
 * @module
 */
import { SEAL_OVERHEAD } from "../crypto/mod.ts";

/** Version byte of a mix layer. */
export const LAYER_VERSION = 1;

/** Kinds of next hop a layer names. */
export const HopKind = {
  /** Another mix: forward the inner packet to it. */
  mix: 1,
  /** A client: store the inner packet in its mailbox. */
  client: 2,
  /** Cover traffic: the last mix discards it. */
  sink: 3,
} as const;

/** A kind of next hop. */
export type HopKind = typeof HopKind[keyof typeof HopKind];

/** Longest address (`host:port`, UTF-8) a hop can name. */
export const HOP_ADDRESS_BYTES = 126;
/** Bytes of an encoded hop: kind (1) ‖ address length (1) ‖ address padded to HOP_ADDRESS_BYTES. */
export const HOP_BYTES = 2 + HOP_ADDRESS_BYTES;
/** Bytes of a mix layer's plaintext before its inner packet. */
export const LAYER_HEADER_BYTES = 1 + HOP_BYTES;
/** Bytes one mix layer adds to a packet. */
export const LAYER_OVERHEAD = SEAL_OVERHEAD + LAYER_HEADER_BYTES;

/** Kinds of innermost payload. */
export const PayloadKind = {
  /** A user's message. */
  message: 1,
  /** Cover traffic addressed to the sink: what a client sends when it has nothing to say. */
  dummy: 2,
  /** A client's loop to its own mailbox, to notice a mix that drops its packets. */
  loop: 3,
} as const;

/** A kind of innermost payload. */
export type PayloadKind = typeof PayloadKind[keyof typeof PayloadKind];

/** Bytes of a message id: random, chosen once per message and kept across its attempts. */
export const MESSAGE_ID_BYTES = 16;

/** Bytes of the innermost plaintext before the message: kind (1) ‖ id (16) ‖ length (4). */
export const PAYLOAD_HEADER_BYTES = 1 + MESSAGE_ID_BYTES + 4;

/** Bytes of the innermost packet (the recipient's sealed box) for a given `payload_size`. */
export function innermostSize(payloadSize: number): number {
  return SEAL_OVERHEAD + PAYLOAD_HEADER_BYTES + payloadSize;
}

/**
 * Bytes of every packet that still has `layers` mix layers on it: what mix `n - layers` of a
 * cascade of n receives (`layers = n` for the first mix).
 */
export function packetSize(payloadSize: number, layers: number): number {
  return innermostSize(payloadSize) + layers * LAYER_OVERHEAD;
}

/** Bytes of the token that names a mailbox fetch's response (random). */
export const TOKEN_BYTES = 16;

/** Bytes of a fetch notice before it is sealed: real, pending and dropped, uint32 each. */
export const NOTICE_BYTES = 12;
