import assert from "node:assert/strict";
import * as protoLoader from "@grpc/proto-loader";
import { createTestNetwork, type TestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { grpc, PROTO_PATH, RpcError } from "../../src/rpc/mod.ts";

async function collect(net: TestNetwork, id: string, count: number, timeoutMs = 15_000) {
  let got: string[] = [];
  await waitUntil(
    async () => {
      got = got.concat((await net.client(id).pollMessages()).messages);
      return got.length >= count;
    },
    timeoutMs,
    `${count} messages at ${id}`,
    100,
  );
  return got;
}

function send(net: TestNetwork, from: string, to: string, message: string) {
  const address = net.config.clients.find((c) => c.id === to)!.address;
  return net.client(from).prepareMessage({
    message,
    recipient_pubkey: net.keyFile(to),
    recipient_addr: address,
  });
}

/** 3 mixes and 5 clients in this process, 0.2 s rounds; one network for the suite. */
async function withNetwork(fn: (net: TestNetwork) => Promise<void>, payloadSize = 256) {
  const net = await createTestNetwork({
    clients: 5,
    roundDuration: 0.2,
    roundTimeout: 0.1,
    payloadSize,
  });
  try {
    await net.startAllMixes();
    await Promise.all(net.config.clients.map((c) => net.startClient(c.id)));
    await fn(net);
  } finally {
    await net.close();
  }
}

Deno.test("clients exchange messages through the cascade", async (t) => {
  await withNetwork(async (net) => {
    await t.step(
      "two messages arrive once each, at the right client, fetched on its own",
      async () => {
        // Usually in one round; two prepares can also straddle a round's end (rounds of 0.2 s).
        const a = await send(net, "client_1", "client_2", "hello 2");
        await send(net, "client_3", "client_1", "hello 1");
        assert.deepEqual(await collect(net, "client_2", 1), ["hello 2"]);
        assert.deepEqual(await collect(net, "client_1", 1), ["hello 1"]);
        // Nothing more, for anyone: each client's next message is a marker from its neighbour.
        const ids = ["client_1", "client_2", "client_3", "client_4", "client_5"];
        for (const [i, id] of ids.entries()) {
          assert.deepEqual(await net.messagesUntilMarker(id, ids[(i + 1) % ids.length]), [], id);
        }
        // mix_1 accepts only packets of the one valid length: all 5 of that round were.
        const mix1 = net.mixes.get("mix_1")!.metrics;
        const round = mix1.recent.find((r) => r.event === "round" && r.round === a.round);
        assert.equal(round?.batch_in, 5);
        assert.equal(mix1.counters["rejected.wrong-size"], undefined);
        // client_4 received nothing, yet fetched its mailbox every round without being asked.
        assert.ok((net.clients.get("client_4")!.metrics.counters["fetched"] ?? 0) > 2);
      },
    );

    await t.step("five queued messages leave in five rounds, in order", async () => {
      const rounds = [];
      for (let i = 0; i < 5; i++) {
        rounds.push((await send(net, "client_4", "client_5", `m${i}`)).round);
      }
      // One round each, but for the rounds of client_4's loops (at most two in five rounds).
      for (let i = 1; i < 5; i++) assert.ok(rounds[i] > rounds[i - 1], `rounds ${rounds}`);
      assert.ok(rounds[4] - rounds[0] <= 6, `rounds ${rounds}`);
      assert.deepEqual(await collect(net, "client_5", 5), ["m0", "m1", "m2", "m3", "m4"]);
    });

    await t.step(
      "a message of exactly payload_size round-trips; one byte more is refused",
      async () => {
        const exact = "x".repeat(net.config.payloadSize);
        await send(net, "client_2", "client_3", exact);
        assert.deepEqual(await collect(net, "client_3", 1), [exact]);
        const error = await send(net, "client_2", "client_3", exact + "y").catch((e) => e);
        assert.ok(error instanceof RpcError);
        assert.equal(error.code, grpc.status.OUT_OF_RANGE);
        assert.match(error.details, /Message is too long: 257 bytes, a packet carries at most 256/);
      },
    );

    await t.step("unicode and binary-looking text round-trip intact", async () => {
      const texts = ["héllo wörld ✉️ 混合网络 🧅", "\u0000\u0001\u0002\u00ff\ufffd\t\r\n end", ""];
      for (const text of texts) await send(net, "client_5", "client_4", text);
      assert.deepEqual(await collect(net, "client_4", 3), texts);
    });

    await t.step("bad requests are refused with the field named", async () => {
      const address = net.config.clients[1].address;
      const unknown = await net.client("client_1").prepareMessage({
        message: "x",
        recipient_pubkey: net.keyFile("client_2"),
        recipient_addr: "127.0.0.1:1",
      }).catch((e) => e);
      assert.equal(unknown.code, grpc.status.INVALID_ARGUMENT);
      assert.match(unknown.details, /Unknown recipient address "127\.0\.0\.1:1"/);
      const badKey = await net.client("client_1").prepareMessage({
        message: "x",
        recipient_pubkey: new Uint8Array(5),
        recipient_addr: address,
      }).catch((e) => e);
      assert.equal(badKey.code, grpc.status.INVALID_ARGUMENT);
      assert.match(badKey.details, /recipient_pubkey: expected 32 raw bytes or the base64 text/);
      // 32 raw bytes work as well as the key file's text.
      const raw = net.keys.get("client_2")!.publicKey;
      assert.ok(
        (await net.client("client_1").prepareMessage({
          message: "raw key",
          recipient_pubkey: raw,
          recipient_addr: address,
        })).status,
      );
      assert.deepEqual(await collect(net, "client_2", 1), ["raw key"]);
    });

    await t.step(
      "the original API shape, built from the proto alone, works end to end with the cookie's token",
      async () => {
        const definition = protoLoader.loadSync(PROTO_PATH, { keepCase: true });
        // deno-lint-ignore no-explicit-any
        const pkg = grpc.loadPackageDefinition(definition).mixnet as any;
        const [c1, c2] = net.config.clients;
        // Any gRPC client that can read the client's cookie file drives it, with one header.
        const tokens = new Map(
          [c1, c2].map((c) => [
            c.address,
            Deno.readTextFileSync(`${net.dir}/secret/${c.id}.cookie`).trim(),
          ]),
        );
        const call = (address: string, method: string, request: unknown) => {
          const client = new pkg.Client(address, grpc.credentials.createInsecure());
          const metadata = new grpc.Metadata();
          metadata.set("authorization", `Bearer ${tokens.get(address)}`);
          return new Promise<Record<string, unknown>>((resolve, reject) => {
            client[method](
              request,
              metadata,
              (error: Error | null, response: Record<string, unknown>) => {
                client.close();
                if (error) reject(error);
                else resolve(response);
              },
            );
          });
        };
        const prepared = await call(c1.address, "PrepareMessage", {
          message: "original shape",
          recipient_pubkey: new TextEncoder().encode(
            new TextDecoder().decode(net.keyFile("client_2")),
          ),
          recipient_addr: c2.address,
        });
        assert.equal(prepared.status, true);
        let messages: string[] = [];
        await waitUntil(
          async () => {
            const response = await call(c2.address, "PollMessages", {});
            messages = messages.concat((response.messages as string[] | undefined) ?? []);
            return messages.length > 0;
          },
          15_000,
          "original-shape delivery",
          100,
        );
        assert.deepEqual(messages, ["original shape"]);
      },
    );
  });
});

Deno.test("a message prepared after its client planned a dummy for the round, before the send, leaves in that round as promised", async () => {
  // Long rounds, so the moment between the plan (a third of a round before the send) and the
  // send is wide enough to aim at on a loaded machine; and no pacing: a round the first mix
  // pauses (a slow start, on a loaded machine) would rightly move the message to the next one.
  const net = await createTestNetwork({
    clients: 2,
    roundDuration: 1.2,
    roundTimeout: 0.6,
    extra: { max_backlog_rounds: 1000 },
  });
  try {
    await net.startAllMixes();
    await Promise.all(net.config.clients.map((c) => net.startClient(c.id)));
    const start = await net.start();
    const durationMs = start.round_duration_s * 1000;
    const sendTime = (round: number) => start.epoch_ms + (round + 1) * durationMs;
    const sender = net.clients.get("client_1")!;
    // Once the client sends every round (a client that starts late plans from a later round),
    // a round whose plan is still ahead, then its send time less a sixth of a round.
    await waitUntil(
      () => sender.metrics.recent.some((r) => r.event === "sent"),
      10_000,
      "client_1's first packet",
    );
    const round = Math.floor((Date.now() - start.epoch_ms) / durationMs) + 1;
    await new Promise((r) => setTimeout(r, sendTime(round) - durationMs / 6 - Date.now()));
    const prepared = await send(net, "client_1", "client_2", "just in time");
    assert.equal(prepared.round, round);
    await waitUntil(
      () => sender.metrics.recent.some((r) => r.event === "sent" && r.round === round),
      10_000,
      `client_1's packet of round ${round}`,
    );
    // It left in that round, in the dummy's place, rather than waiting for the next one.
    assert.equal(sender.queueLength(), 0);
    assert.deepEqual(await collect(net, "client_2", 1), ["just in time"]);
  } finally {
    await net.close();
  }
});
