/**
 * The network configuration: `config.yaml` parsed, validated and frozen into a typed
 * {@link Config}, with errors that name the file and the field.
 *
 * @module
 */
export { type Config, loadConfig, type NodeConfig, parseConfig } from "./load.ts";
export { CRYPTO_BACKENDS, MAX_PAYLOAD_SIZE } from "./schema.ts";
export { isIpLiteral, isLoopbackHost, splitAddress } from "./address.ts";
