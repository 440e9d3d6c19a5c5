import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { batchProof, PeerMac } from "../../src/crypto/mod.ts";
import { peelLayer } from "../../src/onion/mod.ts";
import { grpc } from "../../src/rpc/mod.ts";

Deno.test("a captured packet replayed in its round, a later round and after every mix restarts is delivered once", async () => {
  const net = await createTestNetwork({ clients: 2, roundDuration: 0.3, roundTimeout: 0.2 });
  try {
    await net.startAllMixes();
    await net.start();
    const captured = net.onion("client_2", "only once");
    let round = net.nextRound();
    await net.send("client_1", round, captured);
    // The same request again in the same round: one packet per client per round.
    const again = await net.send("client_1", round, captured).catch((e) => e);
    assert.equal(again.code, grpc.status.ALREADY_EXISTS);
    await net.send("client_2", round, net.onion("client_1", "cover me"));
    assert.deepEqual(await net.receiveUntilMarker("client_2", "client_1"), ["only once"]);

    // A later round, re-sent by another registered client (the attacker has no other way in).
    round = net.nextRound();
    await net.send("client_2", round, captured.slice());
    await waitUntil(
      () => net.mixes.get("mix_1")!.metrics.counters["dropped.replayed"] === 1,
      10_000,
      "replay counted",
    );

    // Every mix restarts; the tags are on disk.
    for (const { id } of net.config.mixServers) await net.stopMix(id);
    await net.startAllMixes();
    round = net.nextRound();
    await net.send("client_2", round, captured.slice());
    await waitUntil(
      () => net.mixes.get("mix_1")!.metrics.counters["dropped.replayed"] === 1,
      10_000,
      "replay counted after restart",
    );
    assert.deepEqual(await net.receiveUntilMarker("client_2", "client_1"), []);
  } finally {
    await net.close();
  }
});

Deno.test("a mix-layer packet re-injected into mix_2 is dropped as a replay", async () => {
  const net = await createTestNetwork({
    clients: 2,
    roundDuration: 0.3,
    roundTimeout: 0.2,
    extra: { min_batch: 0 },
  });
  try {
    await net.startAllMixes();
    await net.start();
    const layer = peelLayer(net.box, net.onion("client_2", "twice?"), net.keys.get("mix_1")!, {
      payloadSize: net.config.payloadSize,
      layers: 3,
    }).inner.slice();
    const asMix1 = new PeerMac(net.box, net.keys.get("mix_1")!);
    const mix2Key = net.keys.get("mix_2")!.publicKey;
    for (const round of [50_000, 50_001]) {
      const request = { round, packets: [layer], mix_id: "mix_1", mac: new Uint8Array() };
      request.mac = asMix1.sign(mix2Key, ...batchProof(request));
      assert.equal((await net.stub("mix_2").forwardBatch(request)).status, "stored");
    }
    await waitUntil(
      () => net.mixes.get("mix_2")!.metrics.counters["dropped.replayed"] === 1,
      10_000,
      "replay at mix_2",
    );
    // Rounds leave mix_2 in the order they arrived: the marker's round comes after both.
    assert.deepEqual(await net.receiveUntilMarker("client_2", "client_1"), ["twice?"]);
  } finally {
    await net.close();
  }
});
