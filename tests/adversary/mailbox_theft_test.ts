import assert from "node:assert/strict";
import { anonymousPoll, createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { closeProxied, type ProxiedMix, startProxiedMix } from "../_testkit/proxy.ts";
import { PeerMac, pollProof } from "../../src/crypto/mod.ts";
import { PacketError } from "../../src/errors.ts";
import { openPayload } from "../../src/onion/mod.ts";
import { grpc, type PollMessagesRequest, RpcError } from "../../src/rpc/mod.ts";

Deno.test("a thief fetching another client's mailbox with a wrong key, a replayed proof or no proof is denied; the owner receives every message once", async () => {
  const net = await createTestNetwork({ clients: 2, roundDuration: 0.2, roundTimeout: 0.15 });
  const hops: ProxiedMix[] = [];
  // The thief watches the link between client_2 and the last mix: it records client_2's
  // fetches, which the client makes every round on its own.
  const captured: PollMessagesRequest[] = [];
  let raceNext = false;
  let loot: Uint8Array[] = [];
  try {
    const mix3 = await startProxiedMix(net, "mix_3", {
      hook: async (method, request, relay) => {
        if (method !== "PollMessages") return relay(request);
        const poll = request as PollMessagesRequest;
        if (poll.client_id === "client_2") captured.push(structuredClone(poll));
        if (raceNext && poll.client_id === "client_2") {
          // The thief uses the proof it just saw before the owner's request gets there.
          raceNext = false;
          loot = (await mix3.proxy.direct.pollMessages(poll)).payloads;
        }
        return relay(request);
      },
    });
    hops.push(mix3);
    await net.startMix("mix_2");
    await net.startMix("mix_1");
    await Promise.all(net.config.clients.map((c) => net.startClient(c.id)));
    const owner = net.config.clients[1];
    const texts = Array.from({ length: 6 }, (_, i) => `for client_2 only #${i}`);
    for (const message of texts) {
      await net.client("client_1").prepareMessage({
        message,
        recipient_pubkey: net.keyFile("client_2"),
        recipient_addr: owner.address,
      });
    }
    const lastKey = net.keys.get("mix_3")!.publicKey;
    const thiefKey = net.box.generateKeyPair();
    const denied = async (request: PollMessagesRequest, reason: RegExp) => {
      const error = await mix3.proxy.direct.pollMessages(request).then(() => undefined, (e) => e);
      assert.ok(error instanceof RpcError, `the thief's poll was answered: ${String(error)}`);
      assert.equal(error.code, grpc.status.PERMISSION_DENIED, error.message);
      assert.match(error.details, reason);
    };
    const forged = (key: typeof thiefKey, fields: Partial<PollMessagesRequest> = {}) => {
      const request: PollMessagesRequest = {
        client_addr: owner.address,
        client_id: "client_2",
        timestamp_ms: Date.now(),
        round: -1,
        ack: new Uint8Array(16),
        mac: new Uint8Array(),
        ...fields,
      };
      request.mac = new PeerMac(net.box, key).sign(lastKey, ...pollProof(request));
      return request;
    };
    const counters = () => mix3.node.metrics.counters;
    // Wait until messages sit in the mailbox and the owner fetched once (a proof to steal).
    await waitUntil(() => counters()["packets.out"] >= 6, 10_000, "deliveries at mix_3");
    await waitUntil(() => captured.length > 0, 10_000, "the owner's fetch on the link");

    // No proof at all: the original design's poll by address alone.
    await denied(anonymousPoll(owner.address), /authentication is required/);
    await denied(
      {
        client_addr: owner.address,
        client_id: "client_2",
        timestamp_ms: Date.now(),
        round: -1,
        ack: new Uint8Array(16),
        mac: new Uint8Array(),
      },
      /authentication is required/,
    );
    // A wrong key: the thief's own, and another client's.
    await denied(forged(thiefKey), /proof of its key does not verify/);
    await denied(forged(net.keys.get("client_1")!), /proof of its key does not verify/);
    await denied(
      forged(net.keys.get("client_1")!, { client_id: "client_1" }),
      /is not the mailbox of client "client_1"/,
    );
    // A replayed proof: verbatim, acknowledging another response (to delete the mailbox), or
    // re-timed.
    const stolen = captured[captured.length - 1];
    await denied(stolen, /not newer than its last poll/);
    await denied({ ...stolen, ack: new Uint8Array(16) }, /proof of its key does not verify/);
    await denied(
      { ...stolen, timestamp_ms: Date.now() + 1000 },
      /proof of its key does not verify/,
    );

    // The thief wins the race with a fresh proof: it gets sealed boxes it cannot open, and the
    // owner's request is refused as a replay; nothing is acknowledged, so nothing is lost.
    const failedBefore = net.clients.get("client_2")!.metrics.counters["fetch.failed"] ?? 0;
    raceNext = true;
    await waitUntil(
      () => (net.clients.get("client_2")!.metrics.counters["fetch.failed"] ?? 0) > failedBefore,
      10_000,
      "the owner's raced fetch refused",
    );
    assert.equal(loot.length, net.config.fetchSize);
    for (const packet of loot) {
      for (const key of [thiefKey, net.keys.get("client_1")!]) {
        assert.throws(
          () => openPayload(net.box, packet, key, net.config.payloadSize),
          (e: Error) => e instanceof PacketError && e.reason === "undecryptable",
        );
      }
    }

    const received = await net.messagesOf("client_2", texts.length);
    assert.deepEqual([...received].sort(), [...texts].sort());
    const c = counters();
    assert.equal(c["poll.denied.no-proof"], 2);
    assert.equal(c["poll.denied.bad-mac"], 4);
    assert.equal(c["poll.denied.wrong-owner"], 1);
    assert.equal(c["poll.denied.replayed"], 2);
  } finally {
    await closeProxied(net, hops);
  }
});
