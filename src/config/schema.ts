/**
 * The zod schema of `config.yaml`, with every default in one place.
 *
 * @module
 */
import { z } from "zod";
import { HOP_ADDRESS_BYTES } from "../onion/sizes.ts";

/** Crypto backends a config may select. */
export const CRYPTO_BACKENDS = ["native", "libsodium", "tweetnacl"] as const;

/**
 * When links run over TLS: `auto` (the default) for every node whose address is not loopback,
 * `always` for every link (tests on loopback), `never` for none (behind a tunnel that already
 * encrypts).
 */
export const TLS_MODES = ["auto", "always", "never"] as const;

/** The largest `payload_size` accepted: 16 MiB of message per packet. */
export const MAX_PAYLOAD_SIZE = 16 * 1024 * 1024;

const ADDRESS = /^(?<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):(?<port>\d{1,5})$/;
const ID = /^[A-Za-z0-9_.-]{1,64}$/;

const address = z.string().max(HOP_ADDRESS_BYTES).superRefine((value, ctx) => {
  const match = ADDRESS.exec(value);
  if (!match) {
    ctx.addIssue({ code: "custom", message: `expected "host:port", got ${JSON.stringify(value)}` });
    return;
  }
  const port = Number(match.groups!.port);
  if (port < 1 || port > 65535) {
    ctx.addIssue({ code: "custom", message: `port must be 1 to 65535, got ${port}` });
  }
});

const id = z.string().regex(ID, {
  message: "expected an id of 1 to 64 letters, digits, '_', '.' or '-'",
});

const node = z.strictObject({
  id,
  /** `host:port` the node is known by: peers connect to it, and onion layers name it. */
  address,
  /** `host:port` the node binds, when it differs (0.0.0.0 in a container, behind NAT). */
  listen: address.optional(),
});

const mixNode = node.extend({
  /**
   * The port of the mix's wire protocol (the `MixServer` calls framed straight over TCP or
   * TLS, several times cheaper per byte than gRPC), on the hosts of `address` and `listen`.
   * Peers that know it use it; without it everything goes over gRPC at `address`.
   */
  wire_port: z.number().int().min(1).max(65535).optional(),
});

/** Keys of the original design, then the optional extensions with their defaults. */
export const configSchema = z.strictObject({
  messages_per_round: z.number().int().min(1),
  round_duration: z.number().min(0.01).max(3600),
  dummy_payload: z.string(),
  mix_servers: z.array(mixNode).min(1, { message: "expected at least one mix server" }),
  clients: z.array(node).min(1, { message: "expected at least one client" }),
  /** Bytes of message one packet carries; every packet is padded to it. */
  payload_size: z.number().int().min(1).max(MAX_PAYLOAD_SIZE).default(1024),
  /** Seconds a mix waits past the end of a round for late packets; default half a round. */
  round_timeout: z.number().min(0).max(3600).optional(),
  /**
   * Fewest packets a mix sends on per round: smaller batches are topped up with cover packets
   * to a sink, so an observer never sees a shrunken batch. Default: messages_per_round.
   */
  min_batch: z.number().int().min(0).optional(),
  /**
   * Most bytes of client packets the first mix holds in rounds not yet processed; beyond it,
   * packets are refused with RESOURCE_EXHAUSTED instead of queueing without limit.
   */
  max_queued_bytes: z.number().int().min(1).default(1024 * 1024 * 1024),
  /**
   * Rounds between two fetches of a client's mailbox. Every client fetches on this cadence
   * whether or not its user asks, so polls look the same for everyone.
   */
  fetch_every: z.number().int().min(1).max(1000).default(1),
  /** Packets every fetch returns: real ones first, padded to this count. */
  fetch_size: z.number().int().min(1).max(1000).default(2),
  /**
   * Most packets a mailbox keeps at the last mix; beyond it the oldest are dropped, counted,
   * and the owner is told in its next fetch.
   */
  mailbox_capacity: z.number().int().min(1).max(1_000_000).default(256),
  /**
   * Each client sends one loop message to itself at a random round of every `loop_every`
   * rounds, and raises an alarm when one does not come back; 0 sends none.
   */
  loop_every: z.number().int().min(0).max(100_000).default(10),
  /**
   * Rounds that may wait in the cascade's mixes (behind the round each is working on); beyond
   * them, every client skips rounds until the cascade catches up (rounds stretch rather than
   * queue up; see mix/pacer.ts).
   */
  max_backlog_rounds: z.number().int().min(0).max(1000).default(0),
  /** Folder of secret keys, relative to the config file. */
  keys_dir: z.string().min(1).default("secret"),
  /** Folder of each node's SQLite state, relative to the config file. */
  data_dir: z.string().min(1).default("data"),
  /** Which links run over TLS; see {@link TLS_MODES}. */
  tls: z.enum(TLS_MODES).default("auto"),
  /** Which implementation of the sealed box to use; all are byte-compatible. */
  crypto_backend: z.enum(CRYPTO_BACKENDS).default("native"),
});

/** The YAML document as validated, before paths are resolved and names camel-cased. */
export type RawConfig = z.infer<typeof configSchema>;
