import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";

Deno.test("while clients drop out, every hop still carries min_batch packets; cover ends at the sink", async () => {
  const net = await createTestNetwork({ clients: 4, roundDuration: 0.2, roundTimeout: 0.1 });
  try {
    assert.equal(net.config.minBatch, 4);
    await net.startAllMixes();
    const start = await net.start();
    const round = Math.floor((Date.now() - start.epoch_ms) / 200) + 1;
    // Only two of the four clients send.
    await net.send("client_1", round, net.onion("client_2", "a"));
    await net.send("client_2", round, net.onion("client_1", "b"));
    await waitUntil(
      () =>
        net.mixes.get("mix_3")!.metrics.recent.some((r) =>
          r.event === "round" && r.round === round
        ),
      10_000,
      "the round at the last mix",
    );
    const at = (id: string) =>
      net.mixes.get(id)!.metrics.recent.find((r) => r.event === "round" && r.round === round)!;
    assert.deepEqual([at("mix_1").batch_in, at("mix_1").batch_out, at("mix_1").cover_added], [
      2,
      4,
      2,
    ]);
    assert.deepEqual([at("mix_2").batch_in, at("mix_2").batch_out, at("mix_2").cover_added], [
      4,
      4,
      0,
    ]);
    assert.deepEqual([at("mix_3").batch_in, at("mix_3").batch_out, at("mix_3").cover], [4, 2, 2]);
    assert.deepEqual(net.open("client_2", await net.poll("client_2")), ["a"]);
    // A round nobody sends in is still a full batch on the wire.
    const quiet = () =>
      net.mixes.get("mix_2")!.metrics.recent.find((r) =>
        r.event === "round" && r.round > round + 1
      );
    await waitUntil(() => quiet() !== undefined, 5000, "a quiet round");
    assert.equal(quiet()!.batch_in, 4);
    assert.equal(net.mixes.get("mix_2")!.metrics.counters["dropped.replayed"], undefined);
  } finally {
    await net.close();
  }
});

Deno.test("min_batch far above the number of clients: every hop carries the cover, and mail gets through", async () => {
  // Issue 15: with 4 clients and min_batch 100, the size limit counted the clients' packets
  // only, and mix_1 failed every forward with RESOURCE_EXHAUSTED while the network stalled.
  const net = await createTestNetwork({
    clients: 4,
    roundDuration: 0.3,
    roundTimeout: 0.2,
    payloadSize: 1024,
    extra: { min_batch: 100 },
  });
  try {
    await net.startAllMixes();
    const start = await net.start();
    const round = Math.floor((Date.now() - start.epoch_ms) / 300) + 1;
    await net.send("client_1", round, net.onion("client_2", "under cover"));
    await waitUntil(
      () =>
        net.mixes.get("mix_3")!.metrics.recent.some((r) =>
          r.event === "round" && r.round === round
        ),
      20_000,
      "the round at the last mix",
    );
    const at = (id: string) =>
      net.mixes.get(id)!.metrics.recent.find((r) => r.event === "round" && r.round === round)!;
    assert.deepEqual([at("mix_1").batch_out, at("mix_2").batch_in, at("mix_3").batch_in], [
      100,
      100,
      100,
    ]);
    assert.deepEqual(net.open("client_2", await net.poll("client_2")), ["under cover"]);
    assert.equal(net.mixes.get("mix_1")!.metrics.counters["forward.retries"], undefined);
  } finally {
    await net.close();
  }
});
