import assert from "node:assert/strict";
import { killOutright, startBatchServer } from "../_testkit/batch_server.ts";
import { freePorts } from "../_testkit/ports.ts";
import { MixnetError } from "../../src/errors.ts";
import { codeKind, failureKind, grpc, MixServerStub, RpcError } from "../../src/rpc/mod.ts";

const LIMIT = 1024 * 1024;
const BATCH = { round: 1, packets: [new Uint8Array(8)], mix_id: "mix_1", mac: new Uint8Array() };

Deno.test("a peer killed and started again is reached by the first call after it listens, though the channel saw its connection refused", async () => {
  const [port] = freePorts(1);
  const address = `127.0.0.1:${port}`;
  const stub = new MixServerStub(address, { maxMessageBytes: LIMIT, name: "peer" });
  let server = await startBatchServer(address);
  try {
    assert.equal((await stub.forwardBatch(BATCH)).status, "received 1");
    await killOutright(server);
    // The call the kill cuts short may fail either way; later ones find the connection refused
    // after waiting for it a while, and say so.
    let down: RpcError;
    for (let calls = 1;; calls++) {
      down = await stub.forwardBatch(BATCH, { timeoutMs: 1000 }).then(
        () => assert.fail("a killed peer answered"),
        (e) => e,
      );
      assert.ok(down instanceof RpcError, String(down));
      assert.ok(down.transient, down.message);
      if (/ECONNREFUSED/.test(down.details) || calls === 3) break;
    }
    assert.equal(down.code, grpc.status.UNAVAILABLE, down.message);
    assert.match(down.details, /connect ECONNREFUSED/);
    assert.doesNotMatch(down.details, /Resolution note/);
    server = await startBatchServer(address);
    // grpc-js's own backoff would still hold the channel in TRANSIENT_FAILURE here (1 s and
    // more), failing this call at once; the policy's call waits for the reconnection.
    const started = performance.now();
    assert.equal((await stub.forwardBatch(BATCH)).status, "received 1");
    // Reached on the reconnect backoff (at most 1.2 s), well within the call's 10 s deadline.
    assert.ok(performance.now() - started < 3000, `${performance.now() - started} ms`);
  } finally {
    stub.close();
    await killOutright(server);
  }
});

Deno.test("a fail-fast stub (the CLI's) reports a peer that is not there at once", async () => {
  const [port] = freePorts(1);
  const stub = new MixServerStub(`127.0.0.1:${port}`, { maxMessageBytes: LIMIT, failFast: true });
  try {
    const started = performance.now();
    const error = await stub.forwardBatch(BATCH).then(() => undefined, (e) => e);
    assert.ok(error instanceof RpcError);
    assert.equal(error.code, grpc.status.UNAVAILABLE);
    // At once, not at the end of the 10 s deadline.
    assert.ok(performance.now() - started < 2000, `${performance.now() - started} ms`);
  } finally {
    stub.close();
  }
});

Deno.test("one classification: down, slow, full or broken calls are transient, refusals and local bugs permanent", () => {
  const transient = [
    "UNAVAILABLE",
    "DEADLINE_EXCEEDED",
    "RESOURCE_EXHAUSTED",
    "ABORTED",
    "CANCELLED",
    "INTERNAL",
    "UNKNOWN",
  ];
  for (const name of Object.keys(grpc.status).filter((k) => isNaN(Number(k)))) {
    const code = grpc.status[name as keyof typeof grpc.status];
    if (name === "OK") continue;
    const expected = transient.includes(name) ? "transient" : "permanent";
    assert.equal(codeKind(code), expected, name);
    assert.equal(failureKind(new RpcError("peer", "Method", code, "why")), expected, name);
  }
  assert.equal(
    failureKind(new MixnetError("disk full", { status: "resource-exhausted" })),
    "transient",
  );
  assert.equal(
    failureKind(new MixnetError("no key", { status: "failed-precondition" })),
    "permanent",
  );
  assert.equal(failureKind(new TypeError("a bug")), "permanent");
  // grpc-js reports a connection cut mid-call as INTERNAL (RST_STREAM): not a refusal.
  const cut = new RpcError("peer", "ForwardBatch", grpc.status.INTERNAL, "Received RST_STREAM");
  assert.equal(failureKind(cut), "transient");
});
