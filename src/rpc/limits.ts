/**
 * gRPC message size limits derived from the config: a whole round's batch must fit.
 *
 * @module
 */
import type { Config } from "../config/mod.ts";
import { packetSize } from "../onion/mod.ts";

/** Bytes of protobuf framing allowed per packet in a batch, and for the rest of a message. */
const PER_PACKET_SLACK = 16;
const MESSAGE_SLACK = 64 * 1024;

/**
 * The largest gRPC message any node of `config` sends or accepts: one round's batch at the
 * first mix (every client's packet), with framing.
 */
export function maxMessageBytes(config: Config): number {
  const packet = packetSize(config.payloadSize, config.mixServers.length);
  return config.clients.length * (packet + PER_PACKET_SLACK) + MESSAGE_SLACK;
}
