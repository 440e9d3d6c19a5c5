/**
 * What each authenticated request proves, as the label and field order its MAC covers. Signer
 * and verifier both call these, so the two sides cannot drift apart:
 *
 *   mac.sign(peer, ...registerProof(request))
 *   mac.verify(peer, request.mac, ...registerProof(request))
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { MacField } from "./mac.ts";

/** A client proves to the first mix that it holds its key, at a fresh time. */
export function registerProof(
  r: { client_id: string; timestamp_ms: number },
): [string, ...MacField[]] {
  return ["register", r.client_id, r.timestamp_ms];
}

/** A client proves to the first mix that this packet for this round is its one packet. */
export function forwardProof(
  r: { client_id: string; round: number; payload: Uint8Array },
): [string, ...MacField[]] {
  return ["forward", r.client_id, r.round, r.payload];
}

/**
 * A client proves to the last mix that it owns the mailbox it fetches, at a fresh time, and
 * which round it waits for and which response it acknowledges.
 */
export function pollProof(r: {
  client_id: string;
  client_addr: string;
  timestamp_ms: number;
  round: number;
  ack: Uint8Array;
}): [string, ...MacField[]] {
  return ["poll", r.client_id, r.client_addr, r.timestamp_ms, r.round, r.ack];
}

/** A mix proves to the next mix that it sent this chunk of this round's batch. */
export function batchProof(
  r: {
    mix_id: string;
    round: number;
    packets: readonly Uint8Array[];
    packed?: Uint8Array;
    packet_bytes?: number;
    chunk?: number;
    chunks?: number;
  },
): [string, ...MacField[]] {
  const digest = r.packed && r.packed.length > 0
    ? packedDigest(r.packed, r.packet_bytes ?? 0)
    : batchDigest(r.packets);
  return ["batch", r.mix_id, r.round, r.chunk ?? 0, r.chunks || 1, digest];
}

/** SHA-256 over the length-prefixed packets of a batch sent one by one. */
export function batchDigest(packets: readonly Uint8Array[]): Uint8Array {
  const hash = createHash("sha256");
  const length = new Uint8Array(4);
  const view = new DataView(length.buffer);
  for (const packet of packets) {
    view.setUint32(0, packet.length);
    hash.update(length);
    hash.update(packet);
  }
  return new Uint8Array(hash.digest());
}

/**
 * SHA-256 over a packed batch: the word 0xFFFFFFFF (no packet is that long, so no one-by-one
 * digest's input starts with it), the packet size, then the packets end to end, in one update.
 */
export function packedDigest(packed: Uint8Array, packetBytes: number): Uint8Array {
  const header = new Uint8Array(8);
  const view = new DataView(header.buffer);
  view.setUint32(0, 0xffff_ffff);
  view.setUint32(4, packetBytes);
  return new Uint8Array(createHash("sha256").update(header).update(packed).digest());
}
