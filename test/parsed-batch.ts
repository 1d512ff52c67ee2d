import type { ParsedBatch } from "../src/domain/ingest/observation-batch.js";
import type { Observation } from "../src/domain/observation.js";

/** Turns a batch from the reader thread back into observations, for comparing with the general path. */
export function decodeBatch(batch: ParsedBatch, strings: readonly string[]): Observation[] {
  const o = batch.observations;
  const text = (id: number) => (id < 0 ? null : strings[id]!);
  return Array.from({ length: o.count }, (_, i) => ({
    videoId: text(o.videoId[i]!)!,
    createTime: o.createTime[i]!,
    region: text(o.region[i]!)!,
    hashtags: [...o.hashtags.subarray(o.hashtagStart[i]!, o.hashtagStart[i + 1]!)].map((id) => text(id)!).sort(),
    username: text(o.username[i]!)!,
    viewCount: o.viewCount[i]!,
    observedAt: o.observedAt[i]!,
    nickName: text(o.nickName[i]!),
    avatarUrl: text(o.avatarUrl[i]!),
  }));
}
