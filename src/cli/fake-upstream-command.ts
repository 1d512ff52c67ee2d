import { type Command, InvalidArgumentError } from "commander";
import { formatDay, parseDay } from "../lib/days.js";
import {
  createFakeUpstream,
  FAKE_UPSTREAM_PATHS,
  FAULT_KINDS,
  type Fault,
  type FaultKind,
} from "../sources/creative-center/fake-upstream.js";
import { createOutput, type Output } from "./output.js";

export interface FakeUpstreamCommandOptions {
  port: number;
  host: string;
  seed: number;
  /** `YYYY-MM-DD`; default yesterday (UTC). */
  asOf?: string;
  sessionId: string;
  csrfToken: string;
  gen1Sign: string;
  fault: Fault[];
}

function portNumber(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65_535)
    throw new InvalidArgumentError("--port must be an integer from 0 (any free port) to 65535");
  return Number(value);
}

function seedNumber(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError("--seed must be an integer >= 0");
  return Number(value);
}

function day(value: string): string {
  if (parseDay(value) === undefined) throw new InvalidArgumentError("--as-of must be a date, YYYY-MM-DD");
  return value;
}

function nonEmpty(name: string) {
  return (value: string) => {
    if (value === "" || /[;\s]/.test(value)) throw new InvalidArgumentError(`${name} must be non-empty, without spaces or semicolons`);
    return value;
  };
}

function sign(value: string): string {
  if (!/^[0-9a-f]{16}$/i.test(value)) throw new InvalidArgumentError("--gen1-sign must be 16 hex characters");
  return value;
}

/** `kind` or `kind:times`, times an integer >= 1 or `inf`; repeated options add up. */
function faultOption(value: string, previous: Fault[] = []): Fault[] {
  const [kind, times, ...rest] = value.split(":");
  if (!(FAULT_KINDS as readonly string[]).includes(kind ?? "") || rest.length > 0) {
    throw new InvalidArgumentError(`--fault must be kind[:times], kind one of ${FAULT_KINDS.join(", ")}`);
  }
  let count = 1;
  if (times !== undefined) {
    if (/^(inf|infinity)$/i.test(times)) count = Infinity;
    else if (/^\d+$/.test(times) && Number(times) >= 1) count = Number(times);
    else throw new InvalidArgumentError("--fault times must be an integer >= 1 or inf");
  }
  return [...previous, { kind: kind as FaultKind, times: count }];
}

/**
 * Serves a fake TikTok Creative Center until SIGINT or SIGTERM, printing its base URL and the
 * credentials a client must send, so a collector can be run against it from another terminal.
 */
export async function runFakeUpstream(output: Output, options: FakeUpstreamCommandOptions): Promise<void> {
  const asOf = options.asOf ?? formatDay(Math.floor(Date.now() / 86_400_000) - 1);
  const upstream = createFakeUpstream({
    seed: options.seed,
    asOf,
    session: { sessionId: options.sessionId, csrfToken: options.csrfToken },
    gen1Sign: options.gen1Sign,
    faults: options.fault,
  });
  const base = await upstream.listen(options.port, options.host);
  const faults = options.fault.map((f) => (f.times === 1 ? f.kind : `${f.kind}:${f.times}`)).join(", ");
  for (const line of [
    `fake TikTok Creative Center serving ${base} (seed ${options.seed}, charts of ${asOf}${faults ? `, faults: ${faults}` : ""})`,
    ``,
    `  CC_BASE_URL=${base} CC_SESSION_ID=${options.sessionId} CC_CSRF_TOKEN=${options.csrfToken} tagpulse collect`,
    ``,
    `  generation 2: POST ${FAKE_UPSTREAM_PATHS.gen2List}`,
    `    Cookie: sessionid=${options.sessionId}; csrftoken=${options.csrfToken}`,
    `    x-secsdk-csrf-token: ${options.csrfToken}   (or x-csrftoken: <the csrftoken cookie>)`,
    `    without the cookie: only the top 3 rows of every chart`,
    `  generation 1: GET ${FAKE_UPSTREAM_PATHS.gen1List}`,
    `    Cookie: sessionid=${options.sessionId}`,
    `    anonymous-user-id: <any>   web-id: <any>   timestamp: <unix seconds>   user-sign: ${options.gen1Sign}`,
    `  control: POST|DELETE ${FAKE_UPSTREAM_PATHS.faults}   GET ${FAKE_UPSTREAM_PATHS.requests}   POST ${FAKE_UPSTREAM_PATHS.asOf}`,
    ``,
  ]) {
    output.info(line);
  }
  await new Promise<void>((resolve) => {
    const stop = () => void upstream.close().then(resolve, resolve);
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}

/** Adds `tagpulse fake-upstream`; it needs no database. */
export function registerFakeUpstreamCommand(program: Command): void {
  program
    .command("fake-upstream")
    .description("serve a fake TikTok Creative Center (both API generations, with faults on demand) until SIGTERM or SIGINT")
    .requiredOption("--port <n>", "port to listen on (0: any free port)", portNumber)
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--seed <n>", "seed of the fake world", seedNumber, 42)
    .option("--as-of <date>", "day of the charts served, YYYY-MM-DD (default: yesterday, UTC)", day)
    .option("--session-id <s>", "the sessionid cookie accepted", nonEmpty("--session-id"), "fake-session")
    .option("--csrf-token <t>", "the gen-2 CSRF token accepted", nonEmpty("--csrf-token"), "fake-csrf")
    .option("--gen1-sign <hex16>", "the gen-1 user-sign accepted", sign, "0123456789abcdef")
    .option("--fault <kind[:times]>", `queue a fault (repeatable): ${FAULT_KINDS.join(", ")}`, faultOption, [])
    .action(async (options: FakeUpstreamCommandOptions) => {
      await runFakeUpstream(createOutput({}), options);
    });
}
