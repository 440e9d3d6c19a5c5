import assert from "node:assert/strict";
import { MixnetError } from "../../src/errors.ts";
import { HEADER_BYTES, WIRE_MAGIC } from "../../src/wire/frames.ts";
import { startWireServer } from "../../src/wire/listener.ts";
import { WireStub } from "../../src/wire/stub.ts";
import { grpc, type MixServerHandlers, RpcError } from "../../src/rpc/mod.ts";

const LIMIT = 8 * 1024 * 1024;

function handlers(overrides: Partial<MixServerHandlers> = {}): MixServerHandlers {
  return {
    ForwardMessage: (r) => Promise.resolve({ status: `ok ${r.round} ${r.payload.length}` }),
    PollMessages: () =>
      Promise.resolve({
        payloads: [new Uint8Array([1, 2]), new Uint8Array(3 * 1024 * 1024).fill(9)],
        token: new Uint8Array([7]),
        round: -1,
        notice: new Uint8Array(),
      }),
    Register: (r) => Promise.resolve({ status: true, reason: r.client_id }),
    WaitForStart: () =>
      Promise.resolve({ ready: true, round_duration: 1, epoch_ms: 5, round_duration_s: 1 }),
    async ForwardBatch(chunks) {
      const seen: string[] = [];
      for await (const c of chunks) {
        seen.push(`${c.round}:${c.chunk}/${c.chunks}:${c.packets.length}`);
      }
      return { status: seen.join(" ") };
    },
    ...overrides,
  };
}

Deno.test("the wire protocol carries every MixServer method, large messages and streams included", async () => {
  const server = startWireServer("127.0.0.1:0", { handlers: handlers(), maxMessageBytes: LIMIT });
  const stub = new WireStub(`127.0.0.1:${server.port}`, { maxMessageBytes: LIMIT });
  try {
    const mac = new Uint8Array(32);
    const big = new Uint8Array(2 * 1024 * 1024).fill(3);
    assert.equal(
      (await stub.forwardMessage({ payload: big, round: 4, client_id: "c", mac })).status,
      `ok 4 ${big.length}`,
    );
    const poll = await stub.pollMessages({
      client_addr: "a",
      client_id: "c",
      timestamp_ms: 1,
      round: -1,
      ack: new Uint8Array(),
      mac,
    });
    assert.deepEqual(poll.payloads.map((p) => p.length), [2, 3 * 1024 * 1024]);
    assert.equal(poll.round, -1);
    assert.equal(poll.payloads[1][12345], 9);
    assert.equal((await stub.register({ client_id: "x", timestamp_ms: 1, mac })).reason, "x");
    assert.equal((await stub.waitForStart({ client_id: "x" })).epoch_ms, 5);
    const chunk = (i: number) => ({
      round: 3,
      packets: [big, big],
      mix_id: "m",
      mac,
      chunk: i,
      chunks: 3,
    });
    assert.equal(
      (await stub.forwardBatch([chunk(0), chunk(1), chunk(2)])).status,
      "3:0/3:2 3:1/3:2 3:2/3:2",
    );
    // Calls at once on the one connection, answered out of order.
    const answers = await Promise.all(
      Array.from(
        { length: 50 },
        (_, i) =>
          stub.forwardMessage({ payload: new Uint8Array(i * 1000), round: i, client_id: "c", mac }),
      ),
    );
    assert.deepEqual(answers.map((a) => a.status), answers.map((_, i) => `ok ${i} ${i * 1000}`));
  } finally {
    stub.close();
    await server.close();
  }
});

Deno.test("the wire protocol reports the handler's status and reason, a deadline, a cancellation and a peer that is gone", async () => {
  let release = () => {};
  const server = startWireServer("127.0.0.1:0", {
    handlers: handlers({
      ForwardMessage: () =>
        Promise.reject(
          new MixnetError("Packet refused: round 9 is closed", {
            status: "failed-precondition",
          }),
        ),
      Register: () =>
        new Promise((resolve) => (release = () => resolve({ status: true, reason: "" }))),
      WaitForStart: () => Promise.reject(new Error("boom")),
    }),
    maxMessageBytes: LIMIT,
  });
  const address = `127.0.0.1:${server.port}`;
  const stub = new WireStub(address, { maxMessageBytes: LIMIT, name: "mix_9" });
  const code = async (p: Promise<unknown>) => {
    const error = await p.then(() => undefined, (e) => e);
    assert.ok(error instanceof RpcError, `expected an RpcError, got ${error}`);
    return [grpc.status[error.code], error.details, error.message] as const;
  };
  try {
    const mac = new Uint8Array(32);
    const [refused, why, message] = await code(
      stub.forwardMessage({ payload: new Uint8Array(1), round: 9, client_id: "c", mac }),
    );
    assert.equal(refused, "FAILED_PRECONDITION");
    assert.equal(why, "Packet refused: round 9 is closed");
    assert.match(message, /^ForwardMessage on mix_9 failed: FAILED_PRECONDITION/);
    assert.equal((await code(stub.waitForStart({ client_id: "c" })))[0], "INTERNAL");
    const [late] = await code(
      stub.register({ client_id: "c", timestamp_ms: 1, mac }, { timeoutMs: 50 }),
    );
    assert.equal(late, "DEADLINE_EXCEEDED");
    const stop = new AbortController();
    const pending = code(
      stub.register({ client_id: "c", timestamp_ms: 1, mac }, { signal: stop.signal }),
    );
    stop.abort();
    assert.equal((await pending)[0], "CANCELLED");
    release();
    await server.close();
    const [gone, reason] = await code(stub.waitForStart({ client_id: "c" }));
    assert.equal(gone, "UNAVAILABLE");
    assert.match(reason, /No connection to 127\.0\.0\.1:\d+|Wire lost|Wire write failed/);
    // The same address served again: the next call reconnects.
    const again = startWireServer(address, { handlers: handlers(), maxMessageBytes: LIMIT });
    try {
      assert.equal((await stub.waitForStart({ client_id: "c" })).epoch_ms, 5);
    } finally {
      await again.close();
    }
  } finally {
    stub.close();
    await server.close();
  }
});

Deno.test("a wire server drops a connection without the magic or with an oversized frame, and keeps serving", async () => {
  const server = startWireServer("127.0.0.1:0", { handlers: handlers(), maxMessageBytes: 1024 });
  try {
    const junk = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await junk.write(new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    assert.equal(await junk.read(new Uint8Array(16)), null);
    junk.close();
    const huge = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const header = new Uint8Array(HEADER_BYTES);
    new DataView(header.buffer).setUint32(0, 10 * 1024 * 1024);
    header[4] = 1;
    header[8] = 7;
    await huge.write(WIRE_MAGIC);
    await huge.read(new Uint8Array(32));
    await huge.write(new Uint8Array(4));
    await huge.write(header);
    // Told why (an error frame for call 7), then the connection is closed.
    const answer = new Uint8Array(256);
    const n = (await huge.read(answer))!;
    assert.equal(answer[4], 5);
    assert.equal(answer[8], 7);
    assert.match(
      new TextDecoder().decode(answer.subarray(11, n)),
      /Message of \d+ bytes refused: at most \d+ are accepted/,
    );
    huge.close();
    const stub = new WireStub(`127.0.0.1:${server.port}`, { maxMessageBytes: 1024 });
    try {
      assert.equal((await stub.waitForStart({ client_id: "c" })).ready, true);
    } finally {
      stub.close();
    }
  } finally {
    await server.close();
  }
});
