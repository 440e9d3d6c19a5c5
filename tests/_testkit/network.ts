/**
 * A test network in a temp dir: a config on free loopback ports, key pairs for every node, and
 * helpers that act as clients (register, send, poll) with real proofs.
 */
import { stringify } from "yaml";
import { type Config, loadConfig } from "../../src/config/mod.ts";
import {
  createSealedBox,
  ensureKeyPair,
  forwardProof,
  type KeyPair,
  PeerMac,
  pollProof,
  registerProof,
  type SealedBox,
} from "../../src/crypto/mod.ts";
import { silentLogger } from "../../src/log.ts";
import { type MixNode, startMix } from "../../src/mix/mod.ts";
import { buildOnion, decodeNotice, openPayload, PayloadKind } from "../../src/onion/mod.ts";
import {
  ClientStub,
  maxMessageBytes,
  MixServerStub,
  type PollMessagesRequest,
} from "../../src/rpc/mod.ts";
import { type ClientNode, cookieHeaders, readCookie, startClient } from "../../src/client/mod.ts";
import type { Logger } from "../../src/log.ts";
import { freePorts } from "./ports.ts";

/** Options of {@link createTestNetwork}. */
export interface TestNetworkOptions {
  mixes?: number;
  clients?: number;
  messagesPerRound?: number;
  roundDuration?: number;
  roundTimeout?: number;
  payloadSize?: number;
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
  readonly #stubs = new Map<string, MixServerStub>();
  #pollClock = Date.now();
  readonly #tokens = new Map<string, Uint8Array>();

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
      const address = this.config.clients.find((c) => c.id === id)!.address;
      stub = new ClientStub(address, {
        maxMessageBytes: maxMessageBytes(this.config),
        name: id,
        headers: cookieHeaders(readCookie(this.config.keysDir, id)),
      });
      this.#clientStubs.set(id, stub);
    }
    return stub;
  }

  /** The base64 text of client `id`'s public key file, as a user passes it. */
  keyFile(id: string): Uint8Array {
    return Deno.readFileSync(`${this.dir}/${id}.key`);
  }

  /** A stub to mix `id`. */
  stub(id: string): MixServerStub {
    let stub = this.#stubs.get(id);
    if (!stub) {
      const address = this.config.mixServers.find((m) => m.id === id)!.address;
      stub = new MixServerStub(address, {
        maxMessageBytes: maxMessageBytes(this.config),
        name: id,
      });
      this.#stubs.set(id, stub);
    }
    return stub;
  }

  #mac(clientId: string): PeerMac {
    return new PeerMac(this.box, this.keys.get(clientId)!);
  }

  get first(): string {
    return this.config.mixServers[0].id;
  }

  get last(): string {
    return this.config.mixServers[this.config.mixServers.length - 1].id;
  }

  /** Registers `clientId` with a valid proof. */
  register(clientId: string) {
    const request = { client_id: clientId, timestamp_ms: Date.now(), mac: new Uint8Array() };
    request.mac = this.#mac(clientId).sign(
      this.keys.get(this.first)!.publicKey,
      ...registerProof(request),
    );
    return this.stub(this.first).register(request);
  }

  /** Registers every client and waits for the start; returns the epoch and duration. */
  async start(
    clientIds = this.config.clients.slice(0, this.config.messagesPerRound).map((c) => c.id),
  ) {
    for (const id of clientIds) await this.register(id);
    return await this.stub(this.first).waitForStart({ client_id: clientIds[0] });
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
    const request = { payload, round, client_id: from, mac: new Uint8Array() };
    request.mac = this.#mac(from).sign(
      this.keys.get(this.first)!.publicKey,
      ...forwardProof(request),
    );
    return this.stub(this.first).forwardMessage(request);
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

  /** Forgets the token of `clientId`'s last fetch, as if its response had been lost. */
  forgetToken(clientId: string): void {
    this.#tokens.delete(clientId);
  }

  /** One fetch of `clientId`'s mailbox (round -1: at once), with its opened notice. */
  async fetch(clientId: string, round = -1) {
    const client = this.config.clients.find((c) => c.id === clientId)!;
    this.#pollClock = Math.max(this.#pollClock + 1, Date.now());
    const request = {
      client_addr: client.address,
      client_id: clientId,
      timestamp_ms: this.#pollClock,
      round,
      ack: this.#tokens.get(clientId) ?? new Uint8Array(),
      mac: new Uint8Array(),
    };
    request.mac = this.#mac(clientId).sign(
      this.keys.get(this.last)!.publicKey,
      ...pollProof(request),
    );
    const response = await this.stub(this.last).pollMessages(request, { timeoutMs: 60_000 });
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
  const mixes = options.mixes ?? 3;
  const clients = options.clients ?? 3;
  const ports = freePorts(mixes + clients);
  const dir = await Deno.makeTempDir({ prefix: "mixnet-test-" });
  const document = {
    messages_per_round: options.messagesPerRound ?? clients,
    round_duration: options.roundDuration ?? 0.3,
    round_timeout: options.roundTimeout ?? 0.2,
    dummy_payload: "dummy",
    payload_size: options.payloadSize ?? 64,
    mix_servers: Array.from({ length: mixes }, (_, i) => ({
      id: `mix_${i + 1}`,
      address: `127.0.0.1:${ports[i]}`,
    })),
    clients: Array.from({ length: clients }, (_, i) => ({
      id: `client_${i + 1}`,
      address: `127.0.0.1:${ports[mixes + i]}`,
    })),
    keys_dir: "secret",
    data_dir: "data",
    ...options.extra,
  };
  await Deno.writeTextFile(`${dir}/config.yaml`, stringify(document));
  const config = await loadConfig(`${dir}/config.yaml`);
  const box = await createSealedBox(config.cryptoBackend);
  const keys = new Map<string, KeyPair>();
  for (const node of [...config.mixServers, ...config.clients]) {
    const { pair } = await ensureKeyPair(box, { configDir: dir, keysDir: config.keysDir }, node.id);
    keys.set(node.id, pair);
  }
  return new TestNetwork(dir, config, box, keys);
}
