/**
 * A process that serves `ForwardBatch` only, on the address given, and prints "ready" once it
 * listens: a peer the connection tests kill and start again.
 *
 *   deno run --allow-read --allow-net=127.0.0.1 --allow-env --allow-sys \
 *     tests/testdata/batch_server.ts 127.0.0.1:PORT
 */
import { MixnetError } from "../../src/errors.ts";
import { type MixServerHandlers, startServer } from "../../src/rpc/mod.ts";

const unused = () => Promise.reject(new MixnetError("Not served here", { status: "not-found" }));
const handlers: MixServerHandlers = {
  ForwardMessage: unused,
  PollMessages: unused,
  Register: unused,
  WaitForStart: unused,
  async ForwardBatch(chunks) {
    let packets = 0;
    for await (const chunk of chunks) packets += chunk.packets.length;
    return { status: `received ${packets}` };
  },
};

await startServer(Deno.args[0], { mix: handlers, maxMessageBytes: 1024 * 1024 });
console.log("ready");
