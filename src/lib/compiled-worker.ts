import fs from "node:fs";
import { fileURLToPath } from "node:url";

const found = new Map<string, URL | false>();

/**
 * The compiled worker script `file` beside the module at `moduleUrl`, or false when that module runs from
 * TypeScript sources (tests), where there is none: the caller then does the work on its own thread.
 */
export function compiledWorker(file: string, moduleUrl: string): URL | false {
  const url = new URL(file, moduleUrl);
  let worker = found.get(url.href);
  if (worker === undefined) {
    worker = moduleUrl.endsWith(".js") && fs.existsSync(fileURLToPath(url)) ? url : false;
    found.set(url.href, worker);
  }
  return worker;
}
