import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { cookieHeaders, cookiePath, readCookie } from "../../src/client/mod.ts";
import { createLogger } from "../../src/log.ts";
import { ClientStub, grpc, maxMessageBytes, RpcError } from "../../src/rpc/mod.ts";

Deno.test("a local process without a client's API cookie can neither read its mail nor send as it; the owner can", async () => {
  const net = await createTestNetwork({ clients: 2, roundDuration: 0.2, roundTimeout: 0.15 });
  const warnings = new Map<string, string[]>([["client_1", []], ["client_2", []]]);
  const stubs: ClientStub[] = [];
  try {
    await net.startAllMixes();
    const [c1, c2] = await Promise.all(net.config.clients.map((c) =>
      net.startClient(c.id, {
        logger: createLogger({
          name: c.id,
          level: "warn",
          write: (line) => warnings.get(c.id)!.push(line),
        }),
      })
    ));
    for (const { id } of net.config.clients) {
      const mode = (await Deno.stat(cookiePath(net.config.keysDir, id))).mode! & 0o777;
      assert.equal(mode.toString(8), "600", `${id}'s cookie is readable by others`);
    }
    // Local processes that can reach the ports but not the cookie files.
    const outsider = (address: string, headers?: Record<string, string>) => {
      const stub = new ClientStub(address, {
        maxMessageBytes: maxMessageBytes(net.config),
        headers,
      });
      stubs.push(stub);
      return stub;
    };
    const [a1, a2] = net.config.clients.map((c) => c.address);
    const forgers = [
      outsider(a1),
      outsider(a1, cookieHeaders("0".repeat(64))),
      outsider(a1, { authorization: "Bearer" }),
      // A token is one client's: client_2's does not open client_1.
      outsider(a1, cookieHeaders(readCookie(net.config.keysDir, "client_2"))),
    ];
    for (const forger of forgers) {
      const refused = await forger.prepareMessage({
        message: "forged",
        recipient_pubkey: net.keyFile("client_2"),
        recipient_addr: a2,
      }).then(() => undefined, (e) => e);
      assert.ok(refused instanceof RpcError, `a forgery was queued: ${String(refused)}`);
      assert.equal(refused.code, grpc.status.UNAUTHENTICATED, refused.message);
      assert.match(refused.details, /needs this client's API cookie/);
    }

    await net.client("client_1").prepareMessage({
      message: "private-note-42",
      recipient_pubkey: net.keyFile("client_2"),
      recipient_addr: a2,
    });
    await waitUntil(
      () => (net.mixes.get("mix_3")!.metrics.counters["packets.out"] ?? 0) >= 1,
      10_000,
      "the note in client_2's mailbox",
    );
    const thief = outsider(a2);
    for (let i = 0; i < 3; i++) {
      const refused = await thief.pollMessages().then(() => undefined, (e) => e);
      assert.ok(refused instanceof RpcError, `the thief got mail: ${JSON.stringify(refused)}`);
      assert.equal(refused.code, grpc.status.UNAUTHENTICATED);
    }
    const received: string[] = [];
    await waitUntil(
      async () => {
        received.push(...(await net.client("client_2").pollMessages()).messages);
        return received.length > 0;
      },
      10_000,
      "the owner's note",
      100,
    );
    assert.deepEqual(received, ["private-note-42"]);

    assert.equal(c1.metrics.counters["api.unauthenticated"], forgers.length);
    assert.equal(c2.metrics.counters["api.unauthenticated"], 3);
    // One warning per client: the rest of the burst is held back by the rate limit.
    const [w1, w2] = [warnings.get("client_1")!, warnings.get("client_2")!];
    assert.equal(w1.length, 1, w1.join("\n"));
    assert.match(
      w1[0],
      / WARN {2}client_1 refused a call without the API cookie method=Client\.PrepareMessage peer=127\.0\.0\.1:\d+ token=missing$/,
    );
    assert.equal(w2.length, 1, w2.join("\n"));
    assert.match(w2[0], /method=Client\.PollMessages peer=127\.0\.0\.1:\d+ token=missing$/);
  } finally {
    for (const stub of stubs) stub.close();
    await net.close();
  }
});
