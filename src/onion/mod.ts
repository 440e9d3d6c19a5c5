/**
 * The packet format: build an onion, peel one layer, open the payload, the replay tag, and what
 * a mailbox fetch carries besides (padding, the sealed notice). Pure functions over bytes with
 * every size defined in `sizes.ts`.
 *
 * @module
 */
export { decodeHop, encodeHop, type Hop } from "./hop.ts";
export {
  buildOnion,
  mailboxPadding,
  newMessageId,
  type OnionSpec,
  openPayload,
  type Payload,
  type PeeledLayer,
  peelLayer,
  type RouteNode,
} from "./onion.ts";
export { decodeNotice, encodeNotice, type FetchNotice } from "./notice.ts";
export { replayTag } from "./replay.ts";
export {
  HOP_ADDRESS_BYTES,
  HOP_BYTES,
  HopKind,
  innermostSize,
  LAYER_HEADER_BYTES,
  LAYER_OVERHEAD,
  LAYER_VERSION,
  MESSAGE_ID_BYTES,
  NOTICE_BYTES,
  packetSize,
  PAYLOAD_HEADER_BYTES,
  PayloadKind,
  TOKEN_BYTES,
} from "./sizes.ts";
