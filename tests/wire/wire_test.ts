/**
 * What only the wire protocol has: its magic, its frames as a hostile caller writes them by hand,
 * and its handshake. The MixServer calls it carries, as gRPC carries them, are tested by the one
 * contract suite of both transports (tests/rpc/mix_server_calls_test.ts).
 */
import assert from "node:assert/strict";
import { FrameKind, HEADER_BYTES, WIRE_MAGIC } from "../../src/wire/frames.ts";
import { startWireServer } from "../../src/wire/listener.ts";
import { wireMethod } from "../../src/wire/methods.ts";
import { WireStub } from "../../src/wire/stub.ts";
import type { MixServerHandlers } from "../../src/rpc/mod.ts";

const handlers = {
  WaitForStart: () =>
    Promise.resolve({ ready: true, round_duration: 1, epoch_ms: 5, round_duration_s: 1 }),
} as unknown as MixServerHandlers;

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
  const server = startWireServer("127.0.0.1:0", { handlers, maxMessageBytes: 1024 });
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
  const server = startWireServer("127.0.0.1:0", { handlers, maxMessageBytes: 1024 });
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
