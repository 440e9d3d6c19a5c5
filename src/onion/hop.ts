/**
 * The fixed-width encoding of a next hop: kind (1) ‖ address length (1) ‖ UTF-8 address padded
 * with zeros.
 *
 * @module
 */
import { PacketError } from "../errors.ts";
import { HOP_ADDRESS_BYTES, HOP_BYTES, HopKind } from "./sizes.ts";

/** Where a mix sends a packet next. */
export interface Hop {
  /** A mix, a client's mailbox, or the sink of cover traffic. */
  readonly kind: HopKind;
  /** `host:port` of the mix or client; empty for the sink. */
  readonly address: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const KINDS = new Set<number>(Object.values(HopKind));

/**
 * Writes `hop` into `out` at `offset` (HOP_BYTES bytes).
 *
 * @throws {PacketError} when the address is longer than HOP_ADDRESS_BYTES.
 */
export function encodeHop(hop: Hop, out: Uint8Array, offset: number): void {
  const address = encoder.encode(hop.address);
  if (address.length > HOP_ADDRESS_BYTES) {
    throw new PacketError(
      `Cannot encode next hop ${hop.address}: its address is ${address.length} bytes, ` +
        `at most ${HOP_ADDRESS_BYTES} fit`,
      "bad-hop",
    );
  }
  out[offset] = hop.kind;
  out[offset + 1] = address.length;
  out.set(address, offset + 2);
  out.fill(0, offset + 2 + address.length, offset + HOP_BYTES);
}

/**
 * Reads a hop from `bytes` at `offset`.
 *
 * @throws {PacketError} with reason `"bad-hop"` when the kind or address is malformed.
 */
export function decodeHop(bytes: Uint8Array, offset: number): Hop {
  const kind = bytes[offset];
  const length = bytes[offset + 1];
  if (!KINDS.has(kind) || length > HOP_ADDRESS_BYTES) {
    throw new PacketError(`Malformed next hop: kind ${kind}, address length ${length}`, "bad-hop");
  }
  try {
    const address = decoder.decode(bytes.subarray(offset + 2, offset + 2 + length));
    return { kind: kind as HopKind, address };
  } catch (cause) {
    throw new PacketError("Malformed next hop: address is not UTF-8", "bad-hop", { cause });
  }
}
