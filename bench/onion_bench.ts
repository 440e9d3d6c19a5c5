/** Onion cost per backend: build a 3-mix onion and peel one layer, at 1 KiB, 100 KB and 1 MB. */
import { createSealedBox } from "../src/crypto/mod.ts";
import { buildOnion, PayloadKind, peelLayer } from "../src/onion/mod.ts";

const SIZES = [["1 KiB", 1024], ["100 KB", 100_000], ["1 MB", 1_000_000]] as const;

for (const backend of ["native", "libsodium"]) {
  const box = await createSealedBox(backend);
  const mixes = Array.from({ length: 3 }, () => box.generateKeyPair());
  const route = mixes.map((k, i) => ({ address: `127.0.0.1:${7000 + i}`, publicKey: k.publicKey }));
  const recipient = { address: "127.0.0.1:8000", publicKey: box.generateKeyPair().publicKey };

  for (const [label, payloadSize] of SIZES) {
    const spec = {
      message: new Uint8Array(payloadSize),
      kind: PayloadKind.message,
      recipient,
      route,
      payloadSize,
    };
    const packet = buildOnion(box, spec);
    Deno.bench(`${backend}: build 3-mix onion ${label}`, { group: `build ${label}` }, () => {
      buildOnion(box, spec);
    });
    Deno.bench(`${backend}: peel one layer ${label}`, { group: `peel ${label}` }, () => {
      peelLayer(box, packet, mixes[0], { payloadSize, layers: 3 });
    });
  }
}
