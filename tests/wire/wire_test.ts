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
import { type MixServerHandlers, pinnedWireDialer } from "../../src/rpc/mod.ts";
import { generateTlsIdentity } from "../../src/crypto/mod.ts";

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

/** Rejects, naming `what`, when `promise` has not settled within `ms`: a failure, not a hang. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves when `conn` ends: its caller was let go. */
async function ended(conn: Deno.Conn): Promise<void> {
  while (await conn.read(new Uint8Array(64)).catch(() => null) !== null) {
    // Bytes before the end (the nonce) are not what is waited for.
  }
}

for (const tls of [false, true]) {
  Deno.test(`a caller that stalls its handshake${tls ? " over TLS" : ""} holds up no one, and is let go at the handshake timeout as refused`, async () => {
    const identity = await generateTlsIdentity("mix_1");
    const pin = { id: "mix_1", address: "127.0.0.1:0", certificate: identity.certificate };
    const refused: string[] = [];
    let onRefused = () => {};
    const bothRefused = new Promise<void>((resolve) => onRefused = resolve);
    const timeoutMs = 1000;
    const server = startWireServer("127.0.0.1:0", {
      handlers,
      maxMessageBytes: 1024,
      tls: tls ? { cert: identity.certificate.pem, key: identity.keyPem } : undefined,
      handshakeTimeoutMs: timeoutMs,
      onRefused: (_peer, reason) => {
        refused.push(reason);
        if (refused.length === 2) onRefused();
      },
    });
    const dial = tls ? pinnedWireDialer(pin) : undefined;
    const started = performance.now();
    // One says nothing at all (over TLS, not even its hello); one stops after the magic.
    const silent = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const halfway = dial
      ? await dial("127.0.0.1", server.port)
      : await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const stub = new WireStub(`127.0.0.1:${server.port}`, { maxMessageBytes: 1024, dial });
    try {
      await halfway.write(WIRE_MAGIC);
      const answer = await within(stub.waitForStart({ client_id: "c" }), 5000, "the call");
      assert.equal(answer.ready, true);
      assert.deepEqual(refused, [], "the call was answered only after a stalled caller was let go");
      await within(bothRefused, 5000, "the stalled callers refused");
      assert.ok(performance.now() - started >= timeoutMs, "let go before the timeout");
      assert.deepEqual(refused, Array(2).fill(`its handshake was not done within ${timeoutMs} ms`));
      // Over TLS, Deno holds the socket of a caller that never began TLS until it speaks or
      // leaves (see acceptWire); one that did is closed.
      for (const conn of tls ? [halfway] : [silent, halfway]) {
        await within(ended(conn), 5000, "the stalled connection's end");
      }
    } finally {
      stub.close();
      silent.close();
      halfway.close();
      await server.close();
    }
  });
}
