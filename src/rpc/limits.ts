/**
 * Limits derived from what a round really carries (clients' packets and cover packets), in
 * one place: gRPC message sizes, batch sizes, deadlines, and the configs that cannot work.
 *
 * @module
 */
import type { Config } from "../config/mod.ts";
import { innermostSize, packetSize } from "../onion/mod.ts";
import { BATCH_CHUNK_BYTES } from "./batch.ts";

/** Bytes of protobuf framing allowed per packet in a batch, and for the rest of a message. */
const PER_PACKET_SLACK = 16;
const MESSAGE_SLACK = 64 * 1024;

/** The largest message gRPC can carry: its length is a signed 32-bit integer in grpc-js. */
export const MAX_GRPC_MESSAGE_BYTES = 2 ** 31 - 1;

/** What the limits of a network depend on: a {@link Config} or its raw numbers. */
export type LimitInputs =
  & Pick<
    Config,
    "payloadSize" | "minBatch" | "fetchSize" | "maxQueuedBytes"
  >
  & { readonly mixServers: { length: number }; readonly clients: { length: number } };

/**
 * Most packets of one round on any link between mixes: every client's packet, or `min_batch`
 * when cover packets top the batch up to it.
 */
export function maxBatchPackets(config: LimitInputs): number {
  return Math.max(config.clients.length, config.minBatch);
}

/**
 * The largest gRPC message any node of `config` sends or accepts: a client's packet, one chunk
 * of a round's batch (chunks hold at most {@link BATCH_CHUNK_BYTES} of packets, or one packet
 * larger than that), or one mailbox fetch, with framing.
 */
export function maxMessageBytes(config: LimitInputs): number {
  const packet = packetSize(config.payloadSize, config.mixServers.length);
  const perChunk = Math.max(1, Math.floor(BATCH_CHUNK_BYTES / packet));
  const chunk = Math.min(maxBatchPackets(config), perChunk) * (packet + PER_PACKET_SLACK);
  const fetch = config.fetchSize * (innermostSize(config.payloadSize) + PER_PACKET_SLACK);
  return Math.max(packet, chunk, fetch) + MESSAGE_SLACK;
}

/**
 * Why a network of `config` cannot work with these limits, naming the fields, or undefined when
 * it can. Checked when the config is loaded: such a network would start and then stall.
 */
export function limitProblem(config: LimitInputs): string | undefined {
  const fetch = config.fetchSize * innermostSize(config.payloadSize);
  if (maxMessageBytes(config) > MAX_GRPC_MESSAGE_BYTES) {
    return `fetch_size: ${config.fetchSize} packets of payload_size ${config.payloadSize} make ` +
      `a mailbox fetch of ${fetch} bytes, more than one gRPC message can carry ` +
      `(${MAX_GRPC_MESSAGE_BYTES}): lower fetch_size or payload_size`;
  }
  const packet = packetSize(config.payloadSize, config.mixServers.length);
  if (config.maxQueuedBytes < packet) {
    return `max_queued_bytes: ${config.maxQueuedBytes} is less than one client packet ` +
      `(${packet} bytes at payload_size ${config.payloadSize}), so the first mix would refuse ` +
      `every packet: raise it to at least ${packet}`;
  }
  return undefined;
}

/**
 * Deadline of one attempt to forward a round, connecting included: 10 s, plus time to move the
 * largest round at 10 MB/s (a loaded machine moves several times that over loopback).
 */
export function forwardTimeoutMs(config: LimitInputs): number {
  const batchBytes = maxBatchPackets(config) *
    packetSize(config.payloadSize, config.mixServers.length);
  return 10_000 + Math.ceil(batchBytes / 10_000);
}

/**
 * How long the last mix holds a fetch for a round it has not stored yet: ten rounds, at least
 * 2 s and at most 30 s. Every client waits on the same rounds, so a stalled cascade answers
 * every fetch at the same moment too.
 */
export function fetchHoldMs(config: Config): number {
  return Math.min(30_000, Math.max(2_000, 10_000 * config.roundDuration));
}
