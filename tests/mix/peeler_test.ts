import assert from "node:assert/strict";
import { createSealedBox } from "../../src/crypto/mod.ts";
import { defaultWorkers, Peeler, peelPackets } from "../../src/mix/peeler.ts";
import { buildOnion, PayloadKind } from "../../src/onion/mod.ts";

const box = await createSealedBox();
const mix = box.generateKeyPair();
const route = [{ address: "127.0.0.1:7000", publicKey: mix.publicKey }];
const recipient = { address: "127.0.0.1:8000", publicKey: box.generateKeyPair().publicKey };

function onions(count: number, payloadSize: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) =>
    buildOnion(box, {
      message: new Uint8Array([i % 256, i >> 8]),
      kind: PayloadKind.message,
      recipient,
      route,
      payloadSize,
    }));
}

// A few small packets (peeled inline), a few big ones (cut into equal jobs), many small ones
// (up to 16 jobs) and one big packet alone, off the calling thread.
const CASES = [[3, 1024, false], [7, 100_000, false], [1001, 1024, false], [1, 100_000, true]];

for (const [count, payloadSize, offThread] of CASES as [number, number, boolean][]) {
  Deno.test(`the pool peels ${count} x ${payloadSize} B${offThread ? " off-thread" : ""} with each result in input order`, async () => {
    const options = { payloadSize, layers: 1 };
    const packets = onions(count, payloadSize);
    // Broken packets at the ends and in the middle fail in place.
    const broken = new Set([0, Math.floor(count / 2), count - 1]);
    for (const i of broken) packets[i][40] ^= 1;
    const expected = peelPackets(box, packets, mix, options);
    const peeler = new Peeler({ box, keyPair: mix, ...options, workers: 2 });
    await peeler.ready;
    try {
      const results = await peeler.peel(packets.map((p) => p.slice()), { offThread });
      assert.equal(results.length, count);
      results.forEach((result, i) => {
        const want = expected[i];
        assert.equal(result.ok, !broken.has(i), `packet ${i}`);
        if (result.ok && want.ok) assert.deepEqual(result.inner, want.inner, `packet ${i}`);
      });
    } finally {
      await peeler.close();
    }
  });
}

Deno.test("a lone packet goes to a worker uncopied only when it is the whole of its buffer", async () => {
  const [a, b] = onions(2, 100_000);
  const both = new Uint8Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  const peeler = new Peeler({ box, keyPair: mix, payloadSize: 100_000, layers: 1, workers: 1 });
  await peeler.ready;
  try {
    // A view into a larger buffer: copied, so the rest of the buffer stays readable.
    const [first] = await peeler.peel([both.subarray(0, a.length)], { offThread: true });
    assert.ok(first.ok);
    assert.equal(both.byteLength, a.length + b.length);
    assert.deepEqual(both.subarray(a.length), b);
    // The whole of its buffer: transferred (detached here), and peeled all the same.
    const own = b.slice();
    const [second] = await peeler.peel([own], { offThread: true });
    assert.ok(second.ok);
    assert.equal(own.byteLength, 0);
  } finally {
    await peeler.close();
  }
});

Deno.test("the pool fails to start, saying why, when its workers cannot load the backend", async () => {
  const unknown = { ...box, name: "rot13" };
  const peeler = new Peeler({ box: unknown, keyPair: mix, payloadSize: 64, layers: 1, workers: 1 });
  try {
    await assert.rejects(
      peeler.ready,
      /Peeling worker cannot start: Unknown crypto backend "rot13"/,
    );
  } finally {
    await peeler.close();
  }
});

Deno.test("a pool started without a count has a worker per core, at most four, whatever the machine", async () => {
  assert.deepEqual([1, 2, 4, 16, 64].map(defaultWorkers), [1, 2, 4, 4, 4]);
  assert.equal(defaultWorkers(undefined), 1);
  const peeler = new Peeler({ box, keyPair: mix, payloadSize: 64, layers: 1 });
  try {
    await peeler.ready;
    assert.equal(peeler.size, defaultWorkers(navigator.hardwareConcurrency));
  } finally {
    await peeler.close();
  }
});
