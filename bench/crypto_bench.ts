/**
 * Sealed-box cost per backend: seal and open at 1 KiB, 100 KB and 1 MB, one X25519 key
 * agreement, and X25519 key generation beside `node:crypto`'s (a mix or client makes one
 * ephemeral key per layer it seals).
 */
import { Buffer } from "node:buffer";
import { generateKeyPairSync } from "node:crypto";
import { BACKENDS, createSealedBox } from "../src/crypto/mod.ts";

const SIZES: Record<string, number> = {
  "1 KiB": 1024,
  "100 KB": 100_000,
  "1 MB": 1_000_000,
};

for (const name of Object.keys(BACKENDS)) {
  const box = await createSealedBox(name);
  const pair = box.generateKeyPair();
  for (const [label, size] of Object.entries(SIZES)) {
    const message = new Uint8Array(size);
    const sealed = box.seal(message, pair.publicKey);
    Deno.bench(`${name} seal ${label}`, { group: `seal ${label}` }, () => {
      box.seal(message, pair.publicKey);
    });
    Deno.bench(`${name} open ${label}`, { group: `open ${label}` }, () => {
      box.open(sealed, pair);
    });
  }
  Deno.bench(`${name} shared key (one X25519)`, { group: "x25519" }, () => {
    box.sharedKey(pair.secretKey, pair.publicKey);
  });
  Deno.bench(`${name} generate a key pair`, { group: "keygen" }, () => {
    box.generateKeyPair();
  });
}

// What the earlier native backend did per ephemeral key: node:crypto, exported as raw bytes.
Deno.bench("node:crypto generate an X25519 key pair, raw bytes", { group: "keygen" }, () => {
  const { publicKey, privateKey } = generateKeyPairSync("x25519");
  Buffer.from(privateKey.export({ format: "jwk" }).d!, "base64url");
  Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url");
});
