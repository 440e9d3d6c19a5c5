/**
 * `deno task network`: generates missing keys, starts every mix and client of the config as
 * subprocesses, prefixes their logs with their ids, shows the network's status, and stops them
 * all on Ctrl-C or SIGTERM.
 *
 *   deno task network [--config config/config.yaml] [--clients N] [--base-port P]
 *                     [--round-duration S] [--keep] [--ephemeral] [--restart] [--verbose]
 *
 * With --clients, --base-port or --round-duration it runs a config derived into a temp folder
 * that also holds that network's secret keys and state; the folder is removed on every way out
 * (stop, failure, Ctrl-C during the start) unless --keep is given.
 *
 * @module
 */
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config/mod.ts";
import { errorMessage } from "../src/errors.ts";
import { denoCommand } from "./_deno_command.ts";
import { deriveConfig, generateKeys, removeKeys } from "./_network_config.ts";
import { type RunningNetwork, startNetwork } from "./_network.ts";
import { NetworkStatus } from "./_status.ts";

const USAGE = `Usage: deno task network [--config config/config.yaml] [--clients N] [--base-port P]
                         [--round-duration S] [--keep] [--ephemeral] [--restart] [--verbose]`;
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
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      config: { type: "string" },
      clients: { type: "string" },
      "base-port": { type: "string" },
      "round-duration": { type: "string" },
      keep: { type: "boolean" },
      ephemeral: { type: "boolean" },
      restart: { type: "boolean" },
      verbose: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  // From here on a signal stops the network in order, so the clean-up below always runs.
  const interrupt = new AbortController();
  for (const signal of STOP_SIGNALS) Deno.addSignalListener(signal, () => interrupt.abort());
  let configPath = values.config ?? "config/config.yaml";
  if (!(values.clients || values["base-port"] || values["round-duration"])) {
    return await runNetwork(configPath, values, interrupt.signal);
  }
  configPath = await deriveConfig(configPath, {
    clients: values.clients ? positive(values.clients, "--clients") : undefined,
    basePort: values["base-port"] ? positive(values["base-port"], "--base-port") : undefined,
    roundDuration: values["round-duration"] ? Number(values["round-duration"]) : undefined,
  });
  const dir = dirname(configPath);
  console.log(
    `network: derived config ${configPath} (use --config ${configPath} with send/poll; ${
      values.keep ? "kept after the stop (--keep)" : "removed when the network stops, unless --keep"
    })`,
  );
  try {
    return await runNetwork(configPath, values, interrupt.signal);
  } finally {
    if (values.keep) console.log(`network: kept ${dir} (--keep): it holds secret keys`);
    else {
      await Deno.remove(dir, { recursive: true }).catch((error) =>
        console.error(`network: cannot remove ${dir}: ${errorMessage(error)}`)
      );
    }
  }
}

/** Runs the network of the config at `configPath` until `interrupt` or a node fails. */
async function runNetwork(
  configPath: string,
  values: Flags,
  interrupt: AbortSignal,
): Promise<number> {
  const config = await loadConfig(configPath);
  const keys = await generateKeys(config, values.ephemeral ?? false);
  if (keys.created.length) console.log(`network: created keys for ${keys.created.join(", ")}`);

  const ids = [...config.mixServers, ...config.clients].map((n) => n.id);
  const width = Math.max(...ids.map((id) => id.length));
  const status = new NetworkStatus(config.mixServers.map((m) => m.id));
  let statusShown = false;
  const write = (text: string) => Deno.stdout.writeSync(encoder.encode(text));
  const clearStatus = () => {
    if (tty && statusShown) write("\r\x1b[2K");
    statusShown = false;
  };
  const showStatus = () => {
    if (!tty) return;
    write(`\r\x1b[2K\x1b[1m${status}\x1b[0m`);
    statusShown = true;
  };
  const print = (id: string, line: string) => {
    clearStatus();
    const label = id.padEnd(width);
    const color = COLORS[ids.indexOf(id) % COLORS.length];
    write(`${tty ? `\x1b[${color}m${label}\x1b[0m` : label} | ${line}\n`);
    showStatus();
  };

  // Set once every node is up; a node that dies before that fails the start instead.
  const running: { network?: RunningNetwork } = {};
  let failure: string | undefined;
  let wake: () => void = () => {};
  const finished = new Promise<void>((resolve) => (wake = resolve));
  interrupt.addEventListener("abort", () => wake(), { once: true });
  const onExit = (node: { id: string }, code: number) => {
    print(node.id, `exited unexpectedly with code ${code}`);
    if (values.restart && running.network) {
      print(node.id, "restarting (--restart)");
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
  console.log(
    `network: starting ${config.mixServers.length} mixes and ${config.clients.length} clients (${config.file})`,
  );
  const network = running.network = await startNetwork(configPath, {
    onLine: (id, line) => {
      const perRound = status.observe(id, line);
      if (!perRound || values.verbose || / dropped=[1-9]/.test(line)) print(id, line);
      else showStatus();
    },
    onExit,
    signal: interrupt,
  });
  clearStatus();
  console.log(
    `network: all ${network.nodes.size} nodes ready, rounds of ${config.roundDuration} s. ` +
      `Try: ${denoCommand(Deno.env)} task send --from ${config.clients[0].id} --to ${
        config.clients[1]?.id ?? config.clients[0].id
      } ` +
      `--message hello${
        values.config || configPath !== "config/config.yaml" ? ` --config ${configPath}` : ""
      }. Ctrl-C stops.`,
  );
  showStatus();
  const periodic = tty ? undefined : setInterval(() => console.log(`status: ${status}`), 5000);
  await finished;
  clearInterval(periodic);
  clearStatus();
  console.log("network: stopping every node");
  await network.stop();
  if (values.ephemeral) await removeKeys(config);
  console.log(failure ? `network: ${failure}` : "network: stopped");
  return failure ? 1 : 0;
}

function positive(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`${flag}: expected a positive whole number, got ${JSON.stringify(text)}`);
  }
  return n;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (error) {
    console.error(`network: ${errorMessage(error)}`);
    Deno.exit(1);
  }
}
