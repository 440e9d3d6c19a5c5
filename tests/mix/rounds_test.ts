import assert from "node:assert/strict";
import { createTestNetwork, type TestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { NodeProcess } from "../../tasks/launch/mod.ts";
import { grpc, RpcError } from "../../src/rpc/mod.ts";
import { packetSize } from "../../src/onion/mod.ts";

function currentRound(start: { epoch_ms: number; round_duration_s: number }): number {
  return Math.max(0, Math.floor((Date.now() - start.epoch_ms) / (start.round_duration_s * 1000)));
}

async function receive(net: TestNetwork, to: string, count: number): Promise<string[]> {
  let got: string[] = [];
  await waitUntil(
    async () => {
      got = got.concat(net.open(to, await net.poll(to)));
      return got.length >= count;
    },
    15_000,
    `${count} messages for ${to}`,
  );
  return got;
}

Deno.test("a packet replayed in a later round, and again after a restart, is dropped and counted", async () => {
  const net = await createTestNetwork({ clients: 2 });
  try {
    await net.startAllMixes();
    const start = await net.start();
    const packet = net.onion("client_2", "once");
    const round = currentRound(start);
    await net.send("client_1", round, packet);
    assert.deepEqual(await receive(net, "client_2", 1), ["once"]);

    // client_2 (registered, but not the author) re-sends the captured packet next round.
    await net.send("client_2", round + 1, packet.slice());
    await waitUntil(
      () => (net.mixes.get("mix_1")!.metrics.counters["dropped.replayed"] ?? 0) === 1,
      10_000,
      "replay drop",
    );

    await net.stopMix("mix_1");
    await net.startMix("mix_1");
    const later = currentRound(start) + 1;
    await net.send("client_2", later, packet.slice());
    await waitUntil(
      () => (net.mixes.get("mix_1")!.metrics.counters["dropped.replayed"] ?? 0) === 1,
      10_000,
      "replay drop after restart",
    );
    assert.deepEqual(await net.receiveUntilMarker("client_2", "client_1"), []);
  } finally {
    await net.close();
  }
});

Deno.test("a client that never sends: the round closes at its deadline and the others' packets arrive", async () => {
  const net = await createTestNetwork({ clients: 3, roundDuration: 0.2, roundTimeout: 0.1 });
  try {
    await net.startAllMixes();
    const start = await net.start();
    const round = currentRound(start) + 1;
    await net.send("client_1", round, net.onion("client_3", "from 1"));
    await net.send("client_2", round, net.onion("client_3", "from 2"));
    const got = await receive(net, "client_3", 2);
    assert.deepEqual(got.sort(), ["from 1", "from 2"]);
    const record = net.mixes.get("mix_1")!.metrics.recent.find((r) =>
      r.event === "round" && r.round === round
    );
    assert.equal(record?.batch_in, 2);
  } finally {
    await net.close();
  }
});

Deno.test("with the next mix down for seconds, the batch arrives exactly once when it is back", async () => {
  const net = await createTestNetwork({ clients: 2 });
  // mix_2 runs as a process: a real peer going away, not an in-process server shutdown.
  let mix2 = new NodeProcess("mix", "mix_2", net.configPath);
  try {
    await net.startMix("mix_3");
    await mix2.ready();
    await net.startMix("mix_1");
    const start = await net.start();
    assert.equal((await mix2.kill("SIGTERM")).code, 0);
    const round = currentRound(start);
    await net.send("client_1", round, net.onion("client_2", "patience"));
    await net.send("client_2", round, net.onion("client_1", "also"));
    // mix_1 has found mix_2 gone (its first attempt waited for a connection, then failed).
    await waitUntil(
      () => (net.mixes.get("mix_1")!.metrics.counters["forward.retries"] ?? 0) >= 1,
      10_000,
      "a retry",
    );
    mix2 = new NodeProcess("mix", "mix_2", net.configPath);
    await mix2.ready();
    assert.deepEqual(await net.receiveUntilMarker("client_2", "client_1"), ["patience"]);
    assert.deepEqual(await net.receiveUntilMarker("client_1", "client_2"), ["also"]);
    const forwards = net.mixes.get("mix_1")!.metrics.recent.filter((r) =>
      r.event === "forward" && r.round === round
    );
    assert.equal(forwards.length, 1);
    assert.ok(forwards[0].attempts! > 1);
  } finally {
    await mix2.kill("SIGKILL");
    await net.close();
  }
});

Deno.test("the first mix refuses bad packets precisely and keeps serving", async () => {
  const net = await createTestNetwork({ clients: 2, payloadSize: 32 });
  try {
    await net.startAllMixes();
    const start = await net.start();
    const round = currentRound(start) + 1;
    const code = async (p: Promise<unknown>) => {
      const error = await p.then(() => undefined, (e) => e);
      assert.ok(error instanceof RpcError, `expected an RpcError, got ${error}`);
      return [grpc.status[error.code], error.details] as const;
    };
    const good = net.onion("client_2", "x");
    const [emptyCode, emptyWhy] = await code(net.send("client_1", round, new Uint8Array()));
    assert.equal(emptyCode, "INVALID_ARGUMENT");
    assert.match(emptyWhy, new RegExp(`expected ${good.length} bytes, got 0`));
    const [bigCode] = await code(net.send("client_1", round, new Uint8Array(10 * 1024 * 1024)));
    assert.equal(bigCode, "RESOURCE_EXHAUSTED");
    const garbage = crypto.getRandomValues(new Uint8Array(good.length));
    assert.deepEqual(await code(net.send("client_1", -1, garbage)), [
      "INVALID_ARGUMENT",
      "Packet from client_1 refused: round -1 is not a round number",
    ]);
    assert.deepEqual((await code(net.send("client_1", round + 50, good)))[0], "OUT_OF_RANGE");
    const [unknownCode, unknownWhy] = await code(
      net.stub("mix_1").forwardMessage({
        payload: good,
        round,
        client_id: "mallory",
        mac: new Uint8Array(32),
      }),
    );
    assert.equal(unknownCode, "PERMISSION_DENIED");
    assert.match(unknownWhy, /"mallory" is not a registered client/);
    const [macCode] = await code(
      net.stub("mix_1").forwardMessage({
        payload: good,
        round,
        client_id: "client_1",
        mac: new Uint8Array(32),
      }),
    );
    assert.equal(macCode, "PERMISSION_DENIED");
    // Garbage of the right size is accepted (it is authenticated), then dropped when peeled.
    assert.equal((await net.send("client_1", round, garbage)).status, "ok");
    assert.equal((await code(net.send("client_1", round, good)))[0], "ALREADY_EXISTS");
    await net.send("client_2", round, net.onion("client_1", "still here"));
    assert.deepEqual(await receive(net, "client_1", 1), ["still here"]);
    await waitUntil(
      () => net.mixes.get("mix_1")!.metrics.counters["dropped.undecryptable"] === 1,
      5000,
      "drop count",
    );
    // After the round closed: a client that sent in it is told its packet was stored (a retry
    // whose first answer was lost), one that did not is told the round is closed.
    const again = await code(net.send("client_1", round, good));
    assert.equal(again[0], "ALREADY_EXISTS");
    assert.match(again[1], /already sent one in round \d+/);
    const closed = await code(net.send("client_1", round - 1, good));
    assert.equal(closed[0], "FAILED_PRECONDITION");
    assert.match(closed[1], /round \d+ is closed/);
    const [notFirst, why] = await code(
      net.stub("mix_2").forwardMessage({
        payload: good,
        round,
        client_id: "client_1",
        mac: new Uint8Array(),
      }),
    );
    assert.equal(notFirst, "FAILED_PRECONDITION");
    assert.match(why, /clients talk to the first mix, mix_1/);
  } finally {
    await net.close();
  }
});

Deno.test("registration accepts listed clients with proof only, idempotently", async () => {
  const net = await createTestNetwork({ clients: 2 });
  try {
    await net.startAllMixes();
    assert.deepEqual(await net.register("client_1"), { status: true, reason: "" });
    assert.deepEqual(await net.register("client_1"), { status: true, reason: "" });
    const stranger = await net.stub("mix_1").register({
      client_id: "eve",
      timestamp_ms: Date.now(),
      mac: new Uint8Array(32),
    }).catch((e) => e);
    assert.equal(stranger.code, grpc.status.PERMISSION_DENIED);
    assert.match(stranger.details, /"eve" is not a client in the config/);
    const forged = await net.stub("mix_1").register({
      client_id: "client_2",
      timestamp_ms: Date.now(),
      mac: new Uint8Array(32),
    }).catch((e) => e);
    assert.equal(forged.code, grpc.status.PERMISSION_DENIED);
    const early = await net.stub("mix_1").waitForStart({ client_id: "client_2" }).catch((e) => e);
    assert.equal(early.code, grpc.status.FAILED_PRECONDITION);
    // WaitForStart blocks until the second registration, then everybody sees one epoch.
    const waiting = net.stub("mix_1").waitForStart({ client_id: "client_1" });
    let settled = false;
    waiting.then(() => (settled = true));
    // A later call on the same channel is answered while the wait is still held.
    assert.deepEqual(await net.register("client_1"), { status: true, reason: "" });
    assert.equal(settled, false);
    await net.register("client_2");
    const a = await waiting;
    const b = await net.stub("mix_1").waitForStart({ client_id: "client_2" });
    assert.ok(a.ready && b.ready);
    assert.equal(a.epoch_ms, b.epoch_ms);
    assert.equal(a.round_duration_s, net.config.roundDuration);
  } finally {
    await net.close();
  }
});

Deno.test("the first mix refuses packets beyond max_queued_bytes with RESOURCE_EXHAUSTED, then accepts again", async () => {
  const payloadSize = 64;
  const packet = packetSize(payloadSize, 3) * 1.5;
  const net = await createTestNetwork({
    clients: 2,
    payloadSize,
    roundDuration: 0.3,
    roundTimeout: 0.1,
    extra: { max_queued_bytes: Math.floor(packet) },
  });
  try {
    await net.startAllMixes();
    const start = await net.start();
    const round = currentRound(start) + 1;
    assert.equal((await net.send("client_1", round, net.onion("client_2", "fits"))).status, "ok");
    const refused = await net.send("client_2", round, net.onion("client_1", "too much")).catch((
      e,
    ) => e);
    assert.equal(refused.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(refused.details, /bytes are queued in unprocessed rounds \(limit \d+\)/);
    assert.deepEqual(await receive(net, "client_2", 1), ["fits"]);
    // Once the round is processed its bytes are released.
    assert.equal(
      (await net.send("client_2", currentRound(start) + 1, net.onion("client_1", "now"))).status,
      "ok",
    );
    assert.deepEqual(await receive(net, "client_1", 1), ["now"]);
  } finally {
    await net.close();
  }
});
