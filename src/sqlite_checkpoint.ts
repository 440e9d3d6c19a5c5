/**
 * The worker of sqlite.ts's `BackgroundCheckpoint`: opens the database it is given, copies the
 * write-ahead log into it whenever asked (answering each time it is done), and closes it when
 * told.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { DatabaseSync } from "node:sqlite";

let db: DatabaseSync | undefined;

self.onmessage = (event: MessageEvent<{ path: string } | "checkpoint" | "close">) => {
  if (event.data === "close") {
    db?.close();
    db = undefined;
    self.postMessage("closed");
  } else if (event.data === "checkpoint") {
    try {
      // Passive: never waits on a reader or the writer; what it cannot copy now the next does.
      db?.exec("PRAGMA wal_checkpoint(PASSIVE)");
    } catch {
      // A full disk or a removed file: the main connection's next write reports it by name.
    }
    self.postMessage("done");
  } else {
    try {
      db = new DatabaseSync(event.data.path);
      db.exec("PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
    } catch {
      // Opened by the main thread a moment ago; if it cannot be opened here, SQLite's own
      // check point in the main connection's commits bounds the log instead.
      db = undefined;
      self.postMessage("unavailable");
    }
  }
};
