import { compareUtf8 } from "../lib/order.js";
import type { Observation } from "./observation.js";

/**
 * The total order on a video's (or a creator's) observations: later first, then more views, then the
 * bytes of the attributes' canonical string (a signature). Only observations of the same second and
 * views need the signatures, so they are asked for, and built, only then.
 */
export function isLater(
  at: number,
  views: number,
  sig: () => string,
  otherAt: number,
  otherViews: number,
  otherSig: () => string,
): boolean {
  const order = compareTimeAndViews(at, views, otherAt, otherViews);
  return order > 0 || (order === 0 && compareUtf8(sig(), otherSig()) > 0);
}

/**
 * The order of two observations by time, then views; 0 when only their signatures can tell. By
 * difference, so that a count PostgreSQL hands over as a string (bigint) compares as a number.
 */
export function compareTimeAndViews(at: number, views: number, otherAt: number, otherViews: number): number {
  return at - otherAt || views - otherViews;
}

export function videoSig(o: Observation): string {
  return videoSigOf(o.createTime, o.region, o.hashtags, o.username);
}

/** The canonical string of a video's attributes, its hashtag names in any order. */
export function videoSigOf(createTime: number, region: string, hashtags: readonly string[], username: string): string {
  return JSON.stringify([createTime, region, [...hashtags].sort(), username]);
}

export function creatorSig(o: Observation): string {
  return creatorSigOf(o.nickName, o.avatarUrl);
}

/** The canonical string of a creator's display fields. */
export function creatorSigOf(nickName: string | null, avatarUrl: string | null): string {
  return JSON.stringify([nickName, avatarUrl]);
}
