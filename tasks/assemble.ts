/**
 * `deno task assemble`: the network's config from every node's descriptor, in one folder of
 * public files that every operator puts beside its own keys:
 *
 *   deno task assemble --out network/ [--settings settings.yaml] [--force] \
 *     mix_1.descriptor.yaml mix_2.descriptor.yaml mix_3.descriptor.yaml client_*.descriptor.yaml
 *
 * Mixes form the cascade in the order their descriptors are given. The settings file holds the
 * config's other keys (`messages_per_round`, `round_duration`, `payload_size`, …); without it,
 * every client must register and rounds last 1 s. A mix's wire port comes from its descriptor.
 * It prints each node's address, wire port and fingerprint, for the operators to compare with
 * what each other reads out, and a digest of the folder: operators who assemble the same
 * descriptors get the same digest.
 *
 * @module
 */
import { parse } from "yaml";
import { errorMessage } from "../src/errors.ts";
import { flag, parseFlags, UsageError } from "../src/flags.ts";
import { assembleNetwork, type Descriptor, parseDescriptor } from "./_descriptor.ts";

const USAGE = "Usage: deno task assemble --out DIR [--settings FILE] [--force] DESCRIPTOR.yaml...";

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    out: flag.text(),
    settings: flag.text(),
    force: flag.switch(),
    help: flag.switch("h"),
  }, { positionals: true });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.out) throw new UsageError("Missing --out (the folder to write)");
  if (positionals.length === 0) throw new UsageError("No descriptor given");
  const existing = await Deno.stat(`${values.out}/config.yaml`).then(() => true, () => false);
  if (existing && !values.force) {
    throw new UsageError(`${values.out}/config.yaml exists: pass --force to replace it`);
  }
  const descriptors: Descriptor[] = [];
  for (const file of positionals) {
    descriptors.push(parseDescriptor(await Deno.readTextFile(file), file));
  }
  const settings = values.settings ? parse(await Deno.readTextFile(values.settings)) ?? {} : {};
  if (typeof settings !== "object" || Array.isArray(settings)) {
    throw new UsageError(`${values.settings}: expected a mapping of config keys`);
  }
  const { config, digest } = await assembleNetwork(descriptors, settings, values.out);
  console.log(
    `assembled ${config.file}: ${config.mixServers.length} mixes, ${config.clients.length} clients`,
  );
  for (const d of descriptors) {
    const place = d.wirePort === undefined ? d.address : `${d.address} wire ${d.wirePort}`;
    console.log(`  ${d.role.padEnd(6)} ${d.id.padEnd(12)} ${place.padEnd(28)} ${d.fingerprint}`);
  }
  console.log(`digest: ${digest}`);
  console.log(
    "Every operator copies this folder's files beside its keys (secret/ is never copied).",
  );
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(`assemble: ${errorMessage(error)}`);
    if (error instanceof UsageError) console.error(USAGE);
    Deno.exit(error instanceof UsageError ? 2 : 1);
  }
}
