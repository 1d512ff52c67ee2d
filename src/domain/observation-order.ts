import { compareUtf8 } from "../lib/order.js";
import type { Observation } from "./observation.js";

export type Key = readonly [at: number, views: number, sig: string];

/** Total order on observations: later first, then more views, then the attributes' bytes. */
export function compareKeys(a: Key, b: Key): number {
  return a[0] - b[0] || a[1] - b[1] || compareUtf8(a[2], b[2]);
}

export function videoSig(o: Observation): string {
  return videoSigOf(o.createTime, o.region, o.hashtags, o.username);
}

/** The canonical string of a video's attributes: decides between observations of the same second and views. */
function videoSigOf(createTime: number, region: string, hashtags: readonly string[], username: string): string {
  return JSON.stringify([createTime, region, hashtags, username]);
}

export function creatorSig(o: Observation): string {
  return creatorSigOf(o.nickName, o.avatarUrl);
}

function creatorSigOf(nickName: string | null, avatarUrl: string | null): string {
  return JSON.stringify([nickName, avatarUrl]);
}
