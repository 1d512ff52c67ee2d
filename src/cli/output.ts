import { SingleBar, Presets } from "cli-progress";

/** How a command talks: a progress bar on an interactive terminal, a summary or JSON at the end. */
export interface Output {
  readonly json: boolean;
  progress(label: string, total: number, unit?: string): Progress;
  /** A human summary line (suppressed with --json). */
  info(line: string): void;
  /** The machine result (printed only with --json). */
  result(value: unknown): void;
}

export interface Progress {
  update(done: number, total?: number): void;
  stop(): void;
}

const silent: Progress = { update() {}, stop() {} };

export function createOutput(options: { json?: boolean }): Output {
  const json = options.json === true;
  const interactive = process.stderr.isTTY === true && !json;
  return {
    json,
    progress(label, total, unit = "") {
      if (!interactive) return silent;
      const bar = new SingleBar(
        {
          format: `${label.padEnd(12)} [{bar}] {percentage}% | {value}/{total}${unit ? ` ${unit}` : ""} | {duration_formatted}`,
          hideCursor: true,
          clearOnComplete: false,
          stream: process.stderr,
          etaBuffer: 50,
        },
        Presets.shades_classic,
      );
      bar.start(total, 0);
      return {
        update(done, newTotal) {
          if (newTotal !== undefined) bar.setTotal(newTotal);
          bar.update(done);
        },
        stop: () => bar.stop(),
      };
    },
    info(line) {
      if (!json) process.stdout.write(`${line}\n`);
    },
    result(value) {
      if (json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
  };
}

export const formatCount = (n: number): string => n.toLocaleString("en-US");
