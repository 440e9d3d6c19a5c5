/**
 * The replay tag of a layer: SHA-256 of its ephemeral public key, the first 32 bytes of every
 * sealed box. A fresh ephemeral key per layer makes the tag unique to one packet at one hop.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { KEY_BYTES } from "../crypto/mod.ts";

/** Returns the replay tag of `packet` as lowercase hex (a compact, hashable key). */
export function replayTag(packet: Uint8Array): string {
  return createHash("sha256").update(packet.subarray(0, KEY_BYTES)).digest("hex");
}
