/**
 * A mix server wired together in one spot: store, stages (intake → crypto → outgoing) and the
 * gRPC service. Which stages run depends on the mix's place in the cascade.
 *
 * @module
 */
import { join } from "node:path";
import type { Config } from "../config/mod.ts";
import {
  encodeBase64,
  KeyDirectory,
  type KeyPair,
  PeerMac,
  type SealedBox,
} from "../crypto/mod.ts";
import { ConfigError, MixnetError } from "../errors.ts";
import { createLogger, type Logger, RateLimitedLog } from "../log.ts";
import { Metrics } from "../metrics.ts";
import { packetSize } from "../onion/mod.ts";
import {
  fetchHoldMs,
  forwardTimeoutMs,
  maxBatchPackets,
  maxMessageBytes,
  type MixServerHandlers,
  NodeTransport,
  type RpcServer,
  startServer,
} from "../rpc/mod.ts";
import { startWireServer, type WireServer } from "../wire/mod.ts";
import { BatchIntake } from "./batch_intake.ts";
import { Collector } from "./collector.ts";
import { Forwarder } from "./forwarder.ts";
import { Mailboxes } from "./mailbox.ts";
import { Pacer } from "./pacer.ts";
import { Peeler } from "./peeler.ts";
import { RoundProcessor, type RoundRecord } from "./processor.ts";
import { Registry } from "./registry.ts";
import { MixStore } from "./store.ts";

/** Options of {@link startMix}. */
export interface MixOptions {
  /** The network configuration. */
  readonly config: Config;
  /** This mix's id in `config.mixServers`. */
  readonly id: string;
  /** The sealed-box backend. */
  readonly box: SealedBox;
  /** This mix's key pair. */
  readonly keyPair: KeyPair;
  /** Where logs go; default stderr text. */
  readonly logger?: Logger;
  /** Append per-round metrics as JSON lines to this file. */
  readonly metricsFile?: string;
  /** Last mix only: also write every delivered payload under this folder. */
  readonly outputDir?: string;
  /** Peeling workers; default one per core, at most four (see peeler.ts). */
  readonly workers?: number;
  /** How long to wait for a TLS peer's certificate to be published; default 120 s. */
  readonly startTimeoutMs?: number;
}

/** A running mix. */
export interface MixNode {
  /** Its id. */
  readonly id: string;
  /** Per-round records and counters. */
  readonly metrics: Metrics<RoundRecord>;
  /**
   * Graceful stop: refuses new calls, finishes the round in hand, flushes storage and closes
   * the server. With `exiting` (the process exits right after) the gRPC shutdown is skipped and
   * the OS closes the connections: Deno 2.9.6 peers can crash on the GOAWAY frames a shutdown
   * sends (denoland/deno#36788), so a stopping mix must not send them.
   */
  stop(options?: { exiting?: boolean }): Promise<void>;
}

/**
 * Starts a mix: opens its store, resumes any round left from a previous run, and serves its
 * configured address.
 *
 * @throws {ConfigError} when `id` is not a mix of the config; {@link MixnetError} when the
 * address is taken or the store cannot be opened.
 */
export async function startMix(options: MixOptions): Promise<MixNode> {
  const { config, id, box, keyPair } = options;
  const index = config.mixServers.findIndex((m) => m.id === id);
  if (index < 0) {
    throw new ConfigError(
      `${config.file}: mix_servers: no mix with id ${JSON.stringify(id)} (known: ${
        config.mixServers.map((m) => m.id).join(", ")
      })`,
    );
  }
  const self = config.mixServers[index];
  const first = config.mixServers[0];
  const previous = config.mixServers[index - 1];
  const next = config.mixServers[index + 1];
  const layers = config.mixServers.length - index;
  /** Bytes of every packet this mix receives. */
  const packetBytes = packetSize(config.payloadSize, layers);
  const logger = options.logger ?? createLogger({ name: id });
  const metrics = new Metrics<RoundRecord>(id, options.metricsFile, logger);
  const keys = new KeyDirectory(config.dir);
  const mac = new PeerMac(box, keyPair);
  const limit = maxMessageBytes(config);
  const transport = await NodeTransport.load(config, id, {
    logger,
    timeoutMs: options.startTimeoutMs,
  });
  const store = new MixStore(
    join(config.dataDir, `${id}.sqlite`),
    encodeBase64(keyPair.publicKey),
    {
      packetBytes,
      singlePackets: index === 0 || next === undefined,
      mailboxCapacity: config.mailboxCapacity,
    },
  );
  const peeler = new Peeler({
    box,
    keyPair,
    payloadSize: config.payloadSize,
    layers,
    workers: options.workers,
  });
  const stopping = new AbortController();

  /** Rounds waiting after this mix, as the next mix last said. */
  let waitingAfter = 0;
  /**
   * Rounds waiting here (not yet started, or processed and behind the round being forwarded)
   * and after this mix: what the pacer goes by, and what the previous mix is told.
   */
  const roundsWaiting = () =>
    Math.max(0, processor.depth - 1) + (next ? Math.max(0, store.outboxDepth() - 1) : 0) +
    waitingAfter;
  const pacer = index === 0
    ? new Pacer({ maxBacklog: config.maxBacklogRounds, waiting: roundsWaiting, metrics, logger })
    : undefined;
  const nextStub = next &&
    transport.mixStub(next, { maxMessageBytes: limit, name: `${next.id} (${next.address})` });
  const forwarder = next &&
    new Forwarder({
      id,
      nextId: next.id,
      store,
      stub: nextStub!,
      mac,
      nextPublicKey: () => keys.get(next.id),
      metrics,
      logger,
      timeoutMs: forwardTimeoutMs(config),
      onWaitingAfter: (rounds) => waitingAfter = Math.max(0, rounds),
    });
  const processor = new RoundProcessor({
    store,
    peeler,
    nextMixAddress: next?.address,
    clients: new Map(config.clients.map((c) => [c.address, c.id])),
    metrics,
    logger,
    outputDir: options.outputDir,
    onCommitted: (round) => {
      collector?.processed(round);
      forwarder?.wake();
      mailboxes?.stored(round);
    },
    cover: next && config.minBatch > 0
      ? {
        minBatch: config.minBatch,
        route: () =>
          Promise.all(
            config.mixServers.slice(index + 1).map(async (m) => ({
              address: m.address,
              publicKey: await keys.get(m.id),
            })),
          ),
      }
      : undefined,
  });

  let collector: Collector | undefined;
  const registry = index === 0
    ? new Registry({
      store,
      mac,
      keys,
      clientIds: new Set(config.clients.map((c) => c.id)),
      messagesPerRound: config.messagesPerRound,
      roundDuration: config.roundDuration,
      logger,
      onStart: (clock) => collector!.start(clock),
    })
    : undefined;
  if (registry) {
    collector = new Collector({
      store,
      registry,
      mac,
      keys,
      packetSize: packetBytes,
      roundTimeoutMs: config.roundTimeout * 1000,
      onClosed: (round) => processor.enqueue(round),
      onStored: (round, rows) =>
        processor.gather(round, rows.map((row) => row.packet), rows[rows.length - 1].arrivedMs),
      maxQueuedBytes: config.maxQueuedBytes,
      pacer,
      metrics,
      logger,
    });
  }
  const intake = previous &&
    new BatchIntake({
      id,
      previousId: previous.id,
      store,
      mac,
      keys,
      maxPackets: maxBatchPackets(config),
      onChunk: (round, chunk, packets, arrivedMs) =>
        processor.prepare(round, `chunk ${chunk}`, packets, arrivedMs),
      onReceived: (round) => processor.enqueue(round),
      roundsWaiting,
      metrics,
    });
  const mailboxes = next ? undefined : new Mailboxes({
    store,
    box,
    mac,
    keys,
    clients: new Map(config.clients.map((c) => [c.id, c.address])),
    fetchSize: config.fetchSize,
    payloadSize: config.payloadSize,
    holdMs: fetchHoldMs(config),
    metrics,
  });

  const checkServing = () => {
    if (stopping.signal.aborted) {
      throw new MixnetError(`${id} is stopping: try again when it is back`, {
        status: "unavailable",
      });
    }
  };
  const notHere = (what: string, who: string): never => {
    throw new MixnetError(`${id} does not serve ${what}: ${who}`, {
      status: "failed-precondition",
    });
  };
  const firstOnly = `clients talk to the first mix, ${first.id} at ${first.address}`;
  const handlers: MixServerHandlers = {
    async ForwardMessage(request) {
      checkServing();
      if (!collector) notHere("ForwardMessage", firstOnly);
      const next = await collector!.accept(request);
      return { status: "ok", next_round: next };
    },
    async Register(request) {
      checkServing();
      if (!registry) notHere("Register", firstOnly);
      await registry!.register(request);
      return { status: true, reason: "" };
    },
    async WaitForStart(request) {
      checkServing();
      if (!registry) notHere("WaitForStart", firstOnly);
      const clock = await registry!.waitForStart(request.client_id, stopping.signal);
      return {
        ready: true,
        round_duration: config.roundDuration,
        round_duration_s: config.roundDuration,
        epoch_ms: clock.epochMs,
      };
    },
    PollMessages(request, call) {
      checkServing();
      if (!mailboxes) {
        const last = config.mixServers[config.mixServers.length - 1];
        notHere("PollMessages", `mailboxes are at the last mix, ${last.id} at ${last.address}`);
      }
      const signal = call?.signal
        ? AbortSignal.any([stopping.signal, call.signal])
        : stopping.signal;
      return mailboxes!.poll(request, signal);
    },
    ForwardBatch(chunks) {
      checkServing();
      if (!intake) notHere("ForwardBatch", "it is the first mix of the cascade");
      return intake!.receive(chunks);
    },
  };

  await peeler.ready;
  const onInternalError = (method: string, error: unknown) =>
    logger.error("handler failed", { method, error: (error as Error)?.stack ?? String(error) });
  let server: RpcServer | undefined;
  let wireServer: WireServer | undefined;
  try {
    server = await startServer(self.listen, {
      mix: handlers,
      maxMessageBytes: limit,
      tls: transport.server,
      // The previous mix shows its certificate too; the batch MAC still authenticates it.
      auth: {
        mix: previous &&
          transport.requireCaller(
            "MixServer.ForwardBatch",
            previous,
            () => metrics.count("tls.refused"),
          ),
      },
      onInternalError,
    });
    if (self.wire) {
      // A caller that opens connections and stalls them would otherwise write a line for each.
      const handshakeRefusals = new RateLimitedLog(logger);
      wireServer = startWireServer(self.wire.listen, {
        handlers,
        maxMessageBytes: limit,
        tls: transport.wireTls,
        // The previous mix proves its certificate too; the batch MAC still authenticates it.
        check: previous &&
          transport.wireRequireCaller("ForwardBatch", previous, () => metrics.count("tls.refused")),
        onRefused: (peer, reason) => {
          metrics.count("wire.refused");
          handshakeRefusals.warn("refused a wire caller at its handshake", { peer, reason });
        },
        onInternalError,
      });
    }
  } catch (error) {
    await server?.close(0);
    await peeler.close();
    // The forwarder first: it reads and writes the store until it stops.
    await forwarder?.stop();
    await store.close();
    nextStub?.close();
    throw error;
  }

  // Resume: rounds stored before a restart are processed before anything new.
  if (intake) { for (const round of store.receivedRounds()) processor.enqueue(round); }
  if (registry?.clock) collector!.start(registry.clock);

  logger.info("ready", {
    address: self.address,
    ...(self.listen === self.address ? {} : { listen: self.listen }),
    ...(self.wire ? { wire: self.wire.listen } : {}),
    position: `${index + 1}/${config.mixServers.length}`,
    workers: peeler.size,
    backend: box.name,
    pid: Deno.pid,
  });

  return {
    id,
    metrics,
    async stop(stopOptions = {}) {
      stopping.abort();
      collector?.stop();
      if (!stopOptions.exiting) await server.close(1000);
      await wireServer?.close();
      await processor.stop();
      await forwarder?.stop();
      nextStub?.close();
      await peeler.close();
      await store.close();
      logger.info("stopped");
    },
  };
}
