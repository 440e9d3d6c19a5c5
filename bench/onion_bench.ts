/** Onion cost per backend: build a 3-mix onion and peel one layer, at 1 KiB and 1 MiB. */
import { createSealedBox } from "../src/crypto/mod.ts";
import { buildOnion, PayloadKind, peelLayer } from "../src/onion/mod.ts";

for (const backend of ["native", "libsodium"]) {
  const box = await createSealedBox(backend);
  const mixes = Array.from({ length: 3 }, () => box.generateKeyPair());
  const route = mixes.map((k, i) => ({ address: `127.0.0.1:${7000 + i}`, publicKey: k.publicKey }));
  const recipient = { address: "127.0.0.1:8000", publicKey: box.generateKeyPair().publicKey };

  for (const [label, payloadSize] of [["1 KiB", 1024], ["1 MiB", 1024 * 1024]] as const) {
    const spec = {
      message: new Uint8Array(payloadSize),
      kind: PayloadKind.message,
      recipient,
      route,
      payloadSize,
    };
    const packet = buildOnion(box, spec);
    Deno.bench(`${backend}: build 3-mix onion ${label}`, { group: `onion ${label}` }, () => {
      buildOnion(box, spec);
    });
    Deno.bench(`${backend}: peel one layer ${label}`, { group: `onion ${label}` }, () => {
      peelLayer(box, packet, mixes[0], { payloadSize, layers: 3 });
    });
  }
}
