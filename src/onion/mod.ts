/**
 * The packet format: build an onion, peel one layer, open the payload, the replay tag. Pure
 * functions over bytes with every size defined in `sizes.ts`.
 *
 * @module
 */
export { decodeHop, encodeHop, type Hop } from "./hop.ts";
export {
  buildOnion,
  type OnionSpec,
  openPayload,
  type Payload,
  type PeeledLayer,
  peelLayer,
  type RouteNode,
} from "./onion.ts";
export { replayTag } from "./replay.ts";
export {
  HOP_ADDRESS_BYTES,
  HOP_BYTES,
  HopKind,
  innermostSize,
  LAYER_HEADER_BYTES,
  LAYER_OVERHEAD,
  LAYER_VERSION,
  packetSize,
  PAYLOAD_HEADER_BYTES,
  PayloadKind,
} from "./sizes.ts";
