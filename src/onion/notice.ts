/**
 * The notice a mailbox fetch carries to its owner, sealed to the owner's key so that nobody
 * else learns how many of the fetch's packets are real: real (4) ‖ pending (4) ‖ dropped (4),
 * big-endian.
 *
 * @module
 */
import { PacketError } from "../errors.ts";
import { NOTICE_BYTES } from "./sizes.ts";

/** What a notice tells the mailbox's owner about one fetch. */
export interface FetchNotice {
  /** How many of the response's payloads are real (they come first). */
  readonly real: number;
  /** Packets still waiting in the mailbox after this fetch. */
  readonly pending: number;
  /** Packets the mailbox has dropped for want of room since it was created. */
  readonly dropped: number;
}

/** Encodes a notice (before it is sealed). */
export function encodeNotice(notice: FetchNotice): Uint8Array {
  const bytes = new Uint8Array(NOTICE_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, notice.real);
  view.setUint32(4, notice.pending);
  view.setUint32(8, notice.dropped);
  return bytes;
}

/**
 * Decodes an opened notice.
 *
 * @throws {PacketError} with reason `"bad-notice"` when it is not {@link NOTICE_BYTES} long.
 */
export function decodeNotice(bytes: Uint8Array): FetchNotice {
  if (bytes.length !== NOTICE_BYTES) {
    throw new PacketError(
      `Malformed fetch notice: expected ${NOTICE_BYTES} bytes, got ${bytes.length}`,
      "bad-notice",
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return { real: view.getUint32(0), pending: view.getUint32(4), dropped: view.getUint32(8) };
}
