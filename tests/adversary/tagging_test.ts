import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { freePorts, waitUntil } from "../_testkit/ports.ts";
import { batchProof, PeerMac } from "../../src/crypto/mod.ts";
import {
  type ForwardBatchRequest,
  maxMessageBytes,
  MixServerStub,
  startServer,
} from "../../src/rpc/mod.ts";

Deno.test("a tagged packet between mix_1 and mix_2 is dropped there and the rest of the batch is delivered", async () => {
  const net = await createTestNetwork({
    clients: 3,
    roundDuration: 0.5,
    roundTimeout: 0.3,
    extra: { min_batch: 0 },
  });
  // The adversary listens where the config puts mix_2 (so mix_1 forwards to it, and the onion
  // layers name that address); the real mix_2 runs from a copy of the config that moves it to
  // another port.
  const [hiddenPort] = freePorts(1);
  const mix2Address = net.config.mixServers[1].address;
  const hiddenConfig = `${net.dir}/mix_2-hidden.yaml`;
  await Deno.writeTextFile(
    hiddenConfig,
    (await Deno.readTextFile(net.configPath)).replace(mix2Address, `127.0.0.1:${hiddenPort}`),
  );
  const realMix2 = new MixServerStub(`127.0.0.1:${hiddenPort}`, {
    maxMessageBytes: maxMessageBytes(net.config),
  });
  const asMix1 = new PeerMac(net.box, net.keys.get("mix_1")!);
  const mix2Key = net.keys.get("mix_2")!.publicKey;
  let tagged = 0;
  let refusedUnsigned = false;
  const proxy = await startServer(mix2Address, {
    maxMessageBytes: maxMessageBytes(net.config),
    mix: {
      async ForwardBatch(request: ForwardBatchRequest) {
        if (request.packets.length === 3 && tagged === 0) {
          const packets = request.packets.map((p) => new Uint8Array(p));
          packets[1][200] ^= 0x01;
          // Without mix_1's key the batch MAC gives the tampering away.
          const unsigned = await realMix2.forwardBatch({ ...request, packets }).catch((e) => e);
          refusedUnsigned = /its MAC does not verify/.test(unsigned?.details ?? "");
          // An adversary holding mix_1's output (a compromised mix_1) re-signs it.
          const resigned = { ...request, packets, mac: new Uint8Array() };
          resigned.mac = asMix1.sign(mix2Key, ...batchProof(resigned));
          tagged++;
          return realMix2.forwardBatch(resigned);
        }
        return realMix2.forwardBatch(request);
      },
    } as never,
  });
  try {
    await net.startMix("mix_3");
    const { loadConfig } = await import("../../src/config/mod.ts");
    const { startMix } = await import("../../src/mix/mod.ts");
    const { silentLogger } = await import("../../src/log.ts");
    const mix2 = await startMix({
      config: await loadConfig(hiddenConfig),
      id: "mix_2",
      box: net.box,
      keyPair: net.keys.get("mix_2")!,
      logger: silentLogger,
      workers: 1,
    });
    net.mixes.set("mix_2", mix2);
    await net.startMix("mix_1");
    const start = await net.start();
    const round = Math.floor((Date.now() - start.epoch_ms) / 500) + 1;
    await net.send("client_1", round, net.onion("client_3", "from 1"));
    await net.send("client_2", round, net.onion("client_3", "from 2"));
    await net.send("client_3", round, net.onion("client_3", "from 3"));
    await waitUntil(
      () => net.mixes.get("mix_2")!.metrics.counters["dropped.undecryptable"] === 1,
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
    // mix_1 stops first (its channel to the proxy closes), then the proxy's channel, then the
    // proxy, then the rest: no channel ever sees a GOAWAY.
    await net.stopMix("mix_1");
    realMix2.close();
    await proxy.close(0);
    await net.close();
  }
});
