import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { closeProxied, type ProxiedMix, startProxiedMix } from "../_testkit/proxy.ts";
import { batchProof, PeerMac } from "../../src/crypto/mod.ts";
import { batchPackets, type ForwardBatchRequest } from "../../src/rpc/mod.ts";

Deno.test("a tagged packet between mix_1 and mix_2 is dropped there and the rest of the batch is delivered", async () => {
  const net = await createTestNetwork({
    clients: 3,
    roundDuration: 0.5,
    roundTimeout: 0.3,
    extra: { min_batch: 0 },
  });
  const asMix1 = new PeerMac(net.box, net.keys.get("mix_1")!);
  const mix2Key = net.keys.get("mix_2")!.publicKey;
  let tagged = 0;
  let refusedUnsigned = false;
  const hops: ProxiedMix[] = [];
  try {
    await net.startMix("mix_3");
    // The adversary sits on the link from mix_1 to mix_2 and flips one bit of one packet.
    const mix2 = await startProxiedMix(net, "mix_2", {
      hook: async (method, request, relay) => {
        const batch = request as ForwardBatchRequest;
        if (method !== "ForwardBatch" || batchPackets(batch).length !== 3 || tagged > 0) {
          return relay(request);
        }
        const packed = new Uint8Array(batch.packed!);
        packed[batch.packet_bytes! + 200] ^= 0x01;
        // Without mix_1's key the batch MAC gives the tampering away.
        const unsigned = await relay({ ...batch, packed } as never).then(() => "", String);
        refusedUnsigned = /its MAC does not verify/.test(unsigned);
        // An adversary holding mix_1's output (a compromised mix_1) re-signs it.
        const resigned = { ...batch, packed, mac: new Uint8Array() };
        resigned.mac = asMix1.sign(mix2Key, ...batchProof(resigned));
        tagged++;
        return relay(resigned as never);
      },
    });
    hops.push(mix2);
    await net.startMix("mix_1");
    const start = await net.start();
    const round = Math.floor((Date.now() - start.epoch_ms) / 500) + 1;
    await net.send("client_1", round, net.onion("client_3", "from 1"));
    await net.send("client_2", round, net.onion("client_3", "from 2"));
    await net.send("client_3", round, net.onion("client_3", "from 3"));
    await waitUntil(
      () => mix2.node.metrics.counters["dropped.undecryptable"] === 1,
      10_000,
      "the tagged packet dropped",
    );
    let got: string[] = [];
    await waitUntil(
      async () => {
        got = got.concat(net.open("client_3", await net.poll("client_3")));
        return got.length >= 2;
      },
      10_000,
      "the rest delivered",
    );
    assert.equal(got.length, 2);
    assert.ok(got.every((m) => m.startsWith("from ")));
    assert.ok(refusedUnsigned, "a tampered batch without a fresh MAC was accepted");
  } finally {
    await closeProxied(net, hops);
  }
});
