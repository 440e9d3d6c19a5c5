/** Sealed-box cost per backend: seal and open at 32 B, 1 KiB, 64 KiB and 1 MiB. */
import { BACKENDS, createSealedBox } from "../src/crypto/mod.ts";

const SIZES: Record<string, number> = {
  "32 B": 32,
  "1 KiB": 1024,
  "64 KiB": 64 * 1024,
  "1 MiB": 1024 * 1024,
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
}
