/**
 * `deno task keygen [--config config/config.yaml] [--force]`: a key pair for every mix and
 * client of the config that lacks one; `--force` replaces them all.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config/mod.ts";
import { errorMessage } from "../src/errors.ts";
import { generateKeys } from "./_network_config.ts";

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { config: { type: "string" }, force: { type: "boolean" } },
  });
  try {
    const config = await loadConfig(values.config ?? "config/config.yaml");
    const report = await generateKeys(config, values.force ?? false);
    if (report.created.length) console.log(`created: ${report.created.join(", ")}`);
    if (report.kept.length) console.log(`kept (use --force to replace): ${report.kept.join(", ")}`);
    console.log(`public keys in ${config.dir}, secret keys in ${config.keysDir}`);
  } catch (error) {
    console.error(`keygen: ${errorMessage(error)}`);
    Deno.exit(1);
  }
}
