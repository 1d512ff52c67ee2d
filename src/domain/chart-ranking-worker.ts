import { parentPort } from "node:worker_threads";
import { addBuffers, rankRegions, REGION_DONE, type RankingInput } from "./chart-ranking.js";

/** Ranks the regions it is sent and sends back their rankings, moving the arrays rather than copying them. */
parentPort!.once("message", (input: RankingInput) => {
  const ranked = rankRegions(input, () => parentPort!.postMessage(REGION_DONE));
  const moved = new Set<ArrayBufferLike>();
  for (const region of ranked) {
    moved.add(region.entries.buffer).add(region.ends.buffer);
    for (const pairs of region.firsts) moved.add(pairs.buffer);
    addBuffers(moved, region.windows);
    addBuffers(moved, region.recomputed);
  }
  parentPort!.postMessage(ranked, [...moved] as ArrayBuffer[]);
});
