/**
 * `deno task network`: generates missing keys, starts every mix and client of the config as
 * subprocesses, prefixes their logs with their ids, shows the network's status, and stops them
 * all on Ctrl-C or SIGTERM.
 *
 *   deno task network [--config config/config.yaml] [--clients N] [--base-port P]
 *                     [--round-duration S] [--keep] [--ephemeral] [--restart] [--verbose]
 *                     [--log-format text|json]
 *
 * With --clients, --base-port or --round-duration it runs a config derived into a temp folder
 * that also holds that network's secret keys and state; the folder is removed on every way out
 * (stop, failure, Ctrl-C during the start) unless --keep is given. With --log-format json every
 * line it prints is a JSON log record (the nodes' own, and its own as node "network"), for
 * scripts and tests.
 *
 * @module
 */
import { dirname } from "node:path";
import { loadConfig } from "../src/config/mod.ts";
import { errorMessage } from "../src/errors.ts";
import { flag, parseFlags, UsageError } from "../src/flags.ts";
import { createLogger, type LogFields, type LogRecord } from "../src/log.ts";
import {
  denoCommand,
  deriveConfig,
  generateKeys,
  NetworkStatus,
  removeKeys,
  type RunningNetwork,
  startNetwork,
} from "./launch/mod.ts";

const USAGE = `Usage: deno task network [--config config/config.yaml] [--clients N] [--base-port P]
                         [--round-duration S] [--keep] [--ephemeral] [--restart] [--verbose]
                         [--log-format text|json]`;
const FLAGS = {
  config: flag.text(),
  clients: flag.int({ min: 1, max: 10_000 }),
  "base-port": flag.int({ min: 1, max: 65_535 }),
  "round-duration": flag.number({ min: 0.01, max: 3600 }),
  keep: flag.switch(),
  ephemeral: flag.switch(),
  restart: flag.switch(),
  verbose: flag.switch(),
  "log-format": flag.choice(["text", "json"]),
  help: flag.switch("h"),
};
const encoder = new TextEncoder();
const tty = Deno.stdout.isTerminal();
const COLORS = [36, 33, 35, 32, 34, 31, 96, 93, 95, 92];
/** Signals that stop the network (and end the start if it is under way). */
const STOP_SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** The flags {@link runNetwork} reads. */
interface Flags {
  readonly config?: string;
  readonly ephemeral?: boolean;
  readonly restart?: boolean;
  readonly verbose?: boolean;
  readonly "log-format"?: "text" | "json";
}

/**
 * Where the task's own lines go: plain text on stdout (errors on stderr), or JSON records of
 * node "network" on stdout.
 */
class Output {
  readonly #json: boolean;
  readonly #logger;

  constructor(json: boolean) {
    this.#json = json;
    this.#logger = createLogger({
      name: "network",
      format: "json",
      write: (line) => Deno.stdout.writeSync(encoder.encode(line + "\n")),
    });
  }

  get json(): boolean {
    return this.#json;
  }

  /** An event of the task: its text for people, its record for scripts. */
  say(text: string, message: string, fields: LogFields = {}): void {
    if (this.#json) this.#logger.info(message, fields);
    else console.log(`network: ${text}`);
  }

  /** A failure of the task. */
  fail(text: string, fields: LogFields = {}): void {
    if (this.#json) this.#logger.error("failed", { ...fields, error: text });
    else console.error(`network: ${text}`);
  }
}

async function main(output: { current: Output }): Promise<number> {
  const { values } = parseFlags(Deno.args, FLAGS);
  const out = output.current = new Output(values["log-format"] === "json");
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  // From here on a signal stops the network in order, so the clean-up below always runs.
  const interrupt = new AbortController();
  for (const signal of STOP_SIGNALS) Deno.addSignalListener(signal, () => interrupt.abort());
  let configPath = values.config ?? "config/config.yaml";
  if (!(values.clients || values["base-port"] || values["round-duration"])) {
    return await runNetwork(configPath, values, out, interrupt.signal);
  }
  configPath = await deriveConfig(configPath, {
    clients: values.clients,
    basePort: values["base-port"],
    roundDuration: values["round-duration"],
  });
  const dir = dirname(configPath);
  out.say(
    `derived config ${configPath} (use --config ${configPath} with send/poll; ${
      values.keep ? "kept after the stop (--keep)" : "removed when the network stops, unless --keep"
    })`,
    "derived config",
    { config: configPath, keep: values.keep ?? false },
  );
  try {
    return await runNetwork(configPath, values, out, interrupt.signal);
  } finally {
    if (values.keep) out.say(`kept ${dir} (--keep): it holds secret keys`, "kept", { dir });
    else {
      await Deno.remove(dir, { recursive: true }).catch((error) =>
        out.fail(`cannot remove ${dir}: ${errorMessage(error)}`)
      );
    }
  }
}

/** Runs the network of the config at `configPath` until `interrupt` or a node fails. */
async function runNetwork(
  configPath: string,
  values: Flags,
  out: Output,
  interrupt: AbortSignal,
): Promise<number> {
  const config = await loadConfig(configPath);
  const keys = await generateKeys(config, values.ephemeral ?? false);
  if (keys.created.length) {
    out.say(`created keys for ${keys.created.join(", ")}`, "created keys", {
      nodes: keys.created.join(","),
    });
  }

  const ids = [...config.mixServers, ...config.clients].map((n) => n.id);
  const width = Math.max(...ids.map((id) => id.length));
  const status = new NetworkStatus(config.mixServers.map((m) => m.id));
  const live = tty && !out.json;
  let statusShown = false;
  const write = (text: string) => Deno.stdout.writeSync(encoder.encode(text));
  const clearStatus = () => {
    if (live && statusShown) write("\r\x1b[2K");
    statusShown = false;
  };
  const showStatus = () => {
    if (!live) return;
    write(`\r\x1b[2K\x1b[1m${status}\x1b[0m`);
    statusShown = true;
  };
  /** A child's line: its record as it is (JSON), or its text behind the node's label. */
  const print = (id: string, text: string, record?: LogRecord) => {
    if (out.json) {
      const line = record ??
        { time: new Date().toISOString(), level: "error", node: id, message: text };
      write(JSON.stringify(line) + "\n");
      return;
    }
    clearStatus();
    const label = id.padEnd(width);
    const color = COLORS[ids.indexOf(id) % COLORS.length];
    write(`${tty ? `\x1b[${color}m${label}\x1b[0m` : label} | ${text}\n`);
    showStatus();
  };

  // Set once every node is up; a node that dies before that fails the start instead.
  const running: { network?: RunningNetwork } = {};
  let failure: string | undefined;
  let wake: () => void = () => {};
  const finished = new Promise<void>((resolve) => (wake = resolve));
  interrupt.addEventListener("abort", () => wake(), { once: true });
  const onExit = (node: { id: string }, code: number) => {
    clearStatus();
    out.say(`${node.id} exited unexpectedly with code ${code}`, "node exited", {
      id: node.id,
      code,
    });
    if (values.restart && running.network) {
      out.say(`restarting ${node.id} (--restart)`, "restarting", { id: node.id });
      running.network.restart(node.id).catch((error) => {
        failure = `${node.id} could not be restarted: ${errorMessage(error)}`;
        wake();
      });
    } else {
      failure =
        `${node.id} exited with code ${code}: stopping the network (pass --restart to restart it instead)`;
      wake();
    }
  };
  out.say(
    `starting ${config.mixServers.length} mixes and ${config.clients.length} clients (${config.file})`,
    "starting",
    { mixes: config.mixServers.length, clients: config.clients.length, config: config.file },
  );
  const network = running.network = await startNetwork(configPath, {
    onLine: (id, text, record) => {
      const perRound = record !== undefined && status.observe(id, record);
      if (!perRound || values.verbose || out.json || Number(record?.dropped ?? 0) > 0) {
        print(id, text, record);
      } else showStatus();
    },
    onExit,
    signal: interrupt,
  });
  clearStatus();
  const hint = `${denoCommand(Deno.env)} task send --from ${config.clients[0].id} --to ${
    config.clients[1]?.id ?? config.clients[0].id
  } --message hello${
    values.config || configPath !== "config/config.yaml" ? ` --config ${configPath}` : ""
  }`;
  out.say(
    `all ${network.nodes.size} nodes ready, rounds of ${config.roundDuration} s. ` +
      `Try: ${hint}. Ctrl-C stops.`,
    "ready",
    { nodes: network.nodes.size, round_duration_s: config.roundDuration, try: hint },
  );
  showStatus();
  const periodic = live ? undefined : setInterval(() => {
    if (out.json) out.say("", "status", { status: String(status), ...status.rounds });
    else console.log(`status: ${status}`);
  }, 5000);
  await finished;
  clearInterval(periodic);
  clearStatus();
  out.say("stopping every node", "stopping");
  await network.stop();
  if (values.ephemeral) await removeKeys(config);
  if (failure) out.say(failure, "failed", { error: failure });
  else out.say("stopped", "stopped");
  return failure ? 1 : 0;
}

if (import.meta.main) {
  const output = { current: new Output(false) };
  try {
    Deno.exit(await main(output));
  } catch (error) {
    output.current.fail(errorMessage(error));
    if (error instanceof UsageError) {
      console.error(USAGE);
      Deno.exit(2);
    }
    Deno.exit(1);
  }
}
