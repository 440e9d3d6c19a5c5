import assert from "node:assert/strict";
import fc from "fast-check";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { RpcError } from "../../src/rpc/mod.ts";

Deno.test("every gRPC handler answers random requests with a status and keeps serving", async () => {
  const net = await createTestNetwork({ clients: 2, payloadSize: 64 });
  let unhandled = 0;
  const onUnhandled = (event: PromiseRejectionEvent) => {
    unhandled++;
    event.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  try {
    await net.startAllMixes();
    await net.start();
    await Promise.all(net.config.clients.map((c) => net.startClient(c.id)));
    const bytes = fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.constant(new Uint8Array(200_000)));
    const text = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom("client_1", "mix_1", "127.0.0.1:1", ""),
    );
    const int = fc.oneof(fc.integer(), fc.constantFrom(0, -1, 2 ** 31 - 1));
    const long = fc.oneof(fc.integer(), fc.constant(Date.now()), fc.constant(0));
    const calls = fc.oneof(
      fc.record({ payload: bytes, round: int, client_id: text, mac: bytes }).map((r) =>
        ["mix_1", "forwardMessage", r] as const
      ),
      fc.record({ client_id: text, timestamp_ms: long, mac: bytes }).map((r) =>
        ["mix_1", "register", r] as const
      ),
      fc.record({
        client_addr: text,
        client_id: text,
        timestamp_ms: long,
        round: int,
        ack: bytes,
        mac: bytes,
      })
        .map((r) => ["mix_3", "pollMessages", r] as const),
      fc.record({
        round: int,
        packets: fc.array(bytes, { maxLength: 4 }),
        mix_id: text,
        mac: bytes,
        chunk: int,
        chunks: int,
      })
        .map((r) => ["mix_2", "forwardBatch", r] as const),
      fc.record({
        message: fc.string({ maxLength: 100 }),
        recipient_pubkey: bytes,
        recipient_addr: text,
      })
        .map((r) => ["client_1", "prepareMessage", r] as const),
    );
    await fc.assert(
      fc.asyncProperty(calls, async ([target, method, request]) => {
        const stub = target.startsWith("mix") ? net.stub(target) : net.client(target);
        // deno-lint-ignore no-explicit-any
        const result = await (stub as any)[method](request).then(() => "ok", (e: unknown) => e);
        if (result !== "ok") {
          assert.ok(result instanceof RpcError, String(result));
          assert.notEqual(result.details, "");
          assert.doesNotMatch(result.message, /INTERNAL/, result.message);
        }
      }),
      { seed: 1234, numRuns: 150 },
    );
    // Still serving: a real message goes through.
    const to = net.config.clients[1];
    await net.client("client_1").prepareMessage({
      message: "after the storm",
      recipient_pubkey: net.keyFile("client_2"),
      recipient_addr: to.address,
    });
    let got: string[] = [];
    await waitUntil(
      async () => {
        got = got.concat((await net.client("client_2").pollMessages()).messages);
        return got.includes("after the storm");
      },
      15_000,
      "delivery after fuzzing",
      100,
    );
    assert.equal(unhandled, 0);
  } finally {
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
    await net.close();
  }
});
