/** Peeling a batch of 2,000 packets of 1 KiB on a pool of one worker and of two. */
import { createSealedBox } from "../src/crypto/mod.ts";
import { Peeler } from "../src/mix/peeler.ts";
import { buildOnion, PayloadKind } from "../src/onion/mod.ts";

const box = await createSealedBox();
const mix = box.generateKeyPair();
const route = [{ address: "127.0.0.1:7000", publicKey: mix.publicKey }];
const recipient = { address: "127.0.0.1:8000", publicKey: box.generateKeyPair().publicKey };
const packets = Array.from({ length: 2000 }, () =>
  buildOnion(box, {
    message: new Uint8Array(1024),
    kind: PayloadKind.message,
    recipient,
    route,
    payloadSize: 1024,
  }));

for (const workers of [1, 2]) {
  const peeler = new Peeler({
    box,
    keyPair: mix,
    payloadSize: 1024,
    layers: 1,
    workers,
  });
  await peeler.ready;
  Deno.bench(
    `peel 2,000 x 1 KiB on ${workers} worker(s)`,
    { group: "peel", n: 10, warmup: 2 },
    async () => {
      // Copies: the pool transfers (detaches) the buffers it is given.
      await peeler.peel(packets.map((p) => p.slice()));
    },
  );
}
