/**
 * A host that is not the previous mix tries a `ForwardBatch` at a mix over TLS, as the
 * multi-host test runs it from a namespace of its own:
 *
 *   deno run --allow-read --allow-net=HOST:PORT forge_batch.ts CONFIG TARGET_ID none|own grpc|wire
 *
 * It pins the target's published certificate (public), at its gRPC address or its wire port,
 * and shows no certificate (`none`) or one of its own making (`own`), claiming to be the
 * target's previous mix. Prints one JSON line:
 * `{ "code": <gRPC status>, "details": "…", "fingerprint": <the one it showed> }`.
 */
import { loadConfig } from "../../src/config/mod.ts";
import { generateTlsIdentity, readCertificate } from "../../src/crypto/mod.ts";
import {
  maxMessageBytes,
  type MixServerCalls,
  MixServerStub,
  pinnedChannel,
  pinnedWireDialer,
  RpcError,
} from "../../src/rpc/mod.ts";
import { WireStub } from "../../src/wire/mod.ts";

if (import.meta.main) {
  const [configPath, targetId, show, transport] = Deno.args;
  const config = await loadConfig(configPath);
  const index = config.mixServers.findIndex((m) => m.id === targetId);
  const target = config.mixServers[index];
  const previous = config.mixServers[index - 1];
  const identity = show === "own" ? await generateTlsIdentity(previous.id) : undefined;
  const pin = {
    id: target.id,
    address: target.address,
    certificate: await readCertificate(config.dir, target.id),
  };
  const options = { maxMessageBytes: maxMessageBytes(config), name: target.id, timeoutMs: 10_000 };
  const stub: MixServerCalls = transport === "wire"
    ? new WireStub(target.wire!.address, { ...options, dial: pinnedWireDialer(pin), identity })
    : new MixServerStub(target.address, {
      ...options,
      credentials: pinnedChannel(pin, identity),
    });
  let result: { code: number; details: string };
  try {
    const response = await stub.forwardBatch({
      round: 1,
      packets: [],
      mix_id: previous.id,
      mac: new Uint8Array(32),
    });
    result = { code: 0, details: response.status };
  } catch (error) {
    result = error instanceof RpcError
      ? { code: error.code, details: error.details }
      : { code: -1, details: String(error) };
  } finally {
    stub.close();
  }
  console.log(
    JSON.stringify({ ...result, fingerprint: identity?.certificate.fingerprint ?? null }),
  );
}
