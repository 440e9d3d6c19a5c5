/**
 * Building an onion (client side), peeling one layer (mix side) and opening the innermost
 * payload (recipient side). Pure functions over bytes: no I/O, no base64, no JSON.
 *
 * @module
 */
import { randomFillSync } from "node:crypto";
import { CryptoError, PacketError } from "../errors.ts";
import { KEY_BYTES, type KeyPair, type SealedBox } from "../crypto/mod.ts";
import { decodeHop, encodeHop, type Hop } from "./hop.ts";
import {
  HopKind,
  innermostSize,
  LAYER_HEADER_BYTES,
  LAYER_VERSION,
  MESSAGE_ID_BYTES,
  packetSize,
  PAYLOAD_HEADER_BYTES,
  PayloadKind,
} from "./sizes.ts";

const KINDS = new Set<number>(Object.values(PayloadKind));

/** A node of a route: where it listens and its public key. */
export interface RouteNode {
  /** `host:port` of the node. */
  readonly address: string;
  /** Its X25519 public key. */
  readonly publicKey: Uint8Array;
}

/** What {@link buildOnion} wraps. */
export interface OnionSpec {
  /** The message bytes, at most `payloadSize`. */
  readonly message: Uint8Array;
  /** A user message, a dummy or a loop. */
  readonly kind: PayloadKind;
  /**
   * The message id ({@link MESSAGE_ID_BYTES} bytes): the same for every attempt at sending one
   * message, so its recipient keeps it once. Random when absent.
   */
  readonly id?: Uint8Array;
  /** The recipient client, or `null` for cover traffic addressed to the sink. */
  readonly recipient: RouteNode | null;
  /** The mixes the packet crosses, in order. */
  readonly route: readonly RouteNode[];
  /** Bytes every message is padded to. */
  readonly payloadSize: number;
}

/**
 * Builds a packet for `spec.route[0]`: the message padded to `payloadSize` and sealed to the
 * recipient, then one layer per mix, innermost last. Every packet built for the same route
 * length and payload size has the same length, and every call uses fresh ephemeral keys, so
 * two packets of one message share no bytes.
 *
 * @throws {PacketError} when the message is longer than `payloadSize` or the id is not
 * {@link MESSAGE_ID_BYTES} bytes.
 */
export function buildOnion(box: SealedBox, spec: OnionSpec): Uint8Array {
  const { message, payloadSize, route } = spec;
  if (message.length > payloadSize) {
    throw new PacketError(
      `Message is too long: ${message.length} bytes, a packet carries at most ${payloadSize}`,
      "too-long",
      { status: "out-of-range" },
    );
  }
  const id = spec.id ?? newMessageId();
  if (id.length !== MESSAGE_ID_BYTES) {
    throw new PacketError(
      `Message id must be ${MESSAGE_ID_BYTES} bytes, got ${id.length}`,
      "bad-payload",
    );
  }
  const payload = new Uint8Array(PAYLOAD_HEADER_BYTES + payloadSize);
  payload[0] = spec.kind;
  payload.set(id, 1);
  new DataView(payload.buffer).setUint32(1 + MESSAGE_ID_BYTES, message.length);
  payload.set(message, PAYLOAD_HEADER_BYTES);
  // Cover traffic has no recipient: its innermost box is sealed to a throwaway key.
  const innermostKey = spec.recipient?.publicKey ?? box.generateKeyPair().publicKey;
  let packet = box.seal(payload, innermostKey);
  for (let i = route.length - 1; i >= 0; i--) {
    const next: Hop = i + 1 < route.length
      ? { kind: HopKind.mix, address: route[i + 1].address }
      : spec.recipient
      ? { kind: HopKind.client, address: spec.recipient.address }
      : { kind: HopKind.sink, address: "" };
    const layer = new Uint8Array(LAYER_HEADER_BYTES + packet.length);
    layer[0] = LAYER_VERSION;
    encodeHop(next, layer, 1);
    layer.set(packet, LAYER_HEADER_BYTES);
    packet = box.seal(layer, route[i].publicKey);
  }
  return packet;
}

/** One layer removed by a mix. */
export interface PeeledLayer {
  /** Where the inner packet goes. */
  readonly next: Hop;
  /** The packet for the next hop (a view into the opened layer). */
  readonly inner: Uint8Array;
}

/**
 * Removes the layer sealed to `mix`. `layers` is how many layers the packet must carry (n - i
 * at mix i of n), which fixes the only valid length.
 *
 * @throws {PacketError} with reason `"wrong-size"`, `"undecryptable"`, `"bad-version"` or
 * `"bad-hop"`.
 */
export function peelLayer(
  box: SealedBox,
  packet: Uint8Array,
  mix: KeyPair,
  expected: { readonly payloadSize: number; readonly layers: number },
): PeeledLayer {
  const size = packetSize(expected.payloadSize, expected.layers);
  if (packet.length !== size) {
    throw new PacketError(
      `Cannot peel packet: expected ${size} bytes at this hop, got ${packet.length}`,
      "wrong-size",
    );
  }
  const layer = openOrThrow(box, packet, mix, "peel packet");
  if (layer[0] !== LAYER_VERSION) {
    throw new PacketError(
      `Cannot peel packet: unknown layer version ${layer[0]}, expected ${LAYER_VERSION}`,
      "bad-version",
    );
  }
  return { next: decodeHop(layer, 1), inner: layer.subarray(LAYER_HEADER_BYTES) };
}

/** A fresh random message id. */
export function newMessageId(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(MESSAGE_ID_BYTES));
}

/** The innermost payload, opened by its recipient. */
export interface Payload {
  /** A user message, a dummy or a loop. */
  readonly kind: PayloadKind;
  /** The message id, the same for every attempt at sending it. */
  readonly id: Uint8Array;
  /** The message without its padding. */
  readonly message: Uint8Array;
}

/**
 * Opens an innermost packet with the recipient's key and strips the padding.
 *
 * @throws {PacketError} with reason `"wrong-size"`, `"undecryptable"` or `"bad-payload"`.
 */
export function openPayload(
  box: SealedBox,
  packet: Uint8Array,
  recipient: KeyPair,
  payloadSize: number,
): Payload {
  const size = innermostSize(payloadSize);
  if (packet.length !== size) {
    throw new PacketError(
      `Cannot open payload: expected ${size} bytes, got ${packet.length}`,
      "wrong-size",
    );
  }
  const plain = openOrThrow(box, packet, recipient, "open payload");
  const kind = plain[0];
  const length = new DataView(plain.buffer, plain.byteOffset).getUint32(1 + MESSAGE_ID_BYTES);
  if (!KINDS.has(kind) || length > payloadSize) {
    throw new PacketError(
      `Cannot open payload: malformed header (kind ${kind}, length ${length})`,
      "bad-payload",
    );
  }
  return {
    kind: kind as PayloadKind,
    id: plain.subarray(1, 1 + MESSAGE_ID_BYTES),
    message: plain.subarray(PAYLOAD_HEADER_BYTES, PAYLOAD_HEADER_BYTES + length),
  };
}

/**
 * A packet of the innermost size that nobody but the mailbox's owner can tell from a real one:
 * a fresh X25519 public key (as every sealed box starts with) and random bytes where a box's
 * ciphertext and tag would be. Its owner finds that it does not open. The last mix fills every
 * fetch up to `fetch_size` with these.
 */
export function mailboxPadding(box: SealedBox, payloadSize: number): Uint8Array {
  const packet = new Uint8Array(innermostSize(payloadSize));
  packet.set(box.generateKeyPair().publicKey);
  randomFillSync(packet, KEY_BYTES);
  return packet;
}

function openOrThrow(box: SealedBox, packet: Uint8Array, key: KeyPair, action: string) {
  try {
    return box.open(packet, key);
  } catch (cause) {
    if (!(cause instanceof CryptoError)) throw cause;
    throw new PacketError(`Cannot ${action}: layer authentication failed`, "undecryptable", {
      cause,
    });
  }
}
