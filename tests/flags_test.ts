import assert from "node:assert/strict";
import { flag, parseFlags, UsageError } from "../src/flags.ts";

const FLAGS = {
  workers: flag.int({ min: 1, max: 1024 }),
  "round-duration": flag.number({ min: 0.01, max: 3600 }),
  format: flag.choice(["text", "json"]),
  clients: flag.intList({ min: 1 }),
  name: flag.text(),
  message: flag.string(),
  keep: flag.switch(),
  help: flag.switch("h"),
};

function refused(args: string[], pattern: RegExp): void {
  assert.throws(() => parseFlags(args, FLAGS), (error: Error) => {
    assert.ok(error instanceof UsageError, String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("flags are converted by their schema", () => {
  const { values } = parseFlags([
    "--workers",
    "4",
    "--round-duration=0.25",
    "--format",
    "json",
    "--clients",
    "2, 5,1_000",
    "--name",
    "x",
    "--message",
    "",
    "--keep",
    "-h",
  ], FLAGS);
  assert.deepEqual(values, {
    workers: 4,
    "round-duration": 0.25,
    format: "json",
    clients: [2, 5, 1000],
    name: "x",
    message: "",
    keep: true,
    help: true,
  });
  assert.deepEqual(parseFlags([], FLAGS).values, {});
});

Deno.test("a bad flag is refused naming the flag and the value given", () => {
  refused(["--workers", "x"], /^--workers: expected a whole number >= 1 and <= 1024, got "x"$/);
  refused(["--workers", "0"], /^--workers: expected a whole number >= 1 and <= 1024, got "0"$/);
  refused(["--workers", "2.5"], /--workers: .* got "2\.5"/);
  refused(
    ["--round-duration", "abc"],
    /^--round-duration: expected a number >= 0\.01 and <= 3600, got "abc"$/,
  );
  refused(["--round-duration=-1"], /--round-duration: .* got "-1"/);
  refused(
    ["--round-duration", "-1"],
    /^--round-duration: got "-1", which looks like a flag; if it is the value, write --round-duration=-1$/,
  );
  refused(["--format", "yaml"], /^--format: expected one of text, json, got "yaml"$/);
  refused(
    ["--clients", "2,x"],
    /^--clients: expected a comma-separated list of whole numbers >= 1, got "2,x"$/,
  );
  refused(["--name", ""], /^--name: expected a value, got ""$/);
  refused(["--workers"], /^--workers: expected a value$/);
  refused(["--keep=yes"], /^--keep: takes no value$/);
  refused(["--workers", "1", "--workers", "2"], /^--workers: given 2 times, expected once$/);
  refused(["--nope"], /^Unknown flag --nope$/);
  refused(["stray"], /^Unexpected argument "stray"$/);
});
