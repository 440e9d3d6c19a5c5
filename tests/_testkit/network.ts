/**
 * A test network in a temp dir: a config on free loopback ports (written by the tasks' one
 * config writer), key pairs for every node, nodes started in this process, and the test's own
 * clients, which call the cascade through src/client's CascadeLink.
 */
import assert from "node:assert/strict";
import { type Config, loadConfig } from "../../src/config/mod.ts";
import { createSealedBox, type KeyPair, PeerMac, type SealedBox } from "../../src/crypto/mod.ts";
import { silentLogger } from "../../src/log.ts";
import { type MixNode, startMix } from "../../src/mix/mod.ts";
import { buildOnion, decodeNotice, openPayload, PayloadKind } from "../../src/onion/mod.ts";
import {
  ClientStub,
  maxMessageBytes,
  type MixServerCalls,
  MixServerStub,
  type PollMessagesRequest,
} from "../../src/rpc/mod.ts";
import {
  CascadeLink,
  type ClientNode,
  cookieHeaders,
  readCookie,
  startClient,
} from "../../src/client/mod.ts";
import type { Logger } from "../../src/log.ts";
import { generateKeys, writeNetworkConfig } from "../../tasks/launch/mod.ts";
import { WireStub } from "../../src/wire/mod.ts";
import { waitUntil } from "./ports.ts";
import { ensureTlsIdentities, testChannel, testWireDialer } from "./tls.ts";

/** Options of {@link createTestNetwork}. */
export interface TestNetworkOptions {
  mixes?: number;
  clients?: number;
  messagesPerRound?: number;
  roundDuration?: number;
  roundTimeout?: number;
  payloadSize?: number;
  /** Whether mixes get wire ports; default true (false: every call over gRPC). */
  wire?: boolean;
  extra?: Record<string, unknown>;
}

/** A temp-dir network description with keys, and client-side helpers. */
export class TestNetwork {
  readonly dir: string;
  readonly config: Config;
  readonly box: SealedBox;
  readonly keys: Map<string, KeyPair>;
  readonly mixes = new Map<string, MixNode>();
  readonly clients = new Map<string, ClientNode>();
  readonly #clientStubs = new Map<string, ClientStub>();
  readonly #stubs = new Map<string, MixServerCalls>();
  #pollClock = Date.now();
  readonly #tokens = new Map<string, Uint8Array>();
  #clock: { epochMs: number; durationMs: number } | undefined;
  /** The last round each test client sent a packet in. */
  readonly #sentRounds = new Map<string, number>();

  constructor(dir: string, config: Config, box: SealedBox, keys: Map<string, KeyPair>) {
    this.dir = dir;
    this.config = config;
    this.box = box;
    this.keys = keys;
  }

  /** Path of the config file. */
  get configPath(): string {
    return this.config.file;
  }

  /** Starts mix `id` in this process (silent unless a logger is given). */
  async startMix(
    id: string,
    options: { metricsFile?: string; workers?: number; logger?: Logger } = {},
  ) {
    const node = await startMix({
      config: this.config,
      id,
      box: this.box,
      keyPair: this.keys.get(id)!,
      logger: options.logger ?? silentLogger,
      workers: options.workers ?? 1,
      metricsFile: options.metricsFile,
    });
    this.mixes.set(id, node);
    return node;
  }

  /** Starts every mix, last first. */
  async startAllMixes(): Promise<void> {
    for (const m of [...this.config.mixServers].reverse()) await this.startMix(m.id);
  }

  /**
   * Stops mix `id`, closing this test's own channel to it first: a server shutdown sends
   * GOAWAY, which can crash a Deno 2.9.6 client session still open (denoland/deno#36788).
   */
  async stopMix(id: string): Promise<void> {
    this.#stubs.get(id)?.close();
    this.#stubs.delete(id);
    await this.mixes.get(id)?.stop();
    this.mixes.delete(id);
  }

  /** Starts client `id` in this process (silent unless a logger is given). */
  async startClient(id: string, options: { logger?: Logger } = {}): Promise<ClientNode> {
    const node = await startClient({
      config: this.config,
      id,
      box: this.box,
      keyPair: this.keys.get(id)!,
      logger: options.logger ?? silentLogger,
      startTimeoutMs: 20_000,
    });
    this.clients.set(id, node);
    return node;
  }

  /** Stops client `id`, closing this test's channel to it first. */
  async stopClient(id: string): Promise<void> {
    this.dropClientStub(id);
    await this.clients.get(id)?.stop();
    this.clients.delete(id);
  }

  /** Closes this test's channel to client `id` (before the client goes away). */
  dropClientStub(id: string): void {
    this.#clientStubs.get(id)?.close();
    this.#clientStubs.delete(id);
  }

  /**
   * A stub to client `id`'s own service, as its owner: it sends the token of the client's API
   * cookie as it is when the stub is made (drop the stub when the client restarts).
   */
  client(id: string): ClientStub {
    let stub = this.#clientStubs.get(id);
    if (!stub) {
      const node = this.config.clients.find((c) => c.id === id)!;
      stub = new ClientStub(node.address, {
        maxMessageBytes: maxMessageBytes(this.config),
        name: id,
        headers: cookieHeaders(readCookie(this.config.keysDir, id)),
        credentials: testChannel(this.config, node),
      });
      this.#clientStubs.set(id, stub);
    }
    return stub;
  }

  /** The base64 text of client `id`'s public key file, as a user passes it. */
  keyFile(id: string): Uint8Array {
    return Deno.readFileSync(`${this.dir}/${id}.key`);
  }

  /**
   * A stub to mix `id`, as clients call it: over its wire port when it has one (TLS pinned to
   * its certificate where links to it use TLS), else over gRPC; showing no certificate.
   */
  stub(id: string): MixServerCalls {
    let stub = this.#stubs.get(id);
    if (!stub) {
      const node = this.config.mixServers.find((m) => m.id === id)!;
      const options = { maxMessageBytes: maxMessageBytes(this.config), name: id };
      stub = node.wire
        ? new WireStub(node.wire.address, { ...options, dial: testWireDialer(this.config, node) })
        : new MixServerStub(node.address, {
          ...options,
          credentials: testChannel(this.config, node),
        });
      this.#stubs.set(id, stub);
    }
    return stub;
  }

  get first(): string {
    return this.config.mixServers[0].id;
  }

  get last(): string {
    return this.config.mixServers[this.config.mixServers.length - 1].id;
  }

  /**
   * Client `clientId`'s calls to the cascade, with its real key (made afresh each time: the
   * stubs under it change when a mix restarts).
   */
  link(clientId: string): CascadeLink {
    const mix = (id: string) => ({ stub: this.stub(id), publicKey: this.keys.get(id)!.publicKey });
    return new CascadeLink({
      id: clientId,
      address: this.config.clients.find((c) => c.id === clientId)!.address,
      mac: new PeerMac(this.box, this.keys.get(clientId)!),
      first: mix(this.first),
      last: mix(this.last),
    });
  }

  /** Registers `clientId` with a valid proof. */
  register(clientId: string) {
    return this.link(clientId).register();
  }

  /** Registers every client and waits for the start; returns the epoch and duration. */
  async start(
    clientIds = this.config.clients.slice(0, this.config.messagesPerRound).map((c) => c.id),
  ) {
    for (const id of clientIds) await this.register(id);
    const start = await this.link(clientIds[0]).waitForStart();
    this.#clock = { epochMs: start.epoch_ms, durationMs: start.round_duration_s * 1000 };
    return start;
  }

  /** The next round to open, by the clock {@link start} received: a round no one sent in yet. */
  nextRound(): number {
    if (!this.#clock) throw new Error("nextRound() before start()");
    return Math.floor((Date.now() - this.#clock.epochMs) / this.#clock.durationMs) + 1;
  }

  /**
   * Everything `to` receives (opened) until a marker that `from` sends in the next round
   * arrives, the marker left out: the round after every earlier one is delivered, so what was
   * to arrive before it (a duplicate, a replay) has arrived. Shows "nothing more" by a later
   * event, not by a wait.
   */
  async receiveUntilMarker(to: string, from: string, timeoutMs = 20_000): Promise<string[]> {
    const marker = `marker ${crypto.randomUUID()}`;
    // One packet per client per round: after `from`'s last one.
    const last = this.#sentRounds.get(from) ?? -1;
    await waitUntil(() => this.nextRound() > last, 10_000, `a round after ${last}`);
    await this.send(from, this.nextRound(), this.onion(to, marker));
    let got: string[] = [];
    await waitUntil(
      async () => (got = got.concat(this.open(to, await this.poll(to))), got.includes(marker)),
      timeoutMs,
      `the marker from ${from} at ${to}`,
      50,
    );
    assert.equal(got.at(-1), marker, `${to} received after the marker: ${got.join(", ")}`);
    return got.slice(0, -1);
  }

  /**
   * The same for clients running in this process: everything client `to`'s own service hands
   * over until a marker that client `from` queues now arrives. `from`'s queue is sent in
   * order, so the marker also follows every message `from` queued before.
   */
  async messagesUntilMarker(to: string, from: string, timeoutMs = 30_000): Promise<string[]> {
    const marker = `marker ${crypto.randomUUID()}`;
    await this.client(from).prepareMessage({
      message: marker,
      recipient_pubkey: this.keyFile(to),
      recipient_addr: this.config.clients.find((c) => c.id === to)!.address,
    });
    let got: string[] = [];
    await waitUntil(
      async () => (
        got = got.concat((await this.client(to).pollMessages()).messages), got.includes(marker)
      ),
      timeoutMs,
      `the marker from ${from} at ${to}`,
      50,
    );
    assert.equal(got.at(-1), marker, `${to} received after the marker: ${got.join(", ")}`);
    return got.slice(0, -1);
  }

  /** Builds an onion from `from` to `to` (a client id). */
  onion(to: string, message: string | Uint8Array, kind: PayloadKind = PayloadKind.message) {
    const recipient = this.config.clients.find((c) => c.id === to)!;
    return buildOnion(this.box, {
      message: typeof message === "string" ? new TextEncoder().encode(message) : message,
      kind,
      recipient: { address: recipient.address, publicKey: this.keys.get(to)!.publicKey },
      route: this.config.mixServers.map((m) => ({
        address: m.address,
        publicKey: this.keys.get(m.id)!.publicKey,
      })),
      payloadSize: this.config.payloadSize,
    });
  }

  /** Sends `payload` for `round` as client `from`, with a valid MAC. */
  send(from: string, round: number, payload: Uint8Array) {
    this.#sentRounds.set(from, Math.max(round, this.#sentRounds.get(from) ?? -1));
    return this.link(from).forward(round, payload);
  }

  /**
   * Fetches the mailbox of `clientId` with a valid proof, without waiting for a round,
   * acknowledging the previous fetch, until nothing is left; returns the real packets (the
   * sealed notice says how many of each response's packets are real).
   */
  async poll(clientId: string): Promise<Uint8Array[]> {
    const packets: Uint8Array[] = [];
    for (;;) {
      const { payloads, notice } = await this.fetch(clientId);
      packets.push(...payloads.slice(0, notice.real));
      if (notice.pending === 0) return packets;
    }
  }

  /**
   * Takes `count` messages from client `id`'s own service (the client runs in this process),
   * then waits for two more of its fetches and takes what they brought, so that a message
   * arriving twice would show; returns every message taken, in order.
   */
  async messagesOf(id: string, count: number, timeoutMs = 15_000): Promise<string[]> {
    const got: string[] = [];
    const take = async () => got.push(...(await this.client(id).pollMessages()).messages);
    await waitUntil(
      async () => (await take(), got.length >= count),
      timeoutMs,
      `${count} messages at ${id}`,
      100,
    );
    const fetched = () => this.clients.get(id)!.metrics.counters["fetched"] ?? 0;
    const before = fetched();
    await waitUntil(() => fetched() >= before + 2, 10_000, `two more fetches of ${id}`);
    await take();
    return got;
  }

  /** Forgets the token of `clientId`'s last fetch, as if its response had been lost. */
  forgetToken(clientId: string): void {
    this.#tokens.delete(clientId);
  }

  /** One fetch of `clientId`'s mailbox (round -1: at once), with its opened notice. */
  async fetch(clientId: string, round = -1) {
    this.#pollClock = Math.max(this.#pollClock + 1, Date.now());
    const response = await this.link(clientId).fetch(
      { round, ack: this.#tokens.get(clientId) ?? new Uint8Array(), timestampMs: this.#pollClock },
      { timeoutMs: 60_000 },
    );
    this.#tokens.set(clientId, response.token);
    const notice = decodeNotice(this.box.open(response.notice, this.keys.get(clientId)!));
    return { ...response, notice };
  }

  /** Opens mailbox payloads of `clientId` into text messages (dummies included, marked). */
  open(clientId: string, payloads: Uint8Array[]): string[] {
    return payloads.map((p) => {
      const payload = openPayload(this.box, p, this.keys.get(clientId)!, this.config.payloadSize);
      const text = new TextDecoder().decode(payload.message);
      if (payload.kind === PayloadKind.loop) return `(loop)`;
      return payload.kind === PayloadKind.dummy ? `(dummy) ${text}` : text;
    });
  }

  /**
   * Stops every mix in cascade order, so that each forwarder's channel closes before the next
   * mix's server shuts down, and removes the temp dir.
   */
  async close(): Promise<void> {
    for (const id of [...this.clients.keys()]) await this.stopClient(id);
    for (const stub of this.#clientStubs.values()) stub.close();
    for (const stub of this.#stubs.values()) stub.close();
    this.#stubs.clear();
    for (const { id } of this.config.mixServers) await this.stopMix(id);
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** The original design's poll: a mailbox address alone, no id, no timestamp, no proof. */
export function anonymousPoll(address: string): PollMessagesRequest {
  return {
    client_addr: address,
    client_id: "",
    timestamp_ms: 0,
    round: 0,
    ack: new Uint8Array(),
    mac: new Uint8Array(),
  };
}

/** Writes a config on free ports into a temp dir and creates every key pair. */
export async function createTestNetwork(options: TestNetworkOptions = {}): Promise<TestNetwork> {
  const clients = options.clients ?? 3;
  const path = await writeNetworkConfig({
    mixes: options.mixes ?? 3,
    clients,
    messagesPerRound: options.messagesPerRound ?? clients,
    roundDuration: options.roundDuration ?? 0.3,
    roundTimeout: options.roundTimeout ?? 0.2,
    payloadSize: options.payloadSize ?? 64,
    wire: options.wire,
    extra: options.extra,
    prefix: "mixnet-test-",
  });
  const config = await loadConfig(path);
  const box = await createSealedBox(config.cryptoBackend);
  const { pairs } = await generateKeys(config);
  await ensureTlsIdentities(config);
  return new TestNetwork(config.dir, config, box, pairs);
}
