import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { grpc } from "../../src/rpc/mod.ts";

Deno.test("a flood from a sender without a key and a second packet from a client are refused; the batch holds one packet per client", async () => {
  const net = await createTestNetwork({ clients: 3, roundDuration: 1, roundTimeout: 0.5 });
  try {
    await net.startAllMixes();
    const start = await net.start();
    const round = Math.floor((Date.now() - start.epoch_ms) / 1000) + 1;
    const packet = net.onion("client_2", "flood");
    const forged = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        net.stub("mix_1").forwardMessage({
          payload: packet,
          round,
          client_id: i % 2 ? "client_1" : `attacker_${i}`,
          mac: crypto.getRandomValues(new Uint8Array(32)),
        }).then(() => grpc.status.OK, (e) => e.code)),
    );
    assert.deepEqual([...new Set(forged)], [grpc.status.PERMISSION_DENIED]);
    await net.send("client_1", round, net.onion("client_2", "one"));
    const second = await net.send("client_1", round, net.onion("client_2", "two")).catch((e) => e);
    assert.equal(second.code, grpc.status.ALREADY_EXISTS);
    await net.send("client_2", round, net.onion("client_3", "x"));
    await net.send("client_3", round, net.onion("client_1", "y"));
    await waitUntil(
      () =>
        net.mixes.get("mix_1")!.metrics.recent.some((r) =>
          r.event === "round" && r.round === round
        ),
      10_000,
      "the round",
    );
    const record = net.mixes.get("mix_1")!.metrics.recent.find((r) =>
      r.event === "round" && r.round === round
    )!;
    assert.equal(record.batch_in, 3);
    const counters = net.mixes.get("mix_1")!.metrics.counters;
    assert.equal(counters["rejected.unregistered"], 500);
    assert.equal(counters["rejected.bad-mac"], 500);
    assert.equal(counters["rejected.duplicate"], 1);
  } finally {
    await net.close();
  }
});
