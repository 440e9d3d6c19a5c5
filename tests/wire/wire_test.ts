import assert from "node:assert/strict";
import { MixnetError } from "../../src/errors.ts";
import { FrameKind, HEADER_BYTES, WIRE_MAGIC } from "../../src/wire/frames.ts";
import { startWireServer } from "../../src/wire/listener.ts";
import { wireMethod } from "../../src/wire/methods.ts";
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

/** A frame as a caller writes it: header, then payload. */
function frame(kind: number, call: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length + 5);
  view.setUint8(4, kind);
  view.setUint32(5, call);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** Reads one frame by hand: its kind, call and payload. */
async function readFrame(conn: Deno.Conn) {
  const header = new Uint8Array(HEADER_BYTES);
  for (let n = 0; n < HEADER_BYTES;) n += (await conn.read(header.subarray(n)))!;
  const view = new DataView(header.buffer);
  const payload = new Uint8Array(view.getUint32(0) - 5);
  for (let n = 0; n < payload.length;) n += (await conn.read(payload.subarray(n)))!;
  return { kind: view.getUint8(4), call: view.getUint32(5), payload };
}

/** Opens a raw connection and does the caller's side of the handshake, showing no certificate. */
async function rawCaller(port: number): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(WIRE_MAGIC);
  const nonce = new Uint8Array(32);
  for (let n = 0; n < nonce.length;) n += (await conn.read(nonce.subarray(n)))!;
  await conn.write(new Uint8Array(4));
  return conn;
}

Deno.test("a wire server closes a connection that does not start with the magic, and keeps serving", async () => {
  const server = startWireServer("127.0.0.1:0", { handlers: handlers(), maxMessageBytes: 1024 });
  try {
    const junk = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await junk.write(new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    assert.equal(await junk.read(new Uint8Array(16)), null);
    junk.close();
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

Deno.test("an oversized frame is answered with its call's RESOURCE_EXHAUSTED and read past: the connection's next call is answered", async () => {
  const server = startWireServer("127.0.0.1:0", { handlers: handlers(), maxMessageBytes: 1024 });
  const conn = await rawCaller(server.port);
  try {
    const waitForStart = wireMethod("WaitForStart")!;
    const request = waitForStart.encodeRequest({ client_id: "c" });
    // Call 7 carries 2000 bytes of request: over the limit, and read past without being kept.
    const oversized = new Uint8Array(1 + 2000);
    oversized[0] = waitForStart.number;
    await conn.write(frame(FrameKind.call, 7, oversized));
    await conn.write(frame(FrameKind.call, 8, new Uint8Array([waitForStart.number, ...request])));
    const refused = await readFrame(conn);
    assert.deepEqual([refused.kind, refused.call], [FrameKind.error, 7]);
    assert.equal(new DataView(refused.payload.buffer).getUint16(0), 8); // RESOURCE_EXHAUSTED
    assert.equal(
      new TextDecoder().decode(refused.payload.subarray(2)),
      "Message of 2000 bytes refused: at most 1024 are accepted",
    );
    const answered = await readFrame(conn);
    assert.deepEqual([answered.kind, answered.call], [FrameKind.reply, 8]);
    assert.equal(
      (waitForStart.decodeResponse(answered.payload) as { epoch_ms: number }).epoch_ms,
      5,
    );
  } finally {
    conn.close();
    await server.close();
  }
});
