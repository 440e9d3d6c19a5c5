/**
 * gRPC message size limits derived from the config: a whole round's batch must fit.
 *
 * @module
 */
import type { Config } from "../config/mod.ts";
import { innermostSize, packetSize } from "../onion/mod.ts";

/**
 * Largest share of a round one message of the `ForwardBatch` stream carries. A round travels as
 * chunks of about this size, so encoding never blocks a mix's event loop on one giant message
 * (grpc-js on Deno moves 1 MB in ~12 ms but 16 MB in ~0.55 s), and the next mix stores and
 * starts peeling each chunk as it arrives. Smaller chunks overlap more but cost more: with 256
 * KiB, a 10 x 100 KB round took 8.6 ms per hop instead of 6, and a 10,000 x 1 KiB round 0.66 s
 * instead of 0.55 s.
 */
export const BATCH_CHUNK_BYTES = 1024 * 1024;

/** Splits a round's packets into chunks of at most {@link BATCH_CHUNK_BYTES} (at least one). */
export function chunkBatch(packets: readonly Uint8Array[]): Uint8Array[][] {
  const chunks: Uint8Array[][] = [[]];
  let bytes = 0;
  for (const packet of packets) {
    const current = chunks[chunks.length - 1];
    if (current.length > 0 && bytes + packet.length > BATCH_CHUNK_BYTES) {
      chunks.push([packet]);
      bytes = packet.length;
    } else {
      current.push(packet);
      bytes += packet.length;
    }
  }
  return chunks;
}

/** Bytes of protobuf framing allowed per packet in a batch, and for the rest of a message. */
const PER_PACKET_SLACK = 16;
const MESSAGE_SLACK = 64 * 1024;

/**
 * The largest gRPC message any node of `config` sends or accepts: one round's batch at the
 * first mix (every client's packet), or one mailbox fetch, with framing.
 */
export function maxMessageBytes(config: Config): number {
  const packet = packetSize(config.payloadSize, config.mixServers.length);
  const batch = config.clients.length * (packet + PER_PACKET_SLACK);
  const fetch = config.fetchSize * (innermostSize(config.payloadSize) + PER_PACKET_SLACK);
  return Math.max(batch, fetch) + MESSAGE_SLACK;
}

/**
 * How long the last mix holds a fetch for a round it has not stored yet: ten rounds, at least
 * 2 s and at most 30 s. Every client waits on the same rounds, so a stalled cascade answers
 * every fetch at the same moment too.
 */
export function fetchHoldMs(config: Config): number {
  return Math.min(30_000, Math.max(2_000, 10_000 * config.roundDuration));
}
