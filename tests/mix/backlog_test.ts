import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { batchProof, PeerMac } from "../../src/crypto/mod.ts";
import { startServer } from "../../src/rpc/mod.ts";
import { startWireServer } from "../../src/wire/mod.ts";
import {
  batchPackets,
  type ForwardBatchRequest,
  grpc,
  maxMessageBytes,
} from "../../src/rpc/mod.ts";

Deno.test("rounds arriving faster than a mix can peel are all processed, in order", async () => {
  const net = await createTestNetwork({ clients: 40, messagesPerRound: 2, payloadSize: 1024 });
  // mix_3 is a recorder: it sees what mix_2 forwards.
  const received: number[] = [];
  const sizes: number[] = [];
  const recorder = {
    async ForwardBatch(chunks: AsyncIterable<ForwardBatchRequest>) {
      for await (const chunk of chunks) {
        received.push(chunk.round);
        sizes.push(batchPackets(chunk).length);
      }
      return { status: "stored" };
    },
  } as never;
  const options = { maxMessageBytes: maxMessageBytes(net.config), handlers: recorder };
  const mix3 = await startServer(net.config.mixServers[2].address, { ...options, mix: recorder });
  const mix3Wire = startWireServer(net.config.mixServers[2].wire!.address, options);
  try {
    const mix2 = await net.startMix("mix_2", { workers: 1 });
    const asMix1 = new PeerMac(net.box, net.keys.get("mix_1")!);
    const mix2Key = net.keys.get("mix_2")!.publicKey;
    const rounds = 25;
    // As many as a round can carry: one packet of each client (min_batch is smaller).
    const perRound = net.config.clients.length;
    const route = net.config.mixServers.map((m) => ({
      address: m.address,
      publicKey: net.keys.get(m.id)!.publicKey,
    }));
    // Build mix_2-layer packets: onions for the whole route, with mix_1's layer removed by us.
    const { peelLayer } = await import("../../src/onion/mod.ts");
    const batches = Array.from(
      { length: rounds },
      () =>
        Array.from(
          { length: perRound },
          () =>
            peelLayer(net.box, net.onion("client_1", "x"), net.keys.get("mix_1")!, {
              payloadSize: 1024,
              layers: 3,
            }).inner.slice(),
        ),
    );
    assert.equal(route.length, 3);
    for (let round = 0; round < rounds; round++) {
      const request = { round, packets: batches[round], mix_id: "mix_1", mac: new Uint8Array() };
      request.mac = asMix1.sign(mix2Key, ...batchProof(request));
      assert.equal((await net.stub("mix_2").forwardBatch(request)).status, "stored");
    }
    // A repeated batch is recognised, not stored twice.
    const repeat = { round: 3, packets: batches[3], mix_id: "mix_1", mac: new Uint8Array() };
    repeat.mac = asMix1.sign(mix2Key, ...batchProof(repeat));
    assert.equal((await net.stub("mix_2").forwardBatch(repeat)).status, "duplicate");
    await waitUntil(() => received.length === rounds, 30_000, "every round forwarded");
    assert.deepEqual(received, Array.from({ length: rounds }, (_, i) => i));
    assert.ok(sizes.every((s) => s === perRound), `batch sizes ${sizes}`);
    const depths = mix2.metrics.recent.filter((r) => r.event === "round").map((r) =>
      r.queue_depth!
    );
    assert.ok(Math.max(...depths) > 0, "the mix was never behind: the test proves nothing");
    // Only the previous mix may forward here.
    const impostor = { round: 99, packets: [], mix_id: "mix_3", mac: new Uint8Array(32) };
    const denied = await net.stub("mix_2").forwardBatch(impostor).catch((e) => e);
    assert.equal(denied.code, grpc.status.PERMISSION_DENIED);
    assert.match(denied.details, /only mix_1 may/);
    const forged = await net.stub("mix_2").forwardBatch({ ...impostor, mix_id: "mix_1" }).catch((
      e,
    ) => e);
    assert.equal(forged.code, grpc.status.PERMISSION_DENIED);
  } finally {
    await net.close();
    await mix3.close(0);
    await mix3Wire.close();
  }
});
