/**
 * A process that serves `ForwardBatch` only, on the address given, over gRPC (the default) or
 * the wire protocol, and prints "ready" once it listens: a peer the connection tests kill and
 * start again.
 *
 *   deno run --allow-read --allow-net=127.0.0.1 --allow-env --allow-sys \
 *     tests/testdata/batch_server.ts 127.0.0.1:PORT [grpc|wire]
 */
import { MixnetError } from "../../src/errors.ts";
import { batchPackets, type MixServerHandlers, startServer } from "../../src/rpc/mod.ts";
import { startWireServer } from "../../src/wire/mod.ts";

const unused = () => Promise.reject(new MixnetError("Not served here", { status: "not-found" }));
const handlers: MixServerHandlers = {
  ForwardMessage: unused,
  PollMessages: unused,
  Register: unused,
  WaitForStart: unused,
  async ForwardBatch(chunks) {
    let packets = 0;
    for await (const chunk of chunks) packets += batchPackets(chunk).length;
    return { status: `received ${packets}` };
  },
};

const [address, transport = "grpc"] = Deno.args;
const maxMessageBytes = 1024 * 1024;
if (transport === "wire") startWireServer(address, { handlers, maxMessageBytes });
else await startServer(address, { mix: handlers, maxMessageBytes });
console.log("ready");
