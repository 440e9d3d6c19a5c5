/**
 * An observer of every fetch to and from the last mix (a recording proxy in its place): every
 * client fetches on the configured cadence whether or not it receives anything, every response
 * carries the same number of packets of the same length, and every client's fetch of a round is
 * answered on the same event (the round stored). Only the owner, opening the sealed notice,
 * learns how many of its packets were real.
 */
import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { closeProxied, type ProxiedMix, startProxiedMix } from "../_testkit/proxy.ts";
import { SEAL_OVERHEAD } from "../../src/crypto/mod.ts";
import { decodeNotice, innermostSize, NOTICE_BYTES, TOKEN_BYTES } from "../../src/onion/mod.ts";
import type { PollMessagesRequest, PollMessagesResponse } from "../../src/rpc/mod.ts";

const FETCH_EVERY = 2;
const FETCH_SIZE = 2;
const ROUNDS = 16;

Deno.test("an observer of every fetch sees the same number of packets of one length, at the configured cadence, for every client", async () => {
  const net = await createTestNetwork({
    clients: 4,
    roundDuration: 0.25,
    roundTimeout: 0.15,
    // No loops: then a fetch of client_2 with nothing real in it is certain to happen.
    extra: { fetch_every: FETCH_EVERY, fetch_size: FETCH_SIZE, loop_every: 0 },
  });
  const seen: { client: string; request: PollMessagesRequest; response: PollMessagesResponse }[] =
    [];
  const hops: ProxiedMix[] = [];
  try {
    hops.push(
      await startProxiedMix(net, "mix_3", {
        hook: async (method, request, relay) => {
          const response = await relay(request);
          if (method === "PollMessages") {
            const poll = request as PollMessagesRequest;
            seen.push({
              client: poll.client_id,
              request: poll,
              response: response as PollMessagesResponse,
            });
          }
          return response;
        },
      }),
    );
    await net.startMix("mix_2");
    await net.startMix("mix_1");
    const ids = net.config.clients.map((c) => c.id);
    await Promise.all(ids.map((id) => net.startClient(id)));
    await waitUntil(() => seen.length >= ids.length, 10_000, "a fetch of every client");
    const first = Math.max(...seen.map((s) => s.request.round)) + FETCH_EVERY;
    const last = first + ROUNDS - 1;
    // Real traffic for one client only: three messages a round, for two rounds.
    const to = net.config.clients[1];
    for (let i = 0; i < 2; i++) {
      for (const from of ["client_1", "client_3", "client_4"]) {
        await net.client(from).prepareMessage({
          message: `to client_2 #${i} from ${from}`,
          recipient_pubkey: net.keyFile(to.id),
          recipient_addr: to.address,
        });
      }
    }
    await waitUntil(
      () => ids.every((id) => seen.some((s) => s.client === id && s.request.round > last)),
      30_000,
      `every client's fetch after round ${last}`,
    );

    const window = seen.filter((s) => s.request.round >= first && s.request.round <= last);
    const cadence = Array.from({ length: ROUNDS }, (_, i) => first + i)
      .filter((r) => r % FETCH_EVERY === 0);
    const packet = innermostSize(net.config.payloadSize);
    for (const id of ids) {
      const mine = window.filter((s) => s.client === id);
      assert.deepEqual(mine.map((s) => s.request.round), cadence, `${id} fetched on the cadence`);
      for (const { response } of mine) {
        assert.deepEqual(
          [
            response.payloads.map((p) => p.length),
            response.token.length,
            response.notice.length,
          ],
          [Array(FETCH_SIZE).fill(packet), TOKEN_BYTES, NOTICE_BYTES + SEAL_OVERHEAD],
          `${id}'s response to its fetch of round ${response.round}`,
        );
      }
    }
    // Each round's fetches are all answered on one event: the round stored at mix_3.
    for (const round of cadence) {
      const answers = window.filter((s) => s.request.round === round).map((s) => s.response.round);
      assert.equal(new Set(answers).size, 1, `round ${round} answered at rounds ${answers}`);
      assert.ok(answers[0] >= round, `round ${round} answered before it was stored`);
    }
    // Yet client_2 received several packets in some of those fetches, which only it can tell.
    const real = window.filter((s) => s.client === "client_2").map((s) =>
      decodeNotice(net.box.open(s.response.notice, net.keys.get("client_2")!)).real
    );
    assert.ok(real.some((n) => n > 0), `client_2's fetches carried ${real} real packets`);
    assert.ok(real.some((n) => n === 0), `client_2's fetches carried ${real} real packets`);
  } finally {
    await closeProxied(net, hops);
  }
});
