/**
 * Hashing every byte of a batch, as the batch MAC does on both sides of each hop: the
 * `batchDigest` in use (SHA-256 from node:crypto) beside the native alternatives, over
 * 10 packets of 1 MB and 1,000 of 1 KiB.
 */
import { createHash } from "node:crypto";
import sodium from "sodium-native";
import { batchDigest } from "../src/crypto/mod.ts";

const BATCHES = {
  "10 x 1 MB": Array.from({ length: 10 }, () => new Uint8Array(1_000_000).fill(7)),
  "1,000 x 1 KiB": Array.from({ length: 1000 }, () => new Uint8Array(1024).fill(7)),
};

/** The digest's construction (length-prefixed packets) over one streaming hash. */
function streamed(packets: Uint8Array[], update: (bytes: Uint8Array) => void): void {
  const length = new Uint8Array(4);
  const view = new DataView(length.buffer);
  for (const packet of packets) {
    view.setUint32(0, packet.length);
    update(length);
    update(packet);
  }
}

for (const [label, packets] of Object.entries(BATCHES)) {
  const group = `hash ${label}`;
  Deno.bench(`batchDigest (node:crypto SHA-256) ${label}`, { group, baseline: true }, () => {
    batchDigest(packets);
  });
  Deno.bench(`sodium-native SHA-256 ${label}`, { group }, () => {
    const state = new Uint8Array(sodium.crypto_hash_sha256_STATEBYTES);
    sodium.crypto_hash_sha256_init(state);
    streamed(packets, (bytes) => sodium.crypto_hash_sha256_update(state, bytes));
    sodium.crypto_hash_sha256_final(state, new Uint8Array(32));
  });
  Deno.bench(`sodium-native BLAKE2b-256 ${label}`, { group }, () => {
    const state = new Uint8Array(sodium.crypto_generichash_STATEBYTES);
    sodium.crypto_generichash_init(state, null, 32);
    streamed(packets, (bytes) => sodium.crypto_generichash_update(state, bytes));
    sodium.crypto_generichash_final(state, new Uint8Array(32));
  });
  Deno.bench(`node:crypto BLAKE2b-512 ${label}`, { group }, () => {
    const hash = createHash("blake2b512");
    streamed(packets, (bytes) => hash.update(bytes));
    hash.digest();
  });
}
