/**
 * What the two role entry scripts share: flags with env fallbacks, loading config and keys,
 * running until SIGINT/SIGTERM, and one readable line on a fatal error.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { type Config, loadConfig } from "./config/mod.ts";
import { createSealedBox, ensureKeyPair, type KeyPair, type SealedBox } from "./crypto/mod.ts";
import { ConfigError, errorMessage } from "./errors.ts";
import { createLogger, type Logger, type LogLevel } from "./log.ts";

/** What every role is started with. */
export interface RoleContext {
  readonly id: string;
  readonly config: Config;
  readonly box: SealedBox;
  readonly keyPair: KeyPair;
  readonly logger: Logger;
  readonly values: Record<string, string | undefined>;
}

/** Flags every role accepts, beyond its own. */
const COMMON = {
  id: { type: "string" },
  config: { type: "string" },
  "log-format": { type: "string" },
  "log-level": { type: "string" },
  "metrics-file": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

/**
 * Parses the role's flags (with `ID_ENV` and `CONFIG_PATH` as fallbacks), loads the config,
 * the crypto backend and the node's key pair (created on first start).
 */
export async function prepareRole(
  role: "mix" | "client",
  idEnv: string,
  extra: ParseArgsConfig["options"],
  usage: string,
): Promise<RoleContext> {
  const { values } = parseArgs({
    args: Deno.args,
    options: { ...COMMON, ...extra },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(usage);
    Deno.exit(0);
  }
  const id = (values.id as string | undefined) ?? Deno.env.get(idEnv);
  if (!id) throw new UsageError(`Missing --id (or ${idEnv}): which ${role} to run\n${usage}`);
  const configPath = (values.config as string | undefined) ?? Deno.env.get("CONFIG_PATH") ??
    "config/config.yaml";
  const format = values["log-format"] as string | undefined;
  const level = (values["log-level"] as LogLevel | undefined) ?? "info";
  if (format !== undefined && format !== "text" && format !== "json") {
    throw new UsageError(`--log-format: expected text or json, got ${JSON.stringify(format)}`);
  }
  const logger = createLogger({ name: id, level, format });
  const config = await loadConfig(configPath);
  const nodes = role === "mix" ? config.mixServers : config.clients;
  if (!nodes.some((n) => n.id === id)) {
    throw new ConfigError(
      `${config.file}: ${role === "mix" ? "mix_servers" : "clients"}: no ${role} with id ${
        JSON.stringify(id)
      } (known: ${nodes.map((n) => n.id).join(", ")})`,
    );
  }
  const box = await createSealedBox(config.cryptoBackend);
  const { pair, created } = await ensureKeyPair(
    box,
    { configDir: config.dir, keysDir: config.keysDir },
    id,
  );
  if (created) logger.info("created key pair", { public_key_file: `${config.dir}/${id}.key` });
  return { id, config, box, keyPair: pair, logger, values: values as Record<string, string> };
}

/** A node the entry scripts run: `exiting` skips the gRPC shutdown (see MixNode.stop). */
export interface StoppableNode {
  stop(options?: { exiting?: boolean }): Promise<void>;
}

/** A command-line mistake: printed with usage, exit code 2. */
export class UsageError extends Error {}

/**
 * Runs `start`, then waits for SIGINT or SIGTERM and calls the returned stop function within
 * `graceMs` (then exits anyway). Fatal errors print one line and exit 1 (2 for usage).
 */
export async function runUntilSignal(
  name: string,
  start: () => Promise<StoppableNode>,
  graceMs = 10_000,
): Promise<void> {
  let node: StoppableNode;
  try {
    node = await start();
  } catch (error) {
    console.error(`${name}: ${errorMessage(error)}`);
    Deno.exit(error instanceof UsageError ? 2 : 1);
  }
  const stopped = new Promise<void>((resolve) => {
    const onSignal = () => {
      Deno.removeSignalListener("SIGINT", onSignal);
      Deno.removeSignalListener("SIGTERM", onSignal);
      const force = setTimeout(() => {
        console.error(`${name}: graceful stop took over ${graceMs / 1000} s, exiting`);
        Deno.exit(1);
      }, graceMs);
      node.stop({ exiting: true }).then(() => {
        clearTimeout(force);
        resolve();
      }, (error) => {
        console.error(`${name}: stop failed: ${errorMessage(error)}`);
        Deno.exit(1);
      });
    };
    Deno.addSignalListener("SIGINT", onSignal);
    Deno.addSignalListener("SIGTERM", onSignal);
  });
  await stopped;
  Deno.exit(0);
}
