/**
 * Prints the Deno permission flags a process of a network needs, its `--allow-net` derived
 * from the config (see launch/permissions.ts), on one line, for a shell that starts it:
 *
 *   deno run $(deno run --allow-read --allow-env tasks/permissions.ts mix --id mix_1 \
 *     --config config.yaml) src/mix.ts --id mix_1 --config config.yaml
 *
 * `bin/mixnet`, the container image's entry point, starts every role this way.
 *
 * @module
 */
import { loadConfig } from "../src/config/mod.ts";
import { errorMessage } from "../src/errors.ts";
import { flag, parseFlags, UsageError } from "../src/flags.ts";
import { NODE_PERMISSIONS } from "./launch/mod.ts";
import { type Grantee, netPermission, replaceNet } from "./launch/permissions.ts";

/** Permissions of the user's CLI (send, poll), beside its network permission. */
export const CLI_PERMISSIONS: readonly string[] = ["--allow-read", "--allow-env", "--allow-sys"];

const USAGE = "Usage: permissions.ts mix|client|cli [--id ID] [--config config/config.yaml]";

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { id: flag.text(), config: flag.text() }, {
    positionals: true,
  });
  const role = positionals[0];
  if (positionals.length !== 1 || !["mix", "client", "cli"].includes(role)) {
    console.error(USAGE);
    return 2;
  }
  if (role !== "cli" && !values.id) {
    console.error(`permissions: ${role} needs --id\n${USAGE}`);
    return 2;
  }
  const config = await loadConfig(
    values.config ?? Deno.env.get("CONFIG_PATH") ?? "config/config.yaml",
  );
  const grantee: Grantee = role === "cli"
    ? { role: "cli" }
    : { role: role as "mix" | "client", id: values.id! };
  const net = netPermission(config, grantee);
  if (net.broadBecause) console.error(`permissions: net access to any host: ${net.broadBecause}`);
  const base = role === "cli" ? CLI_PERMISSIONS : NODE_PERMISSIONS;
  console.log(replaceNet(base, net.flag).join(" "));
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(`permissions: ${errorMessage(error)}`);
    if (error instanceof UsageError) console.error(USAGE);
    Deno.exit(error instanceof UsageError ? 2 : 1);
  }
}
