import assert from "node:assert/strict";
import { anonymousPoll, createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { PeerMac, pollProof } from "../../src/crypto/mod.ts";
import { grpc } from "../../src/rpc/mod.ts";

Deno.test("polls without proof, with another client's proof or a stale or replayed one are denied; the mailbox stays intact", async () => {
  const net = await createTestNetwork({ clients: 2 });
  try {
    await net.startAllMixes();
    const start = await net.start();
    const round = Math.floor((Date.now() - start.epoch_ms) / (start.round_duration_s * 1000));
    await net.send("client_1", round, net.onion("client_2", "for 2 only"));
    await net.send("client_2", round, net.onion("client_1", "for 1"));
    const mix3 = net.stub("mix_3");
    const address2 = net.config.clients[1].address;
    const lastKey = net.keys.get("mix_3")!.publicKey;
    const signed = (
      as: string,
      fields: { client_id: string; timestamp_ms: number; ack_cursor: number },
    ) => {
      const request = { client_addr: address2, mac: new Uint8Array(), ...fields };
      request.mac = new PeerMac(net.box, net.keys.get(as)!).sign(lastKey, ...pollProof(request));
      return request;
    };
    const denied = async (request: Parameters<typeof mix3.pollMessages>[0], pattern: RegExp) => {
      const error = await mix3.pollMessages(request).then(() => undefined, (e) => e);
      assert.equal(error?.code, grpc.status.PERMISSION_DENIED, String(error));
      assert.match(error.details, pattern);
    };
    // Wait until the message sits in client_2's mailbox (without polling it).
    await waitUntil(
      () => net.mixes.get("mix_3")!.metrics.counters["packets.out"] === 2,
      10_000,
      "delivery",
    );

    await denied(anonymousPoll(address2), /authentication is required/);
    // client_1 signs with its own key but claims client_2's identity or client_2's address.
    await denied(
      signed("client_1", { client_id: "client_2", timestamp_ms: Date.now(), ack_cursor: 1000 }),
      /does not verify/,
    );
    await denied(
      signed("client_1", { client_id: "client_1", timestamp_ms: Date.now(), ack_cursor: 1000 }),
      /is not the mailbox of client "client_1"/,
    );
    await denied(
      signed("client_2", {
        client_id: "client_2",
        timestamp_ms: Date.now() - 120_000,
        ack_cursor: 0,
      }),
      /more than 60 s/,
    );
    const fresh = signed("client_2", {
      client_id: "client_2",
      timestamp_ms: Date.now(),
      ack_cursor: 0,
    });
    const first = await mix3.pollMessages(fresh);
    assert.deepEqual(net.open("client_2", first.payloads), ["for 2 only"]);
    // The same proof again (even with a large cursor in a forged copy) is refused.
    await denied(fresh, /not newer than its last poll/);
    await denied({ ...fresh, ack_cursor: first.cursor }, /does not verify/);
    // Nothing was deleted by the denied polls: an honest poll without acknowledging sees it again.
    const again = await mix3.pollMessages(
      signed("client_2", { client_id: "client_2", timestamp_ms: Date.now() + 1, ack_cursor: 0 }),
    );
    assert.deepEqual(net.open("client_2", again.payloads), ["for 2 only"]);
    // Acknowledging the cursor deletes it.
    const acked = await mix3.pollMessages(
      signed("client_2", {
        client_id: "client_2",
        timestamp_ms: Date.now() + 2,
        ack_cursor: again.cursor,
      }),
    );
    assert.deepEqual(acked.payloads, []);
    assert.equal(acked.cursor, again.cursor);
    assert.deepEqual(net.open("client_1", await net.poll("client_1")), ["for 1"]);
    const notLast = await net.stub("mix_1").pollMessages(fresh).catch((e) => e);
    assert.match(notLast.details, /mailboxes are at the last mix, mix_3/);
  } finally {
    await net.close();
  }
});
