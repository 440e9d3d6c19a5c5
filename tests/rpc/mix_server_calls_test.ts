/**
 * One contract for {@link MixServerCalls}, run against both of its implementations: gRPC
 * (`startServer` and `MixServerStub`) and the wire protocol (`startWireServer` and `WireStub`).
 * Whatever carries a node's calls to a mix, the node sees the same methods, answers, statuses,
 * reasons, deadlines, cancellations, size limits and reconnections, so that one retry policy
 * (src/rpc/policy.ts) serves both. What only one transport has (gRPC's per-service checks and
 * receive window, the wire protocol's magic and handshake) is tested in rpc_test.ts and
 * tests/wire/.
 */
import assert from "node:assert/strict";
import { type ErrorStatus, MixnetError } from "../../src/errors.ts";
import {
  batchPackets,
  type ForwardBatchRequest,
  grpc,
  type MixServerCalls,
  type MixServerHandlers,
  MixServerStub,
  RpcError,
  startServer,
} from "../../src/rpc/mod.ts";
import { startWireServer, WireStub } from "../../src/wire/mod.ts";
import { killOutright, startBatchServer } from "../_testkit/batch_server.ts";
import { freePorts } from "../_testkit/ports.ts";

const LIMIT = 8 * 1024 * 1024;
const MAC = new Uint8Array(32);

/** What a contract test needs of a transport: a server of handlers and a stub to it. */
interface Transport {
  readonly name: "grpc" | "wire";
  serve(address: string, options: {
    handlers: MixServerHandlers;
    maxMessageBytes: number;
    onInternalError?: (method: string, error: unknown) => void;
  }): Promise<{ readonly port: number; close(): Promise<void> }>;
  stub(
    address: string,
    options: { maxMessageBytes: number; name?: string; timeoutMs?: number },
  ): MixServerCalls;
}

const TRANSPORTS: readonly Transport[] = [
  {
    name: "grpc",
    serve: (address, { handlers, ...options }) =>
      startServer(address, { mix: handlers, ...options }),
    stub: (address, options) => new MixServerStub(address, options),
  },
  {
    name: "wire",
    serve: (address, options) => Promise.resolve(startWireServer(address, options)),
    stub: (address, options) => new WireStub(address, options),
  },
];

/** Every domain status a handler may throw, and the gRPC code its caller must see. */
const STATUSES: Readonly<Record<ErrorStatus, keyof typeof grpc.status>> = {
  "invalid-argument": "INVALID_ARGUMENT",
  "permission-denied": "PERMISSION_DENIED",
  "unauthenticated": "UNAUTHENTICATED",
  "not-found": "NOT_FOUND",
  "already-exists": "ALREADY_EXISTS",
  "failed-precondition": "FAILED_PRECONDITION",
  "out-of-range": "OUT_OF_RANGE",
  "resource-exhausted": "RESOURCE_EXHAUSTED",
  "unavailable": "UNAVAILABLE",
  "internal": "INTERNAL",
};

/** Handlers that answer every method at once; `overrides` replace some. */
function handlers(overrides: Partial<MixServerHandlers> = {}): MixServerHandlers {
  return {
    ForwardMessage: (r) => Promise.resolve({ status: `ok ${r.round} ${r.payload.length}` }),
    PollMessages: (r) =>
      Promise.resolve({
        payloads: [new Uint8Array([1, 2, 3]), new Uint8Array(3 * 1024 * 1024).fill(9)],
        token: new Uint8Array([7]),
        round: r.round + 1,
        notice: new Uint8Array([8, 9]),
      }),
    Register: (r) => Promise.resolve({ status: true, reason: `hello ${r.client_id}` }),
    WaitForStart: () =>
      Promise.resolve({
        ready: true,
        round_duration: 0.1,
        round_duration_s: 0.1,
        epoch_ms: 1_790_000_000_123,
      }),
    async ForwardBatch(chunks) {
      const seen: string[] = [];
      for await (const c of chunks) {
        const sizes = batchPackets(c).map((p) => p.length);
        seen.push(`${c.round}:${c.chunk}/${c.chunks}:${sizes}`);
      }
      return { status: seen.join(" "), rounds_waiting: 41 };
    },
    ...overrides,
  };
}

/** The error a call failed with, which must be an {@link RpcError}. */
async function failure(call: Promise<unknown>): Promise<RpcError> {
  const error = await call.then(() => undefined, (e) => e);
  assert.ok(error instanceof RpcError, `expected an RpcError, got ${String(error)}`);
  return error;
}

/** Whether `promise` has settled, as seen after the events queued before this call. */
function settled(promise: Promise<unknown>): () => boolean {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  return () => done;
}

/** Calls that handlers hold until the test answers them. */
class Held {
  readonly #answers: (() => void)[] = [];
  #arrived: (() => void) | undefined;

  /** Holds a call: resolves with `value` once released. */
  hold<T>(value: T): Promise<T> {
    return new Promise((resolve) => {
      this.#answers.push(() => resolve(value));
      this.#arrived?.();
    });
  }

  /** Resolves when the next call is held (ask before making it). */
  next(): Promise<void> {
    return new Promise((resolve) => (this.#arrived = resolve));
  }

  /** Answers every call held so far. */
  release(): void {
    for (const answer of this.#answers.splice(0)) answer();
  }
}

for (const t of TRANSPORTS) {
  Deno.test(`${t.name}: every MixServer method answers, large messages, streams and 50 calls at once included`, async () => {
    const seen: string[] = [];
    let waiting: (() => void)[] = [];
    const server = await t.serve("127.0.0.1:0", {
      maxMessageBytes: LIMIT,
      handlers: handlers({
        PollMessages(r) {
          seen.push(
            `poll ${r.client_addr} ${r.client_id} ${r.round} ${[...r.ack]} ${r.timestamp_ms}`,
          );
          return handlers().PollMessages(r);
        },
        // The 50 calls at once are answered last first: each waits until all have arrived.
        ForwardMessage(r) {
          if (r.client_id !== "many") return handlers().ForwardMessage(r);
          return new Promise((resolve) => {
            waiting.push(() => resolve({ status: `ok ${r.round} ${r.payload.length}` }));
            if (waiting.length === 50) {
              for (const answer of waiting.splice(0).reverse()) answer();
            }
          });
        },
      }),
    });
    const stub = t.stub(`127.0.0.1:${server.port}`, { maxMessageBytes: LIMIT });
    try {
      const big = new Uint8Array(2 * 1024 * 1024).fill(3);
      assert.deepEqual(
        await stub.forwardMessage({ payload: big, round: 4, client_id: "c", mac: MAC }),
        { status: `ok 4 ${big.length}`, next_round: 0 },
      );
      const poll = await stub.pollMessages({
        client_addr: "a:1",
        client_id: "c",
        timestamp_ms: 1_790_000_000_000,
        round: -2,
        ack: new Uint8Array([6]),
        mac: MAC,
      });
      assert.deepEqual(poll.payloads.map((p) => p.length), [3, 3 * 1024 * 1024]);
      assert.deepEqual([...poll.payloads[0]], [1, 2, 3]);
      assert.equal(poll.payloads[1][12345], 9);
      assert.deepEqual([[...poll.token], poll.round, [...poll.notice]], [[7], -1, [8, 9]]);
      assert.deepEqual(seen, ["poll a:1 c -2 6 1790000000000"]);
      assert.deepEqual(
        await stub.register({ client_id: "x", timestamp_ms: 1, mac: MAC }),
        { status: true, reason: "hello x" },
      );
      const start = await stub.waitForStart({ client_id: "x" });
      assert.equal(start.ready, true);
      assert.equal(start.epoch_ms, 1_790_000_000_123);
      assert.equal(start.round_duration_s, 0.1);
      assert.ok(Math.abs(start.round_duration - 0.1) < 1e-6);
      // One chunk of packets one by one (the original design's form), then a stream of packed
      // chunks (a mix's) larger than the 1 MiB a round's chunk carries.
      const single = await stub.forwardBatch({
        round: 2,
        packets: [MAC, MAC],
        mix_id: "m",
        mac: MAC,
      });
      assert.deepEqual([single.status, single.rounds_waiting], ["2:0/0:32,32", 41]);
      const packed = new Uint8Array(2 * big.length).fill(3);
      const chunk = (i: number): ForwardBatchRequest => ({
        round: 3,
        packets: [],
        packed,
        packet_bytes: big.length,
        mix_id: "m",
        mac: MAC,
        chunk: i,
        chunks: 3,
      });
      const size = big.length;
      assert.equal(
        (await stub.forwardBatch([chunk(0), chunk(1), chunk(2)])).status,
        `3:0/3:${size},${size} 3:1/3:${size},${size} 3:2/3:${size},${size}`,
      );
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          stub.forwardMessage({
            payload: new Uint8Array(i * 1000),
            round: i,
            client_id: "many",
            mac: MAC,
          })),
      );
      assert.deepEqual(answers.map((a) => a.status), answers.map((_, i) => `ok ${i} ${i * 1000}`));
    } finally {
      waiting = [];
      stub.close();
      await server.close();
    }
  });

  Deno.test(`${t.name}: a domain error reaches the caller with its status and reason; anything else is INTERNAL and reported`, async () => {
    const unexpected: string[] = [];
    const server = await t.serve("127.0.0.1:0", {
      maxMessageBytes: LIMIT,
      onInternalError: (method, error) => unexpected.push(`${method}: ${(error as Error).message}`),
      handlers: handlers({
        Register: (r) =>
          Promise.reject(
            new MixnetError(`Client ${r.client_id} refused: ünïcode ✓`, {
              status: r.client_id as ErrorStatus,
            }),
          ),
        WaitForStart: () => Promise.reject(new TypeError("boom")),
        ForwardMessage: () => {
          // Thrown, not rejected: a handler that fails before it returns a promise.
          throw new MixnetError("Packet refused: round 9 is closed", {
            status: "failed-precondition",
          });
        },
        // Refused after the first chunk, while the caller may still be sending.
        async ForwardBatch(chunks) {
          for await (const c of chunks) {
            throw new MixnetError(`Batch refused at chunk ${c.chunk}: its MAC does not verify`, {
              status: "permission-denied",
            });
          }
          return { status: "stored" };
        },
      }),
    });
    const stub = t.stub(`127.0.0.1:${server.port}`, { maxMessageBytes: LIMIT, name: "mix_9" });
    try {
      for (const [status, code] of Object.entries(STATUSES)) {
        const error = await failure(
          stub.register({ client_id: status, timestamp_ms: 1, mac: MAC }),
        );
        assert.equal(grpc.status[error.code], code, status);
        assert.equal(error.status, status);
        assert.equal(error.details, `Client ${status} refused: ünïcode ✓`);
        assert.equal(
          error.message,
          `Register on mix_9 failed: ${code}: Client ${status} refused: ünïcode ✓`,
        );
      }
      const closed = await failure(
        stub.forwardMessage({ payload: new Uint8Array(1), round: 9, client_id: "c", mac: MAC }),
      );
      assert.equal(closed.code, grpc.status.FAILED_PRECONDITION);
      assert.equal(closed.details, "Packet refused: round 9 is closed");
      assert.equal(closed.transient, false);
      const chunk = (i: number) => ({
        round: 1,
        packets: [new Uint8Array(512 * 1024)],
        mix_id: "m",
        mac: MAC,
        chunk: i,
        chunks: 4,
      });
      const denied = await failure(stub.forwardBatch([0, 1, 2, 3].map(chunk)));
      assert.equal(denied.code, grpc.status.PERMISSION_DENIED);
      assert.equal(denied.details, "Batch refused at chunk 0: its MAC does not verify");
      const crashed = await failure(stub.waitForStart({ client_id: "c" }));
      assert.equal(crashed.code, grpc.status.INTERNAL);
      assert.match(crashed.details, /boom/);
      assert.equal(crashed.transient, true);
      assert.deepEqual(unexpected, ["WaitForStart: boom"]);
      // None of these broke the stub.
      const poll = await stub.pollMessages({
        client_addr: "a",
        client_id: "c",
        timestamp_ms: 1,
        round: 4,
        ack: new Uint8Array(),
        mac: MAC,
      });
      assert.equal(poll.round, 5);
    } finally {
      stub.close();
      await server.close();
    }
  });

  Deno.test(`${t.name}: a call past its deadline fails with DEADLINE_EXCEEDED and an aborted one with CANCELLED; the stub goes on, and does not wake a retry while connected`, async () => {
    const held = new Held();
    const server = await t.serve("127.0.0.1:0", {
      maxMessageBytes: LIMIT,
      handlers: handlers({
        Register: () => held.hold({ status: true, reason: "late" }),
        async ForwardBatch(chunks) {
          for await (const _ of chunks) { /* read to its end */ }
          return await held.hold({ status: "late" });
        },
      }),
    });
    const stub = t.stub(`127.0.0.1:${server.port}`, { maxMessageBytes: LIMIT, name: "mix_9" });
    const register = (options?: { timeoutMs?: number; signal?: AbortSignal }) =>
      failure(stub.register({ client_id: "c", timestamp_ms: 1, mac: MAC }, options));
    try {
      assert.equal((await stub.waitForStart({ client_id: "c" })).ready, true);
      // Connected: a retry's wait is not cut short, even past its end.
      const woke = settled(stub.reconnected(Date.now() + 20));
      const late = await register({ timeoutMs: 300 });
      assert.equal(late.code, grpc.status.DEADLINE_EXCEEDED, late.message);
      assert.ok(late.transient);
      assert.equal(woke(), false, "reconnected resolved while the stub was connected");

      assert.equal((await register({ signal: AbortSignal.abort() })).code, grpc.status.CANCELLED);
      // Aborted once the handler holds it, a unary call and a stream.
      const stop = new AbortController();
      const reached = held.next();
      const pending = register({ signal: stop.signal });
      await reached;
      stop.abort();
      const cancelled = await pending;
      assert.equal(cancelled.code, grpc.status.CANCELLED, cancelled.message);
      assert.ok(cancelled.transient);
      const streaming = new AbortController();
      const streamed = held.next();
      const batch = failure(
        stub.forwardBatch({ round: 1, packets: [MAC], mix_id: "m", mac: MAC }, {
          signal: streaming.signal,
        }),
      );
      await streamed;
      streaming.abort();
      assert.equal((await batch).code, grpc.status.CANCELLED);
      // Answers to calls given up are dropped; the next call is answered.
      held.release();
      assert.equal((await stub.waitForStart({ client_id: "c" })).ready, true);
      assert.equal(woke(), false);
    } finally {
      held.release();
      stub.close();
      await server.close();
    }
  });

  Deno.test(`${t.name}: a message over a size limit is refused with RESOURCE_EXHAUSTED naming the sizes, and the stub goes on`, async () => {
    const small = 64 * 1024;
    const strict = await t.serve("127.0.0.1:0", { maxMessageBytes: small, handlers: handlers() });
    const open = await t.serve("127.0.0.1:0", { maxMessageBytes: LIMIT, handlers: handlers() });
    const toStrict = t.stub(`127.0.0.1:${strict.port}`, { maxMessageBytes: LIMIT, name: "strict" });
    const fromOpen = t.stub(`127.0.0.1:${open.port}`, { maxMessageBytes: small, name: "open" });
    const sizes = (error: RpcError) => {
      assert.equal(error.code, grpc.status.RESOURCE_EXHAUSTED, error.message);
      assert.ok(error.transient);
      const numbers = [...error.details.matchAll(/\d+/g)].map(Number);
      assert.ok(numbers.includes(small), `the limit ${small} is not named: ${error.details}`);
      return numbers.filter((n) => n > small);
    };
    const packet = (bytes: number) => ({
      round: 1,
      packets: [new Uint8Array(bytes)],
      mix_id: "m",
      mac: MAC,
    });
    try {
      // A request over the server's limit: a unary one, and a chunk in the middle of a stream.
      for (const bytes of [small + 100, 4 * 1024 * 1024]) {
        const refused = await failure(
          toStrict.forwardMessage({
            payload: new Uint8Array(bytes),
            round: 1,
            client_id: "c",
            mac: MAC,
          }),
        );
        assert.ok(sizes(refused).some((n) => n >= bytes), refused.details);
        assert.equal((await toStrict.waitForStart({ client_id: "c" })).ready, true);
      }
      const stream = await failure(
        toStrict.forwardBatch([packet(100), packet(2 * small), packet(100)]),
      );
      assert.ok(sizes(stream).some((n) => n >= 2 * small), stream.details);
      assert.equal((await toStrict.forwardBatch(packet(100))).status, "1:0/0:100");

      // A request over the caller's own limit never leaves it.
      const unsent = await failure(
        fromOpen.forwardMessage({
          payload: new Uint8Array(2 * small),
          round: 1,
          client_id: "c",
          mac: MAC,
        }),
      );
      sizes(unsent);
      // A response over the caller's limit (the poll answers 3 MiB).
      const unread = await failure(
        fromOpen.pollMessages({
          client_addr: "a",
          client_id: "c",
          timestamp_ms: 1,
          round: 0,
          ack: new Uint8Array(),
          mac: MAC,
        }),
      );
      assert.ok(sizes(unread).some((n) => n >= 3 * 1024 * 1024), unread.details);
      assert.equal((await fromOpen.waitForStart({ client_id: "c" })).ready, true);
    } finally {
      toStrict.close();
      fromOpen.close();
      await strict.close();
      await open.close();
    }
  });

  Deno.test(`${t.name}: a peer that goes away fails calls as transient; reconnected waits to its end while nothing listens, wakes when the peer listens again, and the next call gets through`, async () => {
    const [port] = freePorts(1);
    const address = `127.0.0.1:${port}`;
    const batch = { round: 1, packets: [new Uint8Array(8)], mix_id: "mix_1", mac: MAC };
    const stub = t.stub(address, { maxMessageBytes: LIMIT, name: "peer", timeoutMs: 10_000 });
    let server = await startBatchServer(address, t.name);
    try {
      assert.equal((await stub.forwardBatch(batch)).status, "received 1");
      await killOutright(server);
      // A call the kill cuts short, or one sent before the stub saw its connection end, may fail
      // either way; a later one finds nobody listening.
      let down: RpcError;
      for (let calls = 1;; calls++) {
        down = await failure(stub.forwardBatch(batch, { timeoutMs: 1000 }));
        assert.ok(down.transient, down.message);
        if (/ECONNREFUSED|refused/i.test(down.details) || calls === 3) break;
      }
      assert.equal(down.code, grpc.status.UNAVAILABLE, down.message);
      assert.match(down.details, /ECONNREFUSED|refused/i);

      // Nobody listens: the wait runs to its end, and not before.
      const until = Date.now() + 300;
      await stub.reconnected(until);
      assert.ok(Date.now() >= until - 1, `woke ${until - Date.now()} ms early`);

      // The peer comes back: the wait ends once it listens, long before its own end.
      const end = Date.now() + 30_000;
      const back = stub.reconnected(end);
      server = await startBatchServer(address, t.name);
      const listening = performance.now();
      await back;
      const woken = performance.now() - listening;
      assert.ok(woken < 5000 && Date.now() < end, `woke ${woken} ms after the peer listened`);
      assert.equal((await stub.forwardBatch(batch)).status, "received 1");

      // Gone again, and back: the first call after it listens gets through, with no wait first.
      await killOutright(server);
      assert.ok((await failure(stub.forwardBatch(batch, { timeoutMs: 1000 }))).transient);
      server = await startBatchServer(address, t.name);
      assert.equal((await stub.forwardBatch(batch)).status, "received 1");
    } finally {
      stub.close();
      await killOutright(server);
    }
  });
}
