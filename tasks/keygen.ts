/**
 * `deno task keygen [--config config/config.yaml] [--force]`: a key pair for every mix and
 * client of the config that lacks one; `--force` replaces them all.
 *
 * @module
 */
import { loadConfig } from "../src/config/mod.ts";
import { errorMessage } from "../src/errors.ts";
import { flag, parseFlags, UsageError } from "../src/flags.ts";
import { generateKeys } from "./launch/mod.ts";

const USAGE = "Usage: deno task keygen [--config config/config.yaml] [--force]";

if (import.meta.main) {
  try {
    const { values } = parseFlags(Deno.args, {
      config: flag.text(),
      force: flag.switch(),
      help: flag.switch("h"),
    });
    if (values.help) {
      console.log(USAGE);
      Deno.exit(0);
    }
    const config = await loadConfig(values.config ?? "config/config.yaml");
    const report = await generateKeys(config, values.force ?? false);
    if (report.created.length) console.log(`created: ${report.created.join(", ")}`);
    if (report.kept.length) console.log(`kept (use --force to replace): ${report.kept.join(", ")}`);
    console.log(`public keys in ${config.dir}, secret keys in ${config.keysDir}`);
  } catch (error) {
    console.error(`keygen: ${errorMessage(error)}`);
    if (error instanceof UsageError) console.error(USAGE);
    Deno.exit(error instanceof UsageError ? 2 : 1);
  }
}
