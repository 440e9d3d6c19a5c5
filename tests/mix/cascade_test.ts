import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";

Deno.test("a batch of hand-built onions crosses three mixes into the right mailboxes", async () => {
  const net = await createTestNetwork({ clients: 4 });
  try {
    await net.startAllMixes();
    const start = await net.start();
    assert.ok(start.ready);
    const round = Math.max(
      0,
      Math.floor((Date.now() - start.epoch_ms) / (start.round_duration_s * 1000)),
    );
    const plan: [string, string][] = [["client_1", "client_2"], ["client_2", "client_3"], [
      "client_3",
      "client_1",
    ], ["client_4", "client_4"]];
    for (const [from, to] of plan) {
      assert.equal(
        (await net.send(from, round, net.onion(to, `from ${from} to ${to}`))).status,
        "ok",
      );
    }
    for (const [from, to] of plan) {
      await waitUntil(
        async () => {
          const got = net.open(to, await net.poll(to));
          if (got.length > 0) {
            assert.deepEqual(got, [`from ${from} to ${to}`]);
            return true;
          }
          return false;
        },
        10_000,
        `delivery to ${to}`,
      );
    }
    const last = net.mixes.get("mix_3")!.metrics.recent.find((r) =>
      r.event === "round" && r.round === round
    );
    assert.equal(last?.batch_out, 4);
    // The first mix peels packets as they are stored, while the round is open, and uses that
    // work once it closes (none of it done twice).
    const first = net.mixes.get("mix_1")!.metrics.counters;
    assert.equal(first["rounds.peeled_on_arrival"], 1, JSON.stringify(first));
  } finally {
    await net.close();
  }
});
