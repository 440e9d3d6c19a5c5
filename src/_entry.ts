/**
 * What the two role entry scripts share: flags with env fallbacks, loading config and keys,
 * running until SIGINT/SIGTERM, and one readable line on a fatal error.
 *
 * @module
 */
import { type Config, loadConfig } from "./config/mod.ts";
import { createSealedBox, ensureKeyPair, type KeyPair, type SealedBox } from "./crypto/mod.ts";
import { ConfigError, errorMessage } from "./errors.ts";
import { type Flag, flag, type ParsedFlags, parseFlags, UsageError } from "./flags.ts";
import { createLogger, type Logger } from "./log.ts";

export { UsageError };

/** Flags every role accepts, beyond its own. */
const COMMON = {
  id: flag.text(),
  config: flag.text(),
  "log-format": flag.choice(["text", "json"]),
  "log-level": flag.choice(["debug", "info", "warn", "error"]),
  "metrics-file": flag.text(),
  help: flag.switch("h"),
};

/** What every role is started with; `values` are its flags, validated. */
export interface RoleContext<E extends Record<string, Flag>> {
  readonly id: string;
  readonly config: Config;
  readonly box: SealedBox;
  readonly keyPair: KeyPair;
  readonly logger: Logger;
  readonly values: ParsedFlags<typeof COMMON & E>["values"];
}

/**
 * Parses and validates the role's flags (with `ID_ENV` and `CONFIG_PATH` as fallbacks), loads
 * the config, the crypto backend and the node's key pair (created on first start).
 *
 * @throws {UsageError} naming a flag and its value; {@link ConfigError} for the config.
 */
export async function prepareRole<E extends Record<string, Flag>>(
  role: "mix" | "client",
  idEnv: string,
  extra: E,
  usage: string,
): Promise<RoleContext<E>> {
  let values: RoleContext<E>["values"];
  try {
    values = parseFlags(Deno.args, { ...COMMON, ...extra }).values;
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(`${error.message}\n${usage}`);
    throw error;
  }
  if (values.help) {
    console.log(usage);
    Deno.exit(0);
  }
  const id = values.id ?? Deno.env.get(idEnv);
  if (!id) throw new UsageError(`Missing --id (or ${idEnv}): which ${role} to run\n${usage}`);
  const configPath = values.config ?? Deno.env.get("CONFIG_PATH") ?? "config/config.yaml";
  const logger = createLogger({
    name: id,
    level: values["log-level"] ?? "info",
    format: values["log-format"],
  });
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
  return { id, config, box, keyPair: pair, logger, values };
}

/** A node the entry scripts run: `exiting` skips the gRPC shutdown (see MixNode.stop). */
export interface StoppableNode {
  stop(options?: { exiting?: boolean }): Promise<void>;
}

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
