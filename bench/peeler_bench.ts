/**
 * Peeling a batch on a pool of one worker and of two: 2,000 packets of 1 KiB (many clients),
 * 10 of 100 KB and 10 of 1 MB (the original benchmark's large points).
 */
import { createSealedBox } from "../src/crypto/mod.ts";
import { Peeler } from "../src/mix/peeler.ts";
import { buildOnion, PayloadKind } from "../src/onion/mod.ts";

const box = await createSealedBox();
const mix = box.generateKeyPair();
const route = [{ address: "127.0.0.1:7000", publicKey: mix.publicKey }];
const recipient = { address: "127.0.0.1:8000", publicKey: box.generateKeyPair().publicKey };
const BATCHES = [
  { label: "2,000 x 1 KiB", count: 2000, payloadSize: 1024 },
  { label: "10 x 100 KB", count: 10, payloadSize: 100_000 },
  { label: "10 x 1 MB", count: 10, payloadSize: 1_000_000 },
];

for (const { label, count, payloadSize } of BATCHES) {
  const packets = Array.from({ length: count }, () =>
    buildOnion(box, {
      message: new Uint8Array(payloadSize),
      kind: PayloadKind.message,
      recipient,
      route,
      payloadSize,
    }));
  for (const workers of [1, 2]) {
    const peeler = new Peeler({ box, keyPair: mix, payloadSize, layers: 1, workers });
    await peeler.ready;
    Deno.bench(
      `peel ${label} on ${workers} worker(s)`,
      { group: `peel ${label}`, n: 10, warmup: 2 },
      async () => {
        // Copies: the pool transfers (detaches) the buffers it is given.
        await peeler.peel(packets.map((p) => p.slice()));
      },
    );
  }
}
