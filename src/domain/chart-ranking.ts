import { Worker } from "node:worker_threads";
import { compiledWorker } from "../lib/compiled-worker.js";
import { CHART_INDUSTRIES, CHART_SIZE, PERIODS, SERIES_PER_SLOT } from "./chart-model.js";
import { CHART_ENTRY_BYTES, writeChartEntry, type RegionDay } from "./series-codec.js";
import { TopK } from "./top-k.js";

/** What ranking the charts of some regions from `fromDay` to `lastDay` needs. */
export interface RankingInput {
  readonly fromDay: number;
  readonly lastDay: number;
  /** The data's first day: no day before it is stored. */
  readonly firstDay: number;
  /** The day of the saved windows each region starts from; without it, windows are added up from the stored days. */
  readonly savedDay?: number;
  /** By tag id: its place in the byte order of tag names, the tie-break. */
  readonly nameRank: Int32Array;
  /** By tag id: its industry's index in CHART_INDUSTRIES, 0 for none. */
  readonly industryOf: Uint8Array;
  readonly regions: readonly RegionRanking[];
}

/** One chart region's input. */
export interface RegionRanking {
  /** The stored days the windows need (those before `fromDay`, and from it to `savedDay` when restoring). */
  readonly stored: ReadonlyMap<number, RegionDay>;
  /**
   * The recomputed days, `fromDay` on (undefined: nothing on that day). Their arrays must own their
   * buffers, each day its own: a second thread takes them, and gives them back in the result.
   */
  readonly recomputed: readonly (RegionDay | undefined)[];
  /** By period index: the saved window sums on `savedDay`. */
  readonly saved: readonly (RegionDay | undefined)[];
  /** By series (period, then industry): its ranking on the day before `fromDay`, best first. */
  readonly previous: readonly Int32Array[];
  /**
   * By recomputed day, from `fromDay` on, as far as an earlier build ranked them: that build's charts by
   * series, when `stored` also holds the numbers it ranked them from (a day missing there had none).
   */
  readonly before?: readonly (readonly EarlierChart[])[];
  /** By series: the stored (tag, first day) pairs of its tags. */
  readonly firsts: readonly Int32Array[];
}

/** A chart as an earlier build stored it: its rows (see writeChartEntry) and their tags. */
export interface EarlierChart {
  readonly tags: Int32Array;
  readonly entries: Uint8Array;
}

/** One region's rankings. */
export interface RankedRegion {
  /** Every chart's rows (see writeChartEntry), day by day, then period and industry: chart k is `entries[ends[k - 1] .. ends[k]]`. */
  readonly entries: Uint8Array;
  readonly ends: Int32Array;
  /** By series: every (tag, first day) pair. */
  readonly firsts: Int32Array[];
  /** By period: the window sums on `lastDay`. */
  readonly windows: RegionDay[];
  /** The input's recomputed days, given back. */
  readonly recomputed: (RegionDay | undefined)[];
}

/**
 * Slides each region's windows across the days from `fromDay` and ranks each day's top tags for every
 * period and industry, as docs/charts.md defines them: window views, then publications, then name.
 * Each rank row carries the tag's rank the day before and whether the series never held it before.
 *
 * A day an earlier build ranked (`before`) is ranked again from that ranking: unless the window numbers of
 * one of its tags fell, the new top tags are among the old ones and the tags whose numbers changed, since
 * every other tag keeps numbers that ranked below the old top ones, which lost nothing. The old ones that
 * did not change keep their order: only the changed tags are selected, then merged with them.
 */
export function rankRegions(input: RankingInput, onRegion?: () => void): RankedRegion[] {
  return Array.from(rankEachRegion(input), (region) => (onRegion?.(), region));
}

/** The rankings of `rankRegions`, region by region. */
function* rankEachRegion(input: RankingInput): Generator<RankedRegion> {
  const { fromDay, lastDay, firstDay, savedDay, nameRank, industryOf } = input;
  const tagCount = nameRank.length;
  const charts = (lastDay - fromDay + 1) * SERIES_PER_SLOT;
  // Room for every chart of a region; each region's are then copied out at their size.
  const entryBuffer = Buffer.alloc(charts * CHART_SIZE * CHART_ENTRY_BYTES);

  let activeViews: Float64Array = new Float64Array(0);
  let activePubs: Int32Array = new Int32Array(0);
  const better = (a: number, b: number) =>
    activeViews[a]! > activeViews[b]! ||
    (activeViews[a] === activeViews[b] &&
      (activePubs[a]! > activePubs[b]! || (activePubs[a] === activePubs[b] && nameRank[a]! < nameRank[b]!)));
  const selectors = CHART_INDUSTRIES.map(() => new TopK(CHART_SIZE, better));
  /** Offers a candidate to the selection of every industry and to its own industry's. */
  const offer = (tag: number) => {
    selectors[0]!.offer(tag);
    const industry = industryOf[tag]!;
    if (industry !== 0) selectors[industry]!.offer(tag);
  };
  const changes = new DayChanges(tagCount);
  const merged = new Int32Array(CHART_SIZE);
  /**
   * The top of `changed` (best first) and of the tags of an earlier ranking that did not change since `day`,
   * in order: the earlier ranking itself when it stands.
   */
  const mergeUnchanged = (changed: Int32Array, earlier: Int32Array, day: number): Int32Array => {
    let n = 0;
    let a = 0;
    let b = 0;
    while (n < CHART_SIZE) {
      while (b < earlier.length && changes.changedSince(earlier[b]!, day)) b++;
      if (a < changed.length && (b === earlier.length || better(changed[a]!, earlier[b]!))) merged[n++] = changed[a++]!;
      else if (b < earlier.length) merged[n++] = earlier[b++]!;
      else break;
    }
    return a === 0 && n === earlier.length ? earlier : merged.slice(0, n);
  };
  // Scratch space, zero between uses: each tag's rank the day before.
  const rankOf = new Int32Array(tagCount);
  const windows = PERIODS.map(() => new SlidingWindow(tagCount));

  for (const region of input.regions) {
    const ends = new Int32Array(charts);
    let chart = 0;
    let end = 0;
    const stored = (day: number) => (day >= firstDay ? region.stored.get(day) : undefined);
    const dayOf = (day: number) => (day < fromDay ? stored(day) : region.recomputed[day - fromDay]);
    // Each window starts as the previous day's, [fromDay - period, fromDay - 1]: the first day slid over
    // adds fromDay and removes fromDay - period. Saved windows, [savedDay - period + 1, savedDay], lose the
    // stored days from fromDay to savedDay and get back the days a period before those: the same sums,
    // exactly, as views and counts are whole numbers.
    PERIODS.forEach((period, p) => {
      const window = windows[p]!;
      window.clear();
      if (savedDay === undefined) {
        for (let day = fromDay - period; day < fromDay; day++) window.addIf(stored(day));
        return;
      }
      window.addIf(region.saved[p]);
      for (let day = fromDay; day <= savedDay; day++) window.removeIf(stored(day));
      for (let day = fromDay - period; day <= savedDay - period; day++) window.addIf(stored(day));
    });
    const previous = [...region.previous];
    const firsts = region.firsts.map((pairs) => new SeriesFirsts(pairs, fromDay));
    changes.clear();
    // Ranked before, and so is every recomputed day before it: what changed in its windows is known.
    let rankedBefore = region.before !== undefined;
    // By series: whether each day so far ranked as before, so that the rows of the next day may too.
    const ranksAsBefore = new Uint8Array(SERIES_PER_SLOT).fill(1);
    for (let day = fromDay; day <= lastDay; day++) {
      const earlier = rankedBefore ? region.before![day - fromDay] : undefined;
      if (earlier) changes.note(day, stored(day), region.recomputed[day - fromDay]);
      else rankedBefore = false;
      for (let p = 0; p < PERIODS.length; p++) {
        const window = windows[p]!;
        window.addIf(dayOf(day));
        if (day - PERIODS[p]! >= firstDay) window.removeIf(dayOf(day - PERIODS[p]!));
        activeViews = window.views;
        activePubs = window.pubs;
        for (const selector of selectors) selector.reset();
        const series = p * CHART_INDUSTRIES.length;
        const since = day - PERIODS[p]! + 1;
        const warm = earlier !== undefined && !changes.fellAmong(earlier, series, selectors.length, since);
        if (warm) {
          // Only the changed tags are selected; the others keep their earlier order, merged in below.
          for (const tag of changes.since(since)) if (activeViews[tag]! > 0) offer(tag);
        } else {
          for (const tag of window.candidates()) offer(tag);
        }
        for (let i = 0; i < selectors.length; i++) {
          const s = series + i;
          const earlierChart = warm ? earlier[s]! : undefined;
          const ranked = earlierChart ? mergeUnchanged(selectors[i]!.sorted(), earlierChart.tags, since) : selectors[i]!.sorted();
          const first = firsts[s]!;
          if (earlierChart && ranked === earlierChart.tags && ranksAsBefore[s] === 1) {
            // Ranked as before, after the same rankings: the same rows, with the same tags new to the series.
            entryBuffer.set(earlierChart.entries, end);
            for (let r = 0; r < ranked.length; r++)
              if (earlierChart.entries[r * CHART_ENTRY_BYTES + 4]! >> 7 === 1) first.add(ranked[r]!, day);
            previous[s] = ranked;
            end += earlierChart.entries.length;
            ends[chart++] = end;
            continue;
          }
          ranksAsBefore[s] = 0;
          const before = previous[s]!;
          for (let r = 0; r < before.length; r++) rankOf[before[r]!] = r + 1;
          const at = entryBuffer.subarray(end, end + ranked.length * CHART_ENTRY_BYTES);
          for (let r = 0; r < ranked.length; r++) {
            const tag = ranked[r]!;
            const previousRank = rankOf[tag]!;
            // Ranked the day before, a tag has entered the series before: only the others are looked up.
            const isNew = previousRank === 0 && !first.has(tag) ? 1 : 0;
            if (isNew) first.add(tag, day);
            writeChartEntry(at, r, [tag, previousRank, isNew]);
          }
          for (let r = 0; r < before.length; r++) rankOf[before[r]!] = 0;
          previous[s] = ranked;
          end += at.length;
          ends[chart++] = end;
        }
      }
    }
    yield {
      entries: new Uint8Array(entryBuffer.subarray(0, end)),
      ends,
      firsts: firsts.map((first) => first.pairs()),
      windows: windows.map((window) => window.sums()),
      recomputed: [...region.recomputed],
    };
  }
}

/**
 * Days from which a second thread pays for itself. On a short build it costs more than it saves, even
 * started when the build begins: probably because a new thread runs its code unoptimized at first, and
 * gets a copy of the stored days it needs. Measured on a 150-day world, one more day (7 days ranked) took
 * 0.65-0.82 s on two threads against 0.49-0.53 s on one, and 0.58-0.64 s against 0.42-0.46 s with the
 * thread started as the build began; a full build ranked in 4.2-5.0 s against 7.1 s.
 */
export const SECOND_THREAD_DAYS = 30;

/**
 * Ranks the regions on this thread and, for builds of at least SECOND_THREAD_DAYS days run compiled, on
 * one more: each thread takes the regions of about half the work. The recomputed days travel to the
 * other thread and back without a copy; `onRegion` is called as each region is done, on either thread.
 * Between regions this thread lets others' work through: the other thread's progress, the build's writes.
 */
export async function rankRegionsInParallel(
  input: RankingInput,
  onRegion?: () => void,
): Promise<{ regions: RankedRegion[]; threads: number }> {
  const url = compiledWorker("./chart-ranking-worker.js", import.meta.url);
  if (!url || input.regions.length < 2 || input.lastDay - input.fromDay + 1 < SECOND_THREAD_DAYS) {
    return { regions: await rankHere(input, onRegion), threads: 1 };
  }
  const [here, there] = halves(input.regions.map((region) => region.recomputed.reduce((n, day) => n + (day?.tags.length ?? 0), 1)));
  const pick = (indexes: readonly number[]): RankingInput => ({ ...input, regions: indexes.map((i) => input.regions[i]!) });
  const theirs = rankInWorker(url, pick(there), onRegion);
  let mine: RankedRegion[];
  try {
    mine = await rankHere(pick(here), onRegion);
  } catch (error) {
    theirs.stop();
    throw error;
  }
  const other = await theirs.ranked;
  const regions: RankedRegion[] = [];
  here.forEach((i, k) => (regions[i] = mine[k]!));
  there.forEach((i, k) => (regions[i] = other[k]!));
  return { regions, threads: 2 };
}

/** Ranks the regions on this thread, letting the event loop run between them. */
async function rankHere(input: RankingInput, onRegion?: () => void): Promise<RankedRegion[]> {
  const ranked: RankedRegion[] = [];
  for (const region of rankEachRegion(input)) {
    ranked.push(region);
    onRegion?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return ranked;
}

/** Indexes of `weights` split in two groups of about equal total weight, heaviest first to the lighter group. */
function halves(weights: readonly number[]): [number[], number[]] {
  const groups: [number[], number[]] = [[], []];
  const totals = [0, 0];
  for (const i of [...weights.keys()].sort((a, b) => weights[b]! - weights[a]! || a - b)) {
    const g = totals[0]! <= totals[1]! ? 0 : 1;
    groups[g].push(i);
    totals[g]! += weights[i]!;
  }
  for (const group of groups) group.sort((a, b) => a - b);
  return groups;
}

/** Adds the buffers of `days`' columns to `buffers`, for a transfer between threads. */
export function addBuffers(buffers: Set<ArrayBufferLike>, days: Iterable<RegionDay | undefined>): void {
  for (const day of days) if (day) buffers.add(day.tags.buffer).add(day.views.buffer).add(day.pubs.buffer);
}

/** What the ranking thread says as it finishes each region. */
export const REGION_DONE = "region done";

/** Starts ranking `input` on another thread; `stop` ends it, its result unwanted. */
function rankInWorker(url: URL, input: RankingInput, onRegion?: () => void): { ranked: Promise<RankedRegion[]>; stop: () => void } {
  // The recomputed days were made for this build: they move over, and come back with the result. The
  // stored days and saved windows move over packed in one buffer.
  const { regions, buffer } = packed(input.regions);
  const moved = new Set<ArrayBufferLike>([buffer]);
  for (const region of regions) addBuffers(moved, region.recomputed);
  const worker = new Worker(url);
  const stop = () => void worker.terminate();
  const ranked = new Promise<RankedRegion[]>((resolve, reject) => {
    // A message per region done, then the rankings.
    worker.on("message", (message: typeof REGION_DONE | RankedRegion[]) => {
      if (message === REGION_DONE) return onRegion?.();
      resolve(message);
      stop();
    });
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the ranking thread stopped with exit code ${code}`)));
    try {
      worker.postMessage({ ...input, regions }, [...moved] as ArrayBuffer[]);
    } catch (error) {
      stop();
      reject(error as Error);
    }
  });
  ranked.catch(() => {}); // awaited by the caller, unless this thread's own ranking failed first
  return { ranked, stop };
}

/** The regions with their stored days and saved windows copied into one buffer, views first in each day to keep them aligned. */
function packed(regions: readonly RegionRanking[]): { regions: RegionRanking[]; buffer: ArrayBuffer } {
  let bytes = 0;
  for (const region of regions) for (const day of [...region.stored.values(), ...region.saved]) bytes += 16 * (day?.tags.length ?? 0);
  const buffer = new ArrayBuffer(bytes);
  let at = 0;
  const copy = (day: RegionDay): RegionDay => {
    const n = day.tags.length;
    const views = new Float64Array(buffer, at, n);
    const tags = new Int32Array(buffer, at + 8 * n, n);
    const pubs = new Int32Array(buffer, at + 12 * n, n);
    views.set(day.views);
    tags.set(day.tags);
    pubs.set(day.pubs);
    at += 16 * n;
    return { tags, views, pubs };
  };
  return {
    regions: regions.map((region) => ({
      ...region,
      stored: new Map([...region.stored].map(([day, data]) => [day, copy(data)])),
      saved: region.saved.map((day) => day && copy(day)),
    })),
    buffer,
  };
}

/**
 * The day each tag first entered one chart series: the stored (tag, day) pairs from before the build's
 * first day, found by a binary search of their sorted tags, and the pairs the build adds.
 */
class SeriesFirsts {
  private readonly kept: Int32Array;
  private readonly keptTags: Int32Array;
  private readonly added: number[] = [];
  private readonly addedTags = new Set<number>();

  /** Keeps the pairs of `stored` whose day is before `beforeDay`. */
  constructor(stored: Int32Array, beforeDay: number) {
    let n = 0;
    for (let i = 1; i < stored.length; i += 2) if (stored[i]! < beforeDay) n++;
    this.kept = new Int32Array(2 * n);
    this.keptTags = new Int32Array(n);
    for (let i = 0, k = 0; i < stored.length; i += 2) {
      if (stored[i + 1]! >= beforeDay) continue;
      this.kept[2 * k] = stored[i]!;
      this.kept[2 * k + 1] = stored[i + 1]!;
      this.keptTags[k++] = stored[i]!;
    }
    this.keptTags.sort();
  }

  has(tag: number): boolean {
    if (this.addedTags.has(tag)) return true;
    const tags = this.keptTags;
    let low = 0;
    let high = tags.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const found = tags[middle]!;
      if (found === tag) return true;
      if (found < tag) low = middle + 1;
      else high = middle - 1;
    }
    return false;
  }

  add(tag: number, day: number): void {
    this.added.push(tag, day);
    this.addedTags.add(tag);
  }

  /** Every pair, kept then added. */
  pairs(): Int32Array {
    const all = new Int32Array(this.kept.length + this.added.length);
    all.set(this.kept);
    all.set(this.added, this.kept.length);
    return all;
  }
}

/**
 * Which tags' numbers a build changed on the recomputed days, against the numbers an earlier build ranked
 * them from: for each tag, the last such day, and the last day its views or publish count fell.
 */
class DayChanges {
  private static readonly NEVER = -(2 ** 31);
  private readonly changedOn: Int32Array;
  private readonly fellOn: Int32Array;
  /** Tags changed on any day so far, each once. */
  private readonly changed: Int32Array;
  private changedCount = 0;
  private lastFall = DayChanges.NEVER;
  // Scratch space, zero between uses: the earlier numbers of the day being compared.
  private readonly oldViews: Float64Array;
  private readonly oldPubs: Int32Array;
  private readonly hadOld: Uint8Array;

  constructor(tagCount: number) {
    this.changedOn = new Int32Array(tagCount).fill(DayChanges.NEVER);
    this.fellOn = new Int32Array(tagCount).fill(DayChanges.NEVER);
    this.changed = new Int32Array(tagCount);
    this.oldViews = new Float64Array(tagCount);
    this.oldPubs = new Int32Array(tagCount);
    this.hadOld = new Uint8Array(tagCount);
  }

  /** Back to no changes, for the next region. */
  clear(): void {
    for (let i = 0; i < this.changedCount; i++) {
      this.changedOn[this.changed[i]!] = DayChanges.NEVER;
      this.fellOn[this.changed[i]!] = DayChanges.NEVER;
    }
    this.changedCount = 0;
    this.lastFall = DayChanges.NEVER;
  }

  /** Compares a day's numbers with those it had (undefined: none). */
  note(day: number, old: RegionDay | undefined, now: RegionDay | undefined): void {
    if (old) {
      for (let i = 0; i < old.tags.length; i++) {
        const tag = old.tags[i]!;
        this.oldViews[tag] = old.views[i]!;
        this.oldPubs[tag] = old.pubs[i]!;
        this.hadOld[tag] = 1;
      }
    }
    if (now) {
      for (let i = 0; i < now.tags.length; i++) {
        const tag = now.tags[i]!;
        const views = now.views[i]!;
        const pubs = now.pubs[i]!;
        if (this.hadOld[tag] === 0) this.change(tag, day, views < 0 || pubs < 0);
        else {
          this.hadOld[tag] = 0;
          const oldViews = this.oldViews[tag]!;
          const oldPubs = this.oldPubs[tag]!;
          if (views !== oldViews || pubs !== oldPubs) this.change(tag, day, views < oldViews || pubs < oldPubs);
        }
      }
    }
    if (old) {
      for (let i = 0; i < old.tags.length; i++) {
        const tag = old.tags[i]!;
        if (this.hadOld[tag] === 0) continue;
        this.hadOld[tag] = 0;
        this.change(tag, day, true);
      }
    }
  }

  private change(tag: number, day: number, fell: boolean): void {
    if (this.changedOn[tag] === DayChanges.NEVER) this.changed[this.changedCount++] = tag;
    this.changedOn[tag] = day;
    if (fell) {
      this.fellOn[tag] = day;
      this.lastFall = day;
    }
  }

  changedSince(tag: number, day: number): boolean {
    return this.changedOn[tag]! >= day;
  }

  /** The tags changed on a day from `day` on. */
  *since(day: number): Generator<number> {
    for (let i = 0; i < this.changedCount; i++) if (this.changedOn[this.changed[i]!]! >= day) yield this.changed[i]!;
  }

  /** Whether the numbers of a tag of `charts[series .. series + count]` fell on a day from `day` on. */
  fellAmong(charts: readonly EarlierChart[], series: number, count: number, day: number): boolean {
    if (this.lastFall < day) return false;
    for (let s = series; s < series + count; s++) for (const tag of charts[s]!.tags) if (this.fellOn[tag]! >= day) return true;
    return false;
  }
}

/** Window sums of views and publish counts per tag, and the tags whose window views are positive. */
class SlidingWindow {
  readonly views: Float64Array;
  readonly pubs: Int32Array;
  /** Tags listed as candidates, each at most once: `active[0 .. activeCount]`. */
  private readonly active: Int32Array;
  private activeCount = 0;
  private readonly listed: Uint8Array;

  constructor(tagCount: number) {
    this.views = new Float64Array(tagCount);
    this.pubs = new Int32Array(tagCount);
    this.active = new Int32Array(tagCount);
    this.listed = new Uint8Array(tagCount);
  }

  /** Back to empty, for the next region. */
  clear(): void {
    this.views.fill(0);
    this.pubs.fill(0);
    this.listed.fill(0);
    this.activeCount = 0;
  }

  add(day: RegionDay): void {
    for (let i = 0; i < day.tags.length; i++) {
      const tag = day.tags[i]!;
      this.views[tag] = this.views[tag]! + day.views[i]!;
      this.pubs[tag] = this.pubs[tag]! + day.pubs[i]!;
      if (this.views[tag]! > 0 && this.listed[tag] === 0) {
        this.listed[tag] = 1;
        this.active[this.activeCount++] = tag;
      }
    }
  }

  remove(day: RegionDay): void {
    for (let i = 0; i < day.tags.length; i++) {
      const tag = day.tags[i]!;
      this.views[tag] = this.views[tag]! - day.views[i]!;
      this.pubs[tag] = this.pubs[tag]! - day.pubs[i]!;
    }
  }

  addIf(day: RegionDay | undefined): void {
    if (day) this.add(day);
  }

  removeIf(day: RegionDay | undefined): void {
    if (day) this.remove(day);
  }

  /** The sums as a region's day: every tag whose views or publish count is not zero. */
  sums(): RegionDay {
    let n = 0;
    for (let tag = 0; tag < this.views.length; tag++) if (this.views[tag] !== 0 || this.pubs[tag] !== 0) n++;
    const sums: RegionDay = { tags: new Int32Array(n), views: new Float64Array(n), pubs: new Int32Array(n) };
    let at = 0;
    for (let tag = 0; tag < this.views.length; tag++) {
      if (this.views[tag] === 0 && this.pubs[tag] === 0) continue;
      sums.tags[at] = tag;
      sums.views[at] = this.views[tag]!;
      sums.pubs[at++] = this.pubs[tag]!;
    }
    return sums;
  }

  /** Tags with positive window views (drops the ones that fell to zero), valid until the next change. */
  candidates(): Int32Array {
    let kept = 0;
    for (let i = 0; i < this.activeCount; i++) {
      const tag = this.active[i]!;
      if (this.views[tag]! > 0) this.active[kept++] = tag;
      else this.listed[tag] = 0;
    }
    this.activeCount = kept;
    return this.active.subarray(0, kept);
  }
}
