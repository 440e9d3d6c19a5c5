/**
 * Reads `config.yaml`, validates it and freezes it into a {@link Config}.
 *
 * @module
 */
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { ConfigError } from "../errors.ts";
import { limitProblem } from "../rpc/limits.ts";
import { isLoopbackHost, splitAddress } from "./address.ts";
import { configSchema, type RawConfig } from "./schema.ts";
import { suggest } from "./_suggest.ts";
import { describeYamlError } from "./_yaml_error.ts";

/** A mix server or a client of the network, as listed in the config. */
export interface NodeConfig {
  /** Unique id, also the name of its public key file `<id>.key`. */
  readonly id: string;
  /** `host:port` the node is known by: peers connect to it, and onion layers name it. */
  readonly address: string;
  /** `host:port` the node binds: its `listen` key, else its address. */
  readonly listen: string;
  /**
   * Whether links to this node run over TLS: with `tls: auto`, when its address is not
   * loopback. Both ends of a link read it from the same entry, so they agree.
   */
  readonly tls: boolean;
  /**
   * Where a mix serves its wire protocol (`wire_port` on the hosts of its address and its
   * listen address); absent for a mix without one, and for clients.
   */
  readonly wire?: { readonly address: string; readonly listen: string };
}

/** The validated, immutable network configuration. */
export interface Config {
  /** Absolute path of the file it was read from (for error messages). */
  readonly file: string;
  /** Folder of the config file, where public key files `<id>.key` live. */
  readonly dir: string;
  /** Registered clients needed to start, and packets expected per round. */
  readonly messagesPerRound: number;
  /** Length of a round in seconds. */
  readonly roundDuration: number;
  /** Seconds a mix waits past a round's end for late packets. */
  readonly roundTimeout: number;
  /** Text of the dummy a client sends to the sink in a round with nothing to say. */
  readonly dummyPayload: string;
  /** Fewest packets a mix forwards per round; cover packets fill the rest. */
  readonly minBatch: number;
  /** Most bytes of client packets the first mix queues in unprocessed rounds. */
  readonly maxQueuedBytes: number;
  /** Rounds between two mailbox fetches of a client. */
  readonly fetchEvery: number;
  /** Packets every mailbox fetch returns (padded to it). */
  readonly fetchSize: number;
  /** Most packets a mailbox keeps at the last mix (oldest dropped first). */
  readonly mailboxCapacity: number;
  /** A client sends one loop to itself per this many rounds (0: none). */
  readonly loopEvery: number;
  /** Rounds the cascade may be behind before every client skips rounds. */
  readonly maxBacklogRounds: number;
  /** Bytes of message every packet carries (messages are padded to it). */
  readonly payloadSize: number;
  /** The cascade, in order: the first receives from clients, the last holds mailboxes. */
  readonly mixServers: readonly NodeConfig[];
  /** Every client allowed to register. */
  readonly clients: readonly NodeConfig[];
  /** Absolute folder of secret key files. */
  readonly keysDir: string;
  /** Absolute folder of node state (SQLite files). */
  readonly dataDir: string;
  /** The sealed-box implementation. */
  readonly cryptoBackend: RawConfig["crypto_backend"];
}

/**
 * Reads and validates a config file.
 *
 * @throws {ConfigError} when the file is missing, is not YAML, or a field is invalid; the
 * message names the file and the field.
 */
export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    const why = cause instanceof Deno.errors.NotFound ? "no such file" : String(cause);
    throw new ConfigError(`Cannot read config ${path}: ${why}`, { cause });
  }
  return parseConfig(text, path);
}

/**
 * Parses and validates config text; `path` names the file in errors and anchors relative
 * folders.
 *
 * @throws {ConfigError} when the text is not YAML, a field is invalid, or the fields together
 * make a network that cannot work (see rpc/limits.ts).
 */
export function parseConfig(text: string, path: string): Config {
  const document = parseDocument(text, { uniqueKeys: true });
  if (document.errors.length > 0) throw new ConfigError(describeYamlError(path, text, document));
  let data: unknown;
  try {
    data = document.toJS();
  } catch (cause) {
    // The YAML library finds some faults (an alias to no anchor) only when it builds values.
    throw new ConfigError(`${path}: not valid YAML: ${(cause as Error).message}`, { cause });
  }
  const result = configSchema.safeParse(data, { reportInput: true });
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => describeIssue(path, issue)).join("\n"),
    );
  }
  const raw = result.data;
  checkConsistency(path, raw);
  const file = resolve(path);
  const dir = dirname(file);
  const within = (folder: string) => isAbsolute(folder) ? folder : join(dir, folder);
  const tls = (address: string) =>
    raw.tls === "always" || (raw.tls === "auto" && !isLoopbackHost(splitAddress(address).host));
  const onPort = (address: string, port: number) =>
    `${address.slice(0, address.lastIndexOf(":"))}:${port}`;
  const freezeNodes = (nodes: readonly (RawConfig["clients"][number] & { wire_port?: number })[]) =>
    Object.freeze(nodes.map((n) => {
      const listen = n.listen ?? n.address;
      const wire = n.wire_port === undefined ? undefined : Object.freeze({
        address: onPort(n.address, n.wire_port),
        listen: onPort(listen, n.wire_port),
      });
      return Object.freeze({
        id: n.id,
        address: n.address,
        listen,
        tls: tls(n.address),
        ...(wire ? { wire } : {}),
      });
    }));
  const config: Config = Object.freeze({
    file,
    dir,
    messagesPerRound: raw.messages_per_round,
    roundDuration: raw.round_duration,
    roundTimeout: raw.round_timeout ?? raw.round_duration / 2,
    minBatch: raw.min_batch ?? raw.messages_per_round,
    maxQueuedBytes: raw.max_queued_bytes,
    dummyPayload: raw.dummy_payload,
    payloadSize: raw.payload_size,
    fetchEvery: raw.fetch_every,
    fetchSize: raw.fetch_size,
    mailboxCapacity: raw.mailbox_capacity,
    loopEvery: raw.loop_every,
    maxBacklogRounds: raw.max_backlog_rounds,
    mixServers: freezeNodes(raw.mix_servers),
    clients: freezeNodes(raw.clients),
    keysDir: within(raw.keys_dir),
    dataDir: within(raw.data_dir),
    cryptoBackend: raw.crypto_backend,
  });
  const problem = limitProblem(config);
  if (problem) throw new ConfigError(`${path}: ${problem}`);
  return config;
}

function describeIssue(path: string, issue: z.core.$ZodIssue): string {
  const field = formatPath(issue.path);
  if (issue.code === "unrecognized_keys") {
    const known = Object.keys(shapeAt(issue.path));
    return issue.keys.map((key) => {
      const name = field ? `${field}.${key}` : key;
      const hint = suggest(key, known);
      return `${path}: ${name}: unknown key${hint ? `, did you mean "${hint}"?` : ""}`;
    }).join("\n");
  }
  const where = `${path}: ${field || "(document)"}`;
  if (issue.code === "invalid_type") {
    const got = issue.input === undefined ? "nothing (the key is required)" : describe(issue.input);
    const expected = issue.expected === "int" ? "a whole number" : issue.expected;
    return `${where}: expected ${expected}, got ${got}`;
  }
  if (issue.code === "too_small" || issue.code === "too_big") {
    return `${where}: ${describeRange(issue)}, got ${describe(issue.input, false)}`;
  }
  if (issue.code === "invalid_value") {
    return `${where}: expected one of ${
      issue.values.map((v) => JSON.stringify(v)).join(", ")
    }, got ${describe(issue.input, false)}`;
  }
  if (issue.code === "invalid_format" || issue.code === "not_multiple_of") {
    return `${where}: ${issue.message}, got ${describe(issue.input, false)}`;
  }
  return `${where}: ${issue.message}`;
}

/** What a bound asks for: zod's own words when the schema gives none. */
function describeRange(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  if (!/^Too (small|big)/.test(issue.message)) return issue.message;
  const small = issue.code === "too_small";
  const bound = Number(small ? issue.minimum : issue.maximum);
  const inclusive = issue.inclusive !== false;
  if (issue.origin === "number" || issue.origin === "int" || issue.origin === "bigint") {
    return `expected a number ${small ? ">" : "<"}${inclusive ? "=" : ""} ${bound}`;
  }
  const unit = issue.origin === "string" ? "character" : "item";
  return `expected ${small ? "at least" : "at most"} ${bound} ${unit}${bound === 1 ? "" : "s"}`;
}

/** A value as the message shows it: with its type where the type is what is wrong. */
function describe(value: unknown, withType = true): string {
  if (value === null) return "null";
  if (Array.isArray(value)) {
    return value.length === 0 ? "an empty list" : `a list of ${value.length}`;
  }
  if (typeof value === "object") return "a mapping";
  const shown = typeof value === "string"
    ? value.length > 60
      ? `${JSON.stringify(value.slice(0, 40) + "…")} (${value.length} characters)`
      : JSON.stringify(value)
    : String(value);
  return withType ? `${typeof value} ${shown}` : shown;
}

function shapeAt(path: readonly PropertyKey[]): Record<string, unknown> {
  if (path[0] === "mix_servers") return { id: 0, address: 0, listen: 0, wire_port: 0 };
  if (path[0] === "clients") return { id: 0, address: 0, listen: 0 };
  return configSchema.shape;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((part, i) =>
    typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`
  ).join("");
}

function checkConsistency(path: string, raw: RawConfig): void {
  const problems: string[] = [];
  const nodes = [
    ...raw.mix_servers.map((n, i) => ({ ...n, field: `mix_servers[${i}]` })),
    ...raw.clients.map((n, i) => ({ ...n, field: `clients[${i}]` })),
  ];
  for (const key of ["id", "address"] as const) {
    const seen = new Map<string, string>();
    for (const node of nodes) {
      const earlier = seen.get(node[key]);
      if (earlier) {
        problems.push(
          `${path}: ${node.field}.${key}: duplicate ${key} ${JSON.stringify(node[key])}, ` +
            `already used by ${earlier}`,
        );
      } else seen.set(node[key], node.field);
    }
  }
  // A wire port is one more address of its host: it may not be any node's address.
  const taken = new Map(nodes.map((n) => [n.address, `${n.field}.address`]));
  raw.mix_servers.forEach((mix, i) => {
    if (mix.wire_port === undefined) return;
    const wire = `${mix.address.slice(0, mix.address.lastIndexOf(":"))}:${mix.wire_port}`;
    const earlier = taken.get(wire);
    if (earlier) {
      problems.push(
        `${path}: mix_servers[${i}].wire_port: ${mix.wire_port} makes address ${wire}, already ` +
          `used by ${earlier}`,
      );
    } else taken.set(wire, `mix_servers[${i}].wire_port`);
  });
  if (raw.messages_per_round > raw.clients.length) {
    problems.push(
      `${path}: messages_per_round: expected at most the number of clients ` +
        `(${raw.clients.length}), got ${raw.messages_per_round}`,
    );
  }
  if (raw.mailbox_capacity < raw.fetch_size) {
    problems.push(
      `${path}: mailbox_capacity: expected at least fetch_size (${raw.fetch_size}), got ` +
        `${raw.mailbox_capacity}`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems.join("\n"));
}
