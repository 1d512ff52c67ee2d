import type { Database } from "../db/database.js";
import { CodeIndex } from "../lib/code-index.js";
import { GrowableInt32 } from "../lib/growable.js";
import { compareUtf8 } from "../lib/order.js";
import { PERIODS, windowStart } from "./chart-model.js";
import { readVideoGains } from "./engine-gains.js";
import { ALL_REGIONS } from "./reference-data.js";

/** Creators shown per chart row. */
const TOP_CREATORS = 3;

/**
 * Every video's gains in the windows of the latest day, in memory, by hashtag: the top creators of any
 * row of the latest day's charts without reading observations again (docs/charts.md, Creators).
 */
export interface CreatorIndex {
  /** The latest day, whose windows the index holds. */
  readonly day: number;
  /**
   * Up to 3 usernames whose videos carrying the tag gained the most views in [start, end] (ties by
   * username), counting only videos of `region` unless all_regions; undefined for a window the index
   * does not hold.
   */
  top(tag: number, region: string, start: number, end: number): string[] | undefined;
  /**
   * The country where the tag gained the most views in [start, end] (ties by code), null when it gained
   * none; undefined for a window the index does not hold.
   */
  topCountry(tag: number, start: number, end: number): string | null | undefined;
}

export async function buildCreatorIndex(database: Database, days: { first: number; last: number }): Promise<CreatorIndex> {
  const parts = await readVideoGains(database, { fromDay: days.first, gainsFrom: days.first, firstDay: days.first }, { creators: true });
  const starts = PERIODS.map((period) => windowStart(days.last, period, days.first));
  const windows = starts.length;
  const creators = new CodeIndex();
  const countries = new CodeIndex();
  // The videos that gained views in the longest window: creator, country, tags, and a gain per window.
  const videoCreator = new GrowableInt32();
  const videoCountry = new GrowableInt32();
  const tagStart = new GrowableInt32();
  const tags = new GrowableInt32();
  const gains: number[] = [];
  let tagCount = 0;
  for (const part of parts) {
    const creatorOf = Int32Array.from(part.creators ?? [], (name) => creators.of(name));
    const countryOf = Int32Array.from(part.countries, (code) => countries.of(code));
    const windowGains = new Float64Array(part.videoCount * windows);
    for (let i = 0; i < part.gainDay.length; i++) {
      const day = part.gainDay[i]!;
      for (let w = 0; w < windows; w++) {
        if (day >= starts[w]! && day <= days.last) windowGains[part.gainVideo[i]! * windows + w]! += part.gainViews[i]!;
      }
    }
    const widest = starts.indexOf(Math.min(...starts));
    for (let v = 0; v < part.videoCount; v++) {
      if (windowGains[v * windows + widest]! <= 0) continue;
      videoCreator.push(creatorOf[part.videoCreator![v]!]!);
      videoCountry.push(countryOf[part.videoCountry[v]!]!);
      tagStart.push(tags.length);
      for (let k = part.videoTagStart[v]!; k < part.videoTagStart[v + 1]!; k++) {
        tags.push(part.videoTags[k]!);
        tagCount = Math.max(tagCount, part.videoTags[k]! + 1);
      }
      for (let w = 0; w < windows; w++) gains.push(windowGains[v * windows + w]!);
    }
  }
  tagStart.push(tags.length);
  // Videos by tag (a counting sort).
  const byTagStart = new Int32Array(tagCount + 1);
  const videoTags = tags.view();
  for (const tag of videoTags) byTagStart[tag + 1]!++;
  for (let t = 0; t < tagCount; t++) byTagStart[t + 1]! += byTagStart[t]!;
  const byTag = new Int32Array(videoTags.length);
  const fill = byTagStart.slice(0, tagCount);
  const starts0 = tagStart.view();
  for (let v = 0; v + 1 < starts0.length; v++) {
    for (let k = starts0[v]!; k < starts0[v + 1]!; k++) byTag[fill[videoTags[k]!]!++] = v;
  }
  const creatorsOf = videoCreator.view();
  const countriesOf = videoCountry.view();
  const names = creators.codes;
  const total = new Float64Array(names.length);
  const byCountry = new Float64Array(countries.codes.length);

  return {
    day: days.last,
    top(tag, region, start, end) {
      const w = starts.indexOf(start);
      if (end !== days.last || w < 0) return undefined;
      if (tag >= tagCount) return [];
      const country = region === ALL_REGIONS ? -1 : countries.codes.indexOf(region);
      if (region !== ALL_REGIONS && country < 0) return [];
      const seen: number[] = [];
      for (let k = byTagStart[tag]!; k < byTagStart[tag + 1]!; k++) {
        const v = byTag[k]!;
        if (country >= 0 && countriesOf[v] !== country) continue;
        const gain = gains[v * windows + w]!;
        if (gain <= 0) continue;
        const creator = creatorsOf[v]!;
        if (total[creator] === 0) seen.push(creator);
        total[creator] = total[creator]! + gain;
      }
      const best = seen
        .map((creator) => ({ name: names[creator]!, views: total[creator]! }))
        .sort((a, b) => b.views - a.views || compareUtf8(a.name, b.name))
        .slice(0, TOP_CREATORS)
        .map((c) => c.name);
      for (const creator of seen) total[creator] = 0;
      return best;
    },
    topCountry(tag, start, end) {
      const w = starts.indexOf(start);
      if (end !== days.last || w < 0) return undefined;
      if (tag >= tagCount) return null;
      for (let k = byTagStart[tag]!; k < byTagStart[tag + 1]!; k++) {
        const v = byTag[k]!;
        byCountry[countriesOf[v]!] = byCountry[countriesOf[v]!]! + gains[v * windows + w]!;
      }
      let best: string | null = null;
      let bestViews = 0;
      byCountry.forEach((views, country) => {
        const code = countries.codes[country]!;
        if (views > bestViews || (views === bestViews && views > 0 && best !== null && compareUtf8(code, best) < 0)) {
          best = code;
          bestViews = views;
        }
      });
      byCountry.fill(0);
      return best;
    },
  };
}
