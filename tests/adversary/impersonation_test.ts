import assert from "node:assert/strict";
import { createTestNetwork, type TestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { NodeProcess } from "../../tasks/launch/mod.ts";
import { type MixProxy, relocateMix, startMixProxy } from "../_testkit/proxy.ts";
import { batchProof, type KeyPair, PeerMac } from "../../src/crypto/mod.ts";
import {
  batchPackets,
  type ForwardBatchRequest,
  grpc,
  maxMessageBytes,
  type MixServerCalls,
  packChunks,
  RpcError,
} from "../../src/rpc/mod.ts";

function signed(net: TestNetwork, as: KeyPair, to: string, request: ForwardBatchRequest) {
  const copy = { ...request, mac: new Uint8Array() };
  copy.mac = new PeerMac(net.box, as).sign(net.keys.get(to)!.publicKey, ...batchProof(copy));
  return copy;
}

async function deniedBatch(stub: MixServerCalls, request: ForwardBatchRequest, reason: RegExp) {
  const error = await stub.forwardBatch(request).then(() => undefined, (e) => e);
  assert.ok(error instanceof RpcError, `a forged batch was accepted: ${String(error)}`);
  assert.equal(error.code, grpc.status.PERMISSION_DENIED, error.message);
  assert.match(error.details, reason);
}

async function roundRecords(file: string): Promise<{ event: string; round: number }[]> {
  const text = await Deno.readTextFile(file).catch(() => "");
  return text.split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

Deno.test("a process that is not mix_1 cannot make mix_2 accept a batch: wrong id, wrong key, altered or replayed batches", async () => {
  const net = await createTestNetwork({ clients: 2, roundDuration: 0.3, roundTimeout: 0.2 });
  const metricsFile = `${net.dir}/mix_2-metrics.jsonl`;
  // mix_2 runs on another port behind a recorder, so the test holds one real batch of mix_1.
  const relocated = await relocateMix(net, "mix_2");
  const batches: ForwardBatchRequest[] = [];
  const startMix2 = () =>
    new NodeProcess("mix", "mix_2", relocated.path, { args: ["--metrics-file", metricsFile] });
  const mix3Process = new NodeProcess("mix", "mix_3", net.configPath);
  let mix2Process = startMix2();
  let mix1Process: NodeProcess | undefined;
  let proxy: MixProxy | undefined;
  try {
    await Promise.all([mix3Process.ready(), mix2Process.ready()]);
    proxy = await startMixProxy(net.config.mixServers[1], relocated.node, {
      maxMessageBytes: maxMessageBytes(net.config),
      hook: (method, request, relay) => {
        if (method === "ForwardBatch") {
          batches.push(structuredClone(request as ForwardBatchRequest));
        }
        return relay(request);
      },
    });
    mix1Process = new NodeProcess("mix", "mix_1", net.configPath);
    await mix1Process.ready();
    const start = await net.start();
    const round = Math.floor((Date.now() - start.epoch_ms) / 300) + 1;
    await net.send("client_1", round, net.onion("client_2", "to 2"));
    await net.send("client_2", round, net.onion("client_1", "to 1"));
    await waitUntil(
      async () =>
        (await roundRecords(metricsFile)).some((r) => r.event === "round" && r.round === round),
      10_000,
      "mix_2 processed the round",
    );
    const real = batches.find((b) => b.round === round)!;
    const realPackets = batchPackets(real);
    assert.ok(realPackets.length >= 2);
    assert.ok(real.packed && real.packet_bytes, "mix_1 forwards its round packed");
    const repacked = (packets: Uint8Array[]) => ({
      ...real,
      packed: packChunks(packets)[0].packed,
    });
    const mix2 = proxy.direct;
    const mix3 = net.stub("mix_3");
    const fresh = net.box.generateKeyPair();
    const later = round + 100;
    const forgedBody = { ...real, round: later };

    // Another identity: a real mix downstream, a client, each with its own valid key.
    await deniedBatch(
      mix2,
      signed(net, net.keys.get("mix_3")!, "mix_2", { ...forgedBody, mix_id: "mix_3" }),
      /"mix_3" may not forward to mix_2, only mix_1 may/,
    );
    await deniedBatch(
      mix2,
      signed(net, net.keys.get("client_1")!, "mix_2", { ...forgedBody, mix_id: "client_1" }),
      /only mix_1 may/,
    );
    // mix_1's id without mix_1's key.
    for (const key of [fresh, net.keys.get("client_1")!, net.keys.get("mix_3")!]) {
      await deniedBatch(mix2, signed(net, key, "mix_2", forgedBody), /its MAC does not verify/);
    }
    for (const mac of [new Uint8Array(), new Uint8Array(32), real.mac.slice(0, 31)]) {
      await deniedBatch(mix2, { ...forgedBody, mac }, /its MAC does not verify/);
    }
    // mix_1's real batch, altered: another round, a packet dropped, reordered, another chunking.
    await deniedBatch(mix2, { ...real, round: later }, /its MAC does not verify/);
    await deniedBatch(mix2, repacked(realPackets.slice(1)), /its MAC does not verify/);
    await deniedBatch(mix2, repacked([...realPackets].reverse()), /its MAC does not verify/);
    // The same bytes claimed as packets of another size, or sent one by one.
    const asOne = { ...real, packet_bytes: real.packed.length };
    await deniedBatch(mix2, asOne, /its MAC does not verify/);
    const oneByOne = { ...real, packed: new Uint8Array(), packets: realPackets };
    await deniedBatch(mix2, oneByOne, /its MAC does not verify/);
    await deniedBatch(mix2, { ...real, chunks: 2 }, /its MAC does not verify/);
    // mix_1's batch taken to the wrong mix, as is or claiming to be mix_2.
    await deniedBatch(mix3, real, /only mix_2 may/);
    await deniedBatch(mix3, { ...real, mix_id: "mix_2" }, /its MAC does not verify/);
    // Replayed verbatim: recognised, acknowledged, not stored again.
    assert.equal((await mix2.forwardBatch(real)).status, "duplicate");
    // Also after mix_2 is killed and restarted: the rounds it received are on disk.
    await mix2Process.kill("SIGKILL");
    mix2Process = startMix2();
    await mix2Process.ready();
    assert.equal((await mix2.forwardBatch(real)).status, "duplicate");

    // Each message arrives once (nothing more before a later round's marker); mix_2 processed
    // the round once and never the forged one. The first call to mix_2 after its restart
    // (mix_1's forward of the marker's round) no longer fails on the channel's backoff.
    assert.deepEqual(await net.receiveUntilMarker("client_2", "client_1"), ["to 2"]);
    assert.deepEqual(await net.receiveUntilMarker("client_1", "client_2"), ["to 1"]);
    const records = (await roundRecords(metricsFile)).filter((r) => r.event === "round");
    assert.equal(records.filter((r) => r.round === round).length, 1);
    assert.equal(records.filter((r) => r.round === later).length, 0);
    for (const mix of [mix1Process, mix2Process, mix3Process]) {
      assert.ok(mix.records.every((r) => r.message !== "handler failed"), mix.tail());
    }
  } finally {
    // mix_1 first (it calls the proxy), then the proxy (it calls mix_2), then the rest.
    await mix1Process?.kill("SIGKILL");
    await proxy?.close();
    await mix2Process.kill("SIGKILL");
    await mix3Process.kill("SIGKILL");
    await net.close();
  }
});
