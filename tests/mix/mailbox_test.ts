import assert from "node:assert/strict";
import { anonymousPoll, createTestNetwork, type TestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { PeerMac, pollProof } from "../../src/crypto/mod.ts";
import { innermostSize } from "../../src/onion/mod.ts";
import { grpc, type PollMessagesRequest } from "../../src/rpc/mod.ts";

function currentRound(start: { epoch_ms: number; round_duration_s: number }): number {
  return Math.max(0, Math.floor((Date.now() - start.epoch_ms) / (start.round_duration_s * 1000)));
}

/** Waits until mix_3 has stored `count` deliveries in all. */
function delivered(net: TestNetwork, count: number): Promise<void> {
  return waitUntil(
    () => (net.mixes.get("mix_3")!.metrics.counters["packets.out"] ?? 0) >= count,
    10_000,
    `${count} deliveries at mix_3`,
  );
}

Deno.test("fetches without proof, with another client's proof or a stale or replayed one are denied; the mailbox stays intact", async () => {
  const net = await createTestNetwork({ clients: 2 });
  try {
    await net.startAllMixes();
    const start = await net.start();
    const round = currentRound(start);
    await net.send("client_1", round, net.onion("client_2", "for 2 only"));
    await net.send("client_2", round, net.onion("client_1", "for 1"));
    const mix3 = net.stub("mix_3");
    const address2 = net.config.clients[1].address;
    const lastKey = net.keys.get("mix_3")!.publicKey;
    const signed = (as: string, fields: Partial<PollMessagesRequest> & { client_id: string }) => {
      const request: PollMessagesRequest = {
        client_addr: address2,
        timestamp_ms: Date.now(),
        round: -1,
        ack: new Uint8Array(),
        mac: new Uint8Array(),
        ...fields,
      };
      request.mac = new PeerMac(net.box, net.keys.get(as)!).sign(lastKey, ...pollProof(request));
      return request;
    };
    const denied = async (request: PollMessagesRequest, pattern: RegExp) => {
      const error = await mix3.pollMessages(request).then(() => undefined, (e) => e);
      assert.equal(error?.code, grpc.status.PERMISSION_DENIED, String(error));
      assert.match(error.details, pattern);
    };
    await delivered(net, 2);

    await denied(anonymousPoll(address2), /authentication is required/);
    // client_1 signs with its own key but claims client_2's identity or client_2's address.
    await denied(signed("client_1", { client_id: "client_2" }), /does not verify/);
    await denied(
      signed("client_1", { client_id: "client_1" }),
      /is not the mailbox of client "client_1"/,
    );
    await denied(
      signed("client_2", { client_id: "client_2", timestamp_ms: Date.now() - 120_000 }),
      /more than 60 s/,
    );
    const fresh = signed("client_2", { client_id: "client_2" });
    const first = await mix3.pollMessages(fresh);
    assert.deepEqual(net.open("client_2", first.payloads.slice(0, 1)), ["for 2 only"]);
    // The same proof again, or a copy acknowledging the response to delete it, is refused.
    await denied(fresh, /not newer than its last poll/);
    await denied({ ...fresh, ack: first.token }, /does not verify/);
    // Nothing was deleted by the denied fetches: the owner sees the message again.
    assert.deepEqual(net.open("client_2", await net.poll("client_2")), ["for 2 only"]);
    // Acknowledged by that fetch, it is gone.
    assert.deepEqual(await net.poll("client_2"), []);
    assert.deepEqual(net.open("client_1", await net.poll("client_1")), ["for 1"]);
    const notLast = await net.stub("mix_1").pollMessages(fresh).catch((e) => e);
    assert.match(notLast.details, /mailboxes are at the last mix, mix_3/);
  } finally {
    await net.close();
  }
});

Deno.test("every fetch carries fetch_size packets of one length, real ones first; an unacknowledged response is sent again, an acknowledged one never", async () => {
  const net = await createTestNetwork({ clients: 3, extra: { fetch_size: 2 } });
  try {
    await net.startAllMixes();
    const start = await net.start();
    const round = currentRound(start);
    for (const [i, from] of ["client_1", "client_2", "client_3"].entries()) {
      await net.send(from, round, net.onion("client_3", `m${i}`));
    }
    await delivered(net, 3);
    const size = innermostSize(net.config.payloadSize);
    const shape = (payloads: Uint8Array[]) => payloads.map((p) => p.length);

    const a = await net.fetch("client_3");
    assert.deepEqual(shape(a.payloads), [size, size]);
    assert.deepEqual([a.notice.real, a.notice.pending, a.notice.dropped], [2, 1, 0]);
    assert.equal(a.token.length, 16);
    // Lost on the way back: the next fetch acknowledges a token the mix never gave out, so
    // the two packets come again, and the third after them.
    net.forgetToken("client_3");
    const b = await net.fetch("client_3");
    assert.deepEqual(b.payloads.slice(0, 2).map((p) => [...p]), a.payloads.map((p) => [...p]));
    assert.deepEqual([b.notice.real, b.notice.pending], [2, 1]);
    const c = await net.fetch("client_3");
    assert.deepEqual(shape(c.payloads), [size, size]);
    assert.deepEqual([c.notice.real, c.notice.pending], [1, 0]);
    const texts = net.open("client_3", [...b.payloads, ...c.payloads.slice(0, 1)]);
    assert.deepEqual(texts.sort(), ["m0", "m1", "m2"]);
    // Padding does not open for the owner, and differs from fetch to fetch.
    assert.throws(() => net.open("client_3", c.payloads.slice(1)));
    const d = await net.fetch("client_3");
    assert.deepEqual([d.notice.real, d.notice.pending], [0, 0]);
    assert.deepEqual(shape(d.payloads), [size, size]);
    assert.notDeepEqual([...d.payloads[1]], [...c.payloads[1]]);
    // The token of every response differs; the round is the last one stored.
    assert.equal(new Set([a, b, c, d].map((r) => r.token.join())).size, 4);
    assert.ok(d.round >= round, `stored round ${d.round} before the round sent ${round}`);
  } finally {
    await net.close();
  }
});

Deno.test("a fetch for a round not stored yet is answered once it is stored", async () => {
  const net = await createTestNetwork({ clients: 2, roundDuration: 0.2, roundTimeout: 0.1 });
  try {
    await net.startAllMixes();
    const start = await net.start();
    const ahead = currentRound(start) + 1;
    const fetching = net.fetch("client_1", ahead);
    fetching.catch(() => {});
    await net.send("client_2", ahead, net.onion("client_1", "in the awaited round"));
    const fetched = await fetching;
    assert.ok(fetched.round >= ahead, `answered at round ${fetched.round}, before ${ahead}`);
    assert.equal(fetched.notice.real, 1);
    assert.deepEqual(net.open("client_1", fetched.payloads.slice(0, 1)), ["in the awaited round"]);
  } finally {
    await net.close();
  }
});

Deno.test("a mailbox over its capacity drops its oldest packets, counts them and tells its owner", async () => {
  const net = await createTestNetwork({
    clients: 3,
    extra: { fetch_size: 2, mailbox_capacity: 2 },
  });
  try {
    await net.startAllMixes();
    const start = await net.start();
    for (const [i, texts] of [["#0", "#1"], ["#2", "#3"]].entries()) {
      const round = currentRound(start) + 1;
      await net.send("client_1", round, net.onion("client_3", texts[0]));
      await net.send("client_2", round, net.onion("client_3", texts[1]));
      await delivered(net, 2 * (i + 1));
    }
    assert.equal(net.mixes.get("mix_3")!.metrics.counters["mailbox.dropped"], 2);
    const fetched = await net.fetch("client_3");
    assert.deepEqual([fetched.notice.real, fetched.notice.pending, fetched.notice.dropped], [
      2,
      0,
      2,
    ]);
    assert.deepEqual(net.open("client_3", fetched.payloads).sort(), ["#2", "#3"]);
  } finally {
    await net.close();
  }
});
