import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { batchProof, PeerMac } from "../../src/crypto/mod.ts";
import {
  BATCH_CHUNK_BYTES,
  batchPackets,
  packChunks,
  type PackedChunk,
  unpack,
} from "../../src/rpc/mod.ts";
import { peelLayer } from "../../src/onion/mod.ts";

Deno.test("packChunks keeps every chunk under the bound and the packets in order", () => {
  const packets = Array.from({ length: 7 }, (_, i) => new Uint8Array(400 * 1024).fill(i));
  const chunks = packChunks(packets);
  assert.deepEqual(chunks.map((c) => unpack(c).length), [2, 2, 2, 1]);
  assert.deepEqual(chunks.flatMap(unpack), packets);
  assert.ok(chunks.every((c) => c.packed.length <= BATCH_CHUNK_BYTES));
  assert.deepEqual(packChunks([]), []);
  assert.equal(packChunks([new Uint8Array(3 * BATCH_CHUNK_BYTES)]).length, 1);
  assert.throws(() => packChunks([new Uint8Array(2), new Uint8Array(3)]), /differ in length/);
});

Deno.test("batchPackets splits a packed chunk and refuses one that is not whole packets", () => {
  const chunk: PackedChunk = { packed: new Uint8Array([1, 1, 2, 2, 3, 3]), packetBytes: 2 };
  const request = { round: 4, packets: [], mix_id: "mix_1", mac: new Uint8Array() };
  const split = batchPackets({ ...request, packed: chunk.packed, packet_bytes: 2 });
  assert.deepEqual(split.map((p) => [...p]), [[1, 1], [2, 2], [3, 3]]);
  const loose = [new Uint8Array([9])];
  assert.deepEqual(batchPackets({ ...request, packets: loose }), loose);
  for (const packet_bytes of [4, 0, -2, 1.5, undefined]) {
    assert.throws(
      () => batchPackets({ ...request, packed: chunk.packed, packet_bytes }),
      /round 4 refused: 6 packed bytes are not a whole number/,
    );
  }
});

Deno.test("a round larger than a chunk crosses the cascade in chunks, each stored once", async () => {
  const payloadSize = 700 * 1024;
  const net = await createTestNetwork({
    clients: 3,
    payloadSize,
    roundDuration: 0.5,
    roundTimeout: 0.5,
  });
  try {
    await net.startAllMixes();
    const start = await net.start();
    const round = Math.floor((Date.now() - start.epoch_ms) / 500) + 1;
    const big = "z".repeat(payloadSize);
    await net.send("client_1", round, net.onion("client_2", big));
    await net.send("client_2", round, net.onion("client_3", "small"));
    await net.send("client_3", round, net.onion("client_1", "tiny"));
    let got: string[] = [];
    await waitUntil(
      async () => {
        got = got.concat(net.open("client_2", await net.poll("client_2")));
        return got.length > 0;
      },
      20_000,
      "the big message",
    );
    assert.equal(got[0], big);
    // The first mix peeled the clients' big packets one by one as they arrived.
    const atFirstMix = net.mixes.get("mix_1")!.metrics.counters;
    assert.equal(atFirstMix["rounds.peeled_on_arrival"], 1, JSON.stringify(atFirstMix));

    // Directly: chunk 0 of 2 is partial, again a duplicate; chunk 1 completes the round.
    const asMix1 = new PeerMac(net.box, net.keys.get("mix_1")!);
    const mix2Key = net.keys.get("mix_2")!.publicKey;
    const layer = (to: string) =>
      peelLayer(net.box, net.onion(to, "c"), net.keys.get("mix_1")!, { payloadSize, layers: 3 })
        .inner.slice();
    const send = (chunk: number, packets: Uint8Array[]) => {
      const request = {
        round: 10_000,
        packets,
        mix_id: "mix_1",
        mac: new Uint8Array(),
        chunk,
        chunks: 2,
      };
      request.mac = asMix1.sign(mix2Key, ...batchProof(request));
      return net.stub("mix_2").forwardBatch(request);
    };
    const first = [layer("client_1")];
    assert.equal((await send(0, first)).status, "partial");
    assert.equal((await send(0, first)).status, "duplicate");
    assert.equal((await send(1, [layer("client_3")])).status, "stored");
    assert.equal((await send(1, [layer("client_3")])).status, "duplicate");
    const outOfRange = await send(2, []).catch((e) => e);
    assert.match(outOfRange.details, /chunk 2 of 2 is not a valid chunk/);

    // One call streams both chunks of a round. A forged chunk fails the call, the good one
    // before it stays stored; the call made again completes the round.
    const chunkOf = (round: number, chunk: number, packets: Uint8Array[]) => {
      const request = { round, packets, mix_id: "mix_1", mac: new Uint8Array(), chunk, chunks: 2 };
      request.mac = asMix1.sign(mix2Key, ...batchProof(request));
      return request;
    };
    const good = [chunkOf(10_001, 0, [layer("client_1")]), chunkOf(10_001, 1, [layer("client_2")])];
    const forged = { ...good[1], mac: new Uint8Array(32) };
    const refused = await net.stub("mix_2").forwardBatch([good[0], forged]).catch((e) => e);
    assert.match(refused.details, /MAC does not verify/);
    assert.equal((await net.stub("mix_2").forwardBatch(good)).status, "stored");
    assert.equal((await net.stub("mix_2").forwardBatch(good)).status, "duplicate");
    const empty = await net.stub("mix_2").forwardBatch([]).catch((e) => e);
    assert.match(empty.details, /carried no chunk/);

    // A chunk that carries its packets one by one (as the original design's mixes send them) is
    // stored whole, however large: here two packets of 700 KB, more than a packed chunk holds.
    const whole = chunkOf(10_002, 0, [layer("client_1"), layer("client_2")]);
    const oneByOne = { ...whole, chunks: 1 };
    oneByOne.mac = asMix1.sign(mix2Key, ...batchProof(oneByOne));
    assert.equal((await net.stub("mix_2").forwardBatch([oneByOne])).status, "stored");
    const mix2 = net.mixes.get("mix_2")!.metrics;
    await waitUntil(
      () => mix2.recent.some((r) => r.event === "round" && r.round === 10_002),
      20_000,
      "round 10,002 processed at mix_2",
    );
    const record = mix2.recent.find((r) => r.event === "round" && r.round === 10_002)!;
    assert.equal(record.batch_in, 2);
    await waitUntil(
      () =>
        [10_000, 10_001].every((round) =>
          net.mixes.get("mix_2")!.metrics.recent.some((r) =>
            r.event === "round" && r.round === round && r.batch_in === 2
          )
        ),
      10_000,
      "the chunked rounds processed whole",
    );
    // Each chunk was peeled as it arrived.
    const counters = net.mixes.get("mix_2")!.metrics.counters;
    assert.ok(counters["rounds.peeled_on_arrival"] >= 1, JSON.stringify(counters));
    assert.equal(counters["rounds.retried"], undefined, JSON.stringify(counters));
  } finally {
    await net.close();
  }
});
