import type { KeyDirectory, MacField, PeerMac } from "../crypto/mod.ts";

/**
 * Whether `tag` is the MAC of `proof` from peer `id`. On a mismatch the peer's key file is read
 * again once: the peer may have a new key since it was cached (an ephemeral network). A key
 * that cannot be read is a failed proof, reported to `onError`.
 */
export async function verifyPeer(
  mac: PeerMac,
  keys: KeyDirectory,
  id: string,
  tag: Uint8Array,
  proof: [string, ...MacField[]],
  onError?: (error: Error) => void,
): Promise<boolean> {
  try {
    if (mac.verify(await keys.get(id), tag, ...proof)) return true;
    return mac.verify(await keys.get(id, { fresh: true }), tag, ...proof);
  } catch (error) {
    onError?.(error as Error);
    return false;
  }
}
