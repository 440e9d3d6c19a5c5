/**
 * Entry script of a client.
 *
 *   deno run --allow-read --allow-write --allow-net=127.0.0.1 --allow-env --allow-ffi --allow-sys \
 *     src/client.ts --id client_1 --config config/config.yaml
 *
 * `--allow-net` needs the hosts the config names for this node: `tasks/permissions.ts` prints
 * them, and `bin/mixnet` and the network task grant them.
 *
 * @module
 */
import { prepareRole, runUntilSignal } from "./_entry.ts";
import { startClient } from "./client/mod.ts";

const USAGE = `Usage: client.ts --id CLIENT_ID [--config config/config.yaml] [--metrics-file F]
       [--log-format text|json] [--log-level debug|info|warn|error]
Environment: CLIENT_ID, CONFIG_PATH.`;

if (import.meta.main) {
  await runUntilSignal("client", async () => {
    const role = await prepareRole("client", "CLIENT_ID", {}, USAGE);
    return startClient({
      config: role.config,
      id: role.id,
      box: role.box,
      keyPair: role.keyPair,
      logger: role.logger,
      metricsFile: role.values["metrics-file"],
    });
  });
}
