/**
 * Message authentication between peers that know each other's public keys: a key from
 * X25519(own secret, peer public) (`crypto_box_beforenm`), then HMAC-SHA256 over a label and
 * length-prefixed fields, so that no two different requests share a MAC.
 *
 * @module
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { KeyPair, SealedBox } from "./box.ts";

/** Bytes of a MAC. */
export const MAC_BYTES = 32;

/** A field covered by a MAC. */
export type MacField = Uint8Array | string | number;

const encoder = new TextEncoder();

/**
 * Authenticates messages between this node and its peers, caching one derived key per peer
 * (deriving it costs one X25519).
 */
export class PeerMac {
  #box: SealedBox;
  #own: KeyPair;
  #keys = new Map<string, Uint8Array>();

  /** Creates the authenticator of the node that owns `own`. */
  constructor(box: SealedBox, own: KeyPair) {
    this.#box = box;
    this.#own = own;
  }

  /** Computes the MAC of `fields` under `label` for the peer with public key `peer`. */
  sign(peer: Uint8Array, label: string, ...fields: MacField[]): Uint8Array<ArrayBuffer> {
    return computeMac(this.#key(peer), label, fields);
  }

  /** Whether `mac` is the MAC of `fields` under `label` from the peer `peer`, in constant time. */
  verify(peer: Uint8Array, mac: Uint8Array, label: string, ...fields: MacField[]): boolean {
    if (!(mac instanceof Uint8Array) || mac.length !== MAC_BYTES) return false;
    return timingSafeEqual(computeMac(this.#key(peer), label, fields), mac);
  }

  #key(peer: Uint8Array): Uint8Array {
    const id = String.fromCharCode(...peer);
    let key = this.#keys.get(id);
    if (!key) {
      key = this.#box.sharedKey(this.#own.secretKey, peer);
      this.#keys.set(id, key);
    }
    return key;
  }
}

function computeMac(
  key: Uint8Array,
  label: string,
  fields: readonly MacField[],
): Uint8Array<ArrayBuffer> {
  const hmac = createHmac("sha256", key);
  for (const field of [label, ...fields]) {
    const bytes = field instanceof Uint8Array ? field : encoder.encode(String(field));
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, bytes.length);
    hmac.update(length);
    hmac.update(bytes);
  }
  return new Uint8Array(hmac.digest());
}
