/**
 * Entry script of a mix server.
 *
 *   deno run --allow-read --allow-write --allow-net=127.0.0.1 --allow-env --allow-ffi --allow-sys \
 *     src/mix.ts --id mix_1 --config config/config.yaml
 *
 * `--allow-net` needs the hosts the config names for this node: `tasks/permissions.ts` prints
 * them, and `bin/mixnet` and the network task grant them.
 *
 * @module
 */
import { prepareRole, runUntilSignal } from "./_entry.ts";
import { flag } from "./flags.ts";
import { startMix } from "./mix/mod.ts";

const USAGE = `Usage: mix.ts --id MIX_ID [--config config/config.yaml] [--metrics-file F]
       [--output-dir D] [--workers N] [--log-format text|json] [--log-level debug|info|warn|error]
Environment: MIX_ID, CONFIG_PATH.`;

if (import.meta.main) {
  await runUntilSignal("mix", async () => {
    const role = await prepareRole("mix", "MIX_ID", {
      "output-dir": flag.text(),
      workers: flag.int({ min: 1, max: 1024 }),
    }, USAGE);
    return startMix({
      config: role.config,
      id: role.id,
      box: role.box,
      keyPair: role.keyPair,
      logger: role.logger,
      metricsFile: role.values["metrics-file"],
      outputDir: role.values["output-dir"],
      workers: role.values.workers,
    });
  });
}
