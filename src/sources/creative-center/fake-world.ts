/**
 * The deterministic world behind the fake TikTok Creative Center: a few thousand hashtags with an
 * industry, a popularity per country and a slow day-to-day drift, from which every chart the upstream
 * serves is derived. The same seed gives the same world; any day can be asked for, in any order.
 *
 * A hashtag's daily views in a country are its base popularity there times a factor of the hashtag
 * and the day (drift, weekly rhythm, noise, occasional bursts). That split keeps every chart cheap:
 * a window's sum of factors is computed once per (day, period) and shared by every region and industry.
 */
import { INDUSTRIES, REGIONS } from "../../domain/reference-data.js";
import { SECONDS_PER_DAY } from "../../lib/days.js";
import { RecentCache } from "../../lib/recent-cache.js";
import { Rng } from "../../lib/rng.js";

/** The periods a chart can cover, in days. */
export const FAKE_PERIODS = [7, 30, 120] as const;
export type FakePeriod = (typeof FAKE_PERIODS)[number];

/** A creator shown on a chart row; shared between rows, so read-only. */
export interface FakeCreator {
  readonly handleName: string;
  readonly nickname: string;
  readonly avatarURL: string;
  readonly followedCnt: number;
}

/** One row of a chart as the world knows it; both generations of the upstream render it their way. */
export interface FakeChartRow {
  hashtagId: string;
  name: string;
  /** A first-level industry id, or null for a hashtag without one. */
  industryId: number | null;
  promoted: boolean;
  publishCnt: number;
  views: number;
  rank: number;
  creators: FakeCreator[];
  /** `day` is unix seconds at 00:00 UTC; `value` an integer 0..100, the window's peak being 100. */
  curve: { day: number; value: number }[];
}

/** One chart: day number, region index (-1 = all regions), period, industry index (-1 = nothing). */
export interface FakeChartKey {
  readonly day: number;
  readonly region: number;
  readonly period: FakePeriod;
  readonly industry: number;
}

/** The top of a chart: hashtag indices in rank order, with their views and publish counts. */
export interface FakeRanking {
  readonly hashtags: Int32Array;
  readonly views: Float64Array;
  readonly publishCnt: Float64Array;
}

/** A rendered chart: its rows and, at the same positions, the hashtag indices behind them. */
export interface FakeChart {
  readonly rows: readonly FakeChartRow[];
  readonly hashtags: Int32Array;
}

export interface FakeWorld {
  readonly hashtagCount: number;
  ranking(key: FakeChartKey): FakeRanking;
  chart(key: FakeChartKey): FakeChart;
  /** Index into REGIONS of the country where the hashtag draws the most views. */
  topCountry(hashtag: number): number;
  /** The rows of a chart whose hashtags were in none of the same chart's previous `lookback` days. */
  newOnBoard(key: FakeChartKey, lookback: number): Set<number>;
}

const HASHTAGS = 5000;
const CREATORS = 4000;
const CHART_SIZE = 100;
const TAU = 2 * Math.PI;
/** Share of hashtags known worldwide; the others live mostly in one home country. */
const GLOBAL_SHARE = 0.3;
const NO_INDUSTRY_SHARE = 0.3;
const PROMOTED_SHARE = 0.03;
/** Daily views of the most popular hashtag, all countries together; the rest follow a Zipf-like tail. */
const TOP_DAILY_VIEWS = 4e7;

/** Relative TikTok audience per country, roughly like published figures; unknown ones get 10. */
const COUNTRY_WEIGHT: Readonly<Record<string, number>> = {
  US: 136,
  ID: 110,
  BR: 90,
  MX: 70,
  VN: 60,
  PH: 50,
  TH: 45,
  TR: 35,
  EG: 30,
  SA: 25,
  JP: 25,
  GB: 23,
  DE: 22,
  FR: 22,
  IT: 20,
  CO: 20,
  ES: 18,
  AR: 18,
  MY: 18,
  CA: 12,
  KR: 10,
  AU: 10,
  ZA: 8,
  TW: 6,
  AE: 6,
  IL: 4,
  SG: 3,
};

/**
 * Words by industry id, with how common the industry is among hashtags: uneven on purpose, so that
 * small industries have charts of fewer than 100 rows, as the upstream's do.
 */
const INDUSTRY_WORDS: ReadonlyArray<readonly [number, number, string]> = [
  [10000000000, 6, "study school learn teacher math exam college science history homework student facts biology physics"],
  [11000000000, 5, "car cars carwash truck motorcycle jdm drift roadtrip supercar mechanic ev detailing offroad"],
  [12000000000, 5, "baby mom momlife toddler pregnancy newborn parenting kids dad nursery twins"],
  [13000000000, 0.8, "money finance invest stocks crypto budget savings credit sidehustle realestate taxes wealth"],
  [14000000000, 10, "makeup skincare hair nails lipstick glowup beauty serum perfume lashes haircare skin"],
  [15000000000, 6, "tech iphone android gadget setup pc coding ai laptop smartphone keyboard"],
  [17000000000, 6, "travel beach hotel vacation trip flight island explore wanderlust resort"],
  [18000000000, 2, "clean cleaning laundry organize organization restock declutter storage dishes"],
  [19000000000, 6, "cat dog puppy kitten pet hamster parrot bunny pets doggo catlover"],
  [21000000000, 5, "diy renovation interior decor garden woodworking paint furniture homedecor tiles plants"],
  [22000000000, 8, "fashion outfit ootd sneakers streetwear dress style jeans thrift fitcheck shoes"],
  [23000000000, 12, "news movie series kpop anime celebrity music concert drama comedy meme film"],
  [24000000000, 1, "business marketing entrepreneur smallbusiness startup sales branding office career"],
  [25000000000, 7, "gaming minecraft fortnite roblox gamer esports speedrun nintendo playstation"],
  [26000000000, 1.2, "wedding barber tattoo salon delivery dentist repair photography plumber haircut"],
  [27000000000, 11, "food recipe cooking foodie pasta coffee baking ramen bbq dessert pizza sushi mukbang snack airfryer"],
  [28000000000, 8, "football soccer nba gym running hiking surf golf tennis boxing basketball cricket"],
  [29000000000, 6, "health fitness yoga workout wellness mentalhealth nutrition sleep weightloss therapy"],
];
const GENERAL_WORDS =
  "love life vibes funny dance happy night summer winter morning friends couple story pov trend challenge random aesthetic cute girl boy sad mood weekend party sunset city art asmr satisfying relatable dream magic moon star sun rain chill cozy retro wild sweet spicy golden pink blue green holiday christmas halloween spring autumn birthday sister brother bestie vlog prank duet transition lipsync glow soft cottage dark y2k".split(
    " ",
  );
const SUFFIXES =
  "tok life vibes time check hacks tips lover lovers day challenge core club goals daily routine haul tutorial review inspo ideas era season edit squad world vlog".split(
    " ",
  );
const PREFIXES =
  "my daily diy asmr mini best easy quick summer winter late cozy budget healthy homemade real pro lazy tiny vintage weekend new".split(
    " ",
  );

const FIRST_NAMES =
  "maria jake emma liam sofia noah mia lucas chloe mateo ana leo yuki minji ayesha omar fatima ali ines hugo lena finn giulia marco lucia pablo camila diego nina ivan aisha hana tom grace".split(
    " ",
  );
const LAST_NAMES =
  "lopez miller smith garcia rossi muller martin silva tanaka kim khan hassan santos nguyen dubois schmidt rivera cruz reyes".split(" ");
const HANDLE_WORDS = "daily the real its official mr miss chef coach lady king queen vibes world life studio club".split(" ");
const EMOJIS = ["🌸", "✨", "💕", "🔥", "😎", "🦋", "🍓", "⚽", "🎮", "💫", "🌙", "👑"];
const AVATAR_BASES = [
  "https://p16-sign.tiktokcdn-us.com/tos-useast5-avt-0068-tx/",
  "https://p19-sign.tiktokcdn-us.com/tos-useast5-avt-0068-tx/",
  "https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/",
  "https://p16-sign-sg.tiktokcdn.com/tos-alisg-avt-0068/",
];

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A stateless hash of three integers to [0, 1): per-day quantities need no stream to replay. */
function unit(a: number, b: number, c: number): number {
  return mix32(mix32(mix32(a) ^ b) ^ Math.imul(c, 0x9e3779b9)) / 4_294_967_296;
}

/** Index into `weights` drawn in proportion to them. */
function weightedPick(rng: Rng, weights: readonly number[], total: number): number {
  let u = rng.float() * total;
  for (let i = 0; i < weights.length; i++) {
    u -= weights[i]!;
    if (u < 0) return i;
  }
  return weights.length - 1;
}

function makeName(rng: Rng, words: readonly string[]): string {
  const word = rng.pick(words);
  const u = rng.float();
  if (u < 0.3) return word + rng.pick(SUFFIXES);
  if (u < 0.5) return rng.pick(PREFIXES) + word;
  if (u < 0.75) {
    const other = rng.pick(words);
    return other === word ? word + rng.pick(SUFFIXES) : word + other;
  }
  if (u < 0.88) return word + rng.pick(GENERAL_WORDS);
  if (u < 0.94) return word + String(rng.int(2019, 2026));
  if (u < 0.97) return word + "oftiktok";
  return word;
}

function makeCreator(rng: Rng): FakeCreator {
  const first = rng.pick(FIRST_NAMES);
  const last = rng.pick(LAST_NAMES);
  const u = rng.float();
  const handleName =
    u < 0.3
      ? `${first}.${last}${rng.int(1, 99)}`
      : u < 0.6
        ? `${rng.pick(HANDLE_WORDS)}_${first}`
        : u < 0.85
          ? `${first}${last}`
          : `${first}_${rng.hex(4)}`;
  const v = rng.float();
  const nickname =
    v < 0.4
      ? `${first[0]!.toUpperCase()}${first.slice(1)} ${last[0]!.toUpperCase()}${last.slice(1)}`
      : v < 0.7
        ? `${first} ${rng.pick(EMOJIS)}`
        : handleName;
  // Avatar URLs are signed and expire upstream; only their look matters here.
  const avatarURL = `${rng.pick(AVATAR_BASES)}${rng.hex(32)}~c5_100x100.jpeg?lk3s=a5d48078&x-expires=${1_770_000_000 + rng.int(0, 999_999)}&x-signature=${rng.hex(27)}%3D`;
  const followedCnt = Math.min(80_000_000, Math.floor(1000 * Math.pow(1 - rng.float(), -1 / 0.7)));
  return { handleName, nickname, avatarURL, followedCnt };
}

/** Builds the world of a seed (about 0.1 s); its caches stay under about 100 MB. */
export function createFakeWorld(seed: number): FakeWorld {
  const rng = new Rng(seed, 1);
  const N = HASHTAGS;
  const C = REGIONS.length;
  const seedHash = mix32(seed ^ 0x51ed270b) ^ Math.floor(seed / 4_294_967_296);

  const names: string[] = [];
  const ids: string[] = [];
  const industry = new Int8Array(N).fill(-1);
  const promoted = new Uint8Array(N);
  const base = new Float64Array(C * N);
  const baseTotal = new Float64Array(N);
  const topCountry = new Int8Array(N);
  const viewsPerVideo = new Float64Array(N);
  const creatorsOf: FakeCreator[][] = [];

  const industryWeights = INDUSTRIES.map((ind) => INDUSTRY_WORDS.find(([id]) => id === ind.id)?.[1] ?? 1);
  const industryWordLists = INDUSTRIES.map((ind) => (INDUSTRY_WORDS.find(([id]) => id === ind.id)?.[2] ?? "trend").split(" "));
  const industryTotal = industryWeights.reduce((a, b) => a + b, 0);
  const countryWeights = REGIONS.map((r) => COUNTRY_WEIGHT[r.id] ?? 10);
  const countryTotal = countryWeights.reduce((a, b) => a + b, 0);

  const creatorRng = new Rng(seed, 2);
  const creators = Array.from({ length: CREATORS }, () => makeCreator(creatorRng));

  // Popularity ranks are shuffled so that a hashtag's name and industry say nothing about its size.
  const popularityRank = Int32Array.from({ length: N }, (_, i) => i + 1);
  for (let i = N - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [popularityRank[i], popularityRank[j]] = [popularityRank[j]!, popularityRank[i]!];
  }

  const seenNames = new Set<string>();
  const seenIds = new Set<string>();
  for (let h = 0; h < N; h++) {
    const ind = rng.float() < NO_INDUSTRY_SHARE ? -1 : weightedPick(rng, industryWeights, industryTotal);
    industry[h] = ind;
    const words = ind < 0 ? GENERAL_WORDS : industryWordLists[ind]!;
    let name = makeName(rng, words);
    for (let attempt = 0; seenNames.has(name) || name.length > 30; attempt++) {
      name = attempt < 20 ? makeName(rng, words) : makeName(rng, GENERAL_WORDS) + String(rng.int(1, 999));
    }
    seenNames.add(name);
    names.push(name);

    let id = "";
    do
      id =
        String(rng.int(6, 7)) + rng.int(0, 999_999_999).toString().padStart(9, "0") + rng.int(0, 999_999_999).toString().padStart(9, "0");
    while (seenIds.has(id));
    seenIds.add(id);
    ids.push(id);

    promoted[h] = rng.float() < PROMOTED_SHARE ? 1 : 0;
    const daily = (TOP_DAILY_VIEWS / Math.pow(popularityRank[h]!, 0.95)) * Math.exp(0.3 * rng.normal()) * (promoted[h] ? 1.5 : 1);
    if (rng.float() < GLOBAL_SHARE) {
      for (let c = 0; c < C; c++) base[c * N + h] = ((daily * countryWeights[c]!) / countryTotal) * Math.exp(0.4 * rng.normal());
    } else {
      const home = weightedPick(rng, countryWeights, countryTotal);
      base[home * N + h] = daily * 0.85;
      for (let c = 0; c < C; c++) {
        if (c !== home && rng.float() < 0.7)
          base[c * N + h] = ((daily * 0.15 * countryWeights[c]!) / countryTotal) * Math.exp(0.6 * rng.normal());
      }
    }
    let best = 0;
    for (let c = 0; c < C; c++) {
      baseTotal[h] = baseTotal[h]! + base[c * N + h]!;
      if (base[c * N + h]! > base[best * N + h]!) best = c;
    }
    topCountry[h] = best;
    viewsPerVideo[h] = 800 * Math.exp(rng.between(0, 4));
    const u = rng.float();
    const creatorCount = u < 0.01 ? 0 : u < 0.03 ? 1 : u < 0.08 ? 2 : 3;
    const mine = new Set<FakeCreator>();
    while (mine.size < creatorCount) mine.add(rng.pick(creators));
    creatorsOf.push([...mine].sort((a, b) => b.followedCnt - a.followedCnt));
  }

  // The drift of each hashtag: two slow waves, a weekly rhythm, and for some, bursts that bring them
  // from the tail into the charts for a week or two.
  const a1 = new Float64Array(N);
  const p1 = new Float64Array(N);
  const f1 = new Float64Array(N);
  const a2 = new Float64Array(N);
  const p2 = new Float64Array(N);
  const f2 = new Float64Array(N);
  const weekly = new Float64Array(N);
  const fw = new Float64Array(N);
  const burstCycle = new Float64Array(N);
  const burstOffset = new Float64Array(N);
  for (let h = 0; h < N; h++) {
    a1[h] = rng.between(0.2, 0.7);
    p1[h] = rng.between(40, 240);
    f1[h] = rng.between(0, TAU);
    a2[h] = rng.between(0.03, 0.15);
    p2[h] = rng.between(20, 60);
    f2[h] = rng.between(0, TAU);
    weekly[h] = rng.between(0, 0.15);
    fw[h] = rng.between(0, TAU);
    if (rng.float() < 0.2) {
      burstCycle[h] = rng.between(40, 160);
      burstOffset[h] = rng.between(0, 1000);
    }
  }

  function burst(h: number, day: number): number {
    const cycle = burstCycle[h]!;
    const t = day + burstOffset[h]!;
    const k = Math.floor(t / cycle);
    let sum = 0;
    for (let j = k - 1; j <= k + 1; j++) {
      if (unit(seedHash ^ h, j, 1) >= 0.5) continue;
      const peak = (j + unit(seedHash ^ h, j, 2)) * cycle;
      const width = 2 + 6 * unit(seedHash ^ h, j, 3);
      const r = unit(seedHash ^ h, j, 4);
      sum += (1 + 30 * r * r) * Math.exp(-((t - peak) ** 2) / (2 * width * width));
    }
    return sum;
  }

  function computeFactors(day: number): Float64Array {
    const out = new Float64Array(N);
    const weekPhase = (TAU * day) / 7;
    for (let h = 0; h < N; h++) {
      const wave = a1[h]! * Math.sin((TAU * day) / p1[h]! + f1[h]!) + a2[h]! * Math.sin((TAU * day) / p2[h]! + f2[h]!);
      let v = Math.exp(wave) * (1 + weekly[h]! * Math.sin(weekPhase + fw[h]!)) * (0.97 + 0.06 * unit(seedHash ^ h, day, 0));
      if (burstCycle[h]! > 0) v *= 1 + burst(h, day);
      out[h] = v;
    }
    return out;
  }

  const factorCache = new RecentCache<Float64Array>(256);
  function factors(day: number): Float64Array {
    let f = factorCache.get(day);
    if (!f) {
      f = computeFactors(day);
      factorCache.set(day, f);
    }
    return f;
  }

  const windowCache = new RecentCache<Float64Array>(128);
  function windowSum(day: number, period: FakePeriod): Float64Array {
    const key = day * 4 + FAKE_PERIODS.indexOf(period);
    let sum = windowCache.get(key);
    if (!sum) {
      sum = new Float64Array(N);
      for (let d = day - period + 1; d <= day; d++) {
        const f = factors(d);
        for (let h = 0; h < N; h++) sum[h] = sum[h]! + f[h]!;
      }
      windowCache.set(key, sum);
    }
    return sum;
  }

  const candidates: Int32Array[] = INDUSTRIES.map((_, i) => Int32Array.from(industry.keys()).filter((h) => industry[h] === i));
  const everyHashtag = Int32Array.from({ length: N }, (_, h) => h);

  const keyOf = (key: FakeChartKey) => ((key.day * 4 + FAKE_PERIODS.indexOf(key.period)) * 64 + key.region + 1) * 64 + key.industry + 1;

  const rankingCache = new RecentCache<FakeRanking>(4096);
  const scratchViews = new Float64Array(N);
  const scratchSorted = new Float64Array(N);

  function computeRanking(key: FakeChartKey): FakeRanking {
    const sum = windowSum(key.day, key.period);
    const list = key.industry < 0 ? everyHashtag : candidates[key.industry]!;
    const offset = key.region * N;
    let count = 0;
    for (const h of list) {
      const b = key.region < 0 ? baseTotal[h]! : base[offset + h]!;
      const v = Math.round(sum[h]! * b);
      if (v >= 1) {
        scratchViews[h] = v;
        scratchSorted[count++] = v;
      } else scratchViews[h] = 0;
    }
    // Only the hashtags at or above the 100th largest views need the full comparison.
    let threshold = 1;
    if (count > CHART_SIZE) {
      const sorted = scratchSorted.subarray(0, count).sort();
      threshold = sorted[count - CHART_SIZE]!;
    }
    const top: number[] = [];
    for (const h of list) if (scratchViews[h]! >= threshold) top.push(h);
    const publish = (h: number) => Math.max(1, Math.round(scratchViews[h]! / viewsPerVideo[h]!));
    top.sort(
      (x, y) =>
        scratchViews[y]! - scratchViews[x]! || publish(y) - publish(x) || (names[x]! < names[y]! ? -1 : names[x]! > names[y]! ? 1 : 0),
    );
    const n = Math.min(CHART_SIZE, top.length);
    const ranking: FakeRanking = { hashtags: new Int32Array(n), views: new Float64Array(n), publishCnt: new Float64Array(n) };
    for (let i = 0; i < n; i++) {
      const h = top[i]!;
      ranking.hashtags[i] = h;
      ranking.views[i] = scratchViews[h]!;
      ranking.publishCnt[i] = publish(h);
    }
    return ranking;
  }

  function ranking(key: FakeChartKey): FakeRanking {
    const k = keyOf(key);
    let r = rankingCache.get(k);
    if (!r) {
      r = computeRanking(key);
      rankingCache.set(k, r);
    }
    return r;
  }

  function curve(h: number, day: number, period: FakePeriod): { day: number; value: number }[] {
    const amounts: { day: number; amount: number }[] = [];
    if (period === 120) {
      const first = day - period + 1;
      for (let end = day - 7 * Math.floor((period - 1) / 7); end <= day; end += 7) {
        const start = Math.max(end - 6, first);
        let amount = 0;
        for (let d = start; d <= end; d++) amount += factors(d)[h]!;
        amounts.push({ day: start, amount });
      }
    } else {
      for (let d = day - period + 1; d <= day; d++) amounts.push({ day: d, amount: factors(d)[h]! });
    }
    const peak = amounts.reduce((m, a) => Math.max(m, a.amount), 0);
    return amounts.map((a) => ({ day: a.day * SECONDS_PER_DAY, value: peak > 0 ? Math.round((a.amount / peak) * 100) : 0 }));
  }

  const chartCache = new RecentCache<FakeChart>(64);
  function chart(key: FakeChartKey): FakeChart {
    const k = keyOf(key);
    let rendered = chartCache.get(k);
    if (!rendered) {
      const r = ranking(key);
      const rows: FakeChartRow[] = [];
      for (let i = 0; i < r.hashtags.length; i++) {
        const h = r.hashtags[i]!;
        const ind = industry[h]!;
        rows.push({
          hashtagId: ids[h]!,
          name: names[h]!,
          industryId: ind < 0 ? null : INDUSTRIES[ind]!.id,
          promoted: promoted[h] === 1,
          publishCnt: r.publishCnt[i]!,
          views: r.views[i]!,
          rank: i + 1,
          creators: creatorsOf[h]!,
          curve: curve(h, key.day, key.period),
        });
      }
      rendered = { rows, hashtags: r.hashtags };
      chartCache.set(k, rendered);
    }
    return rendered;
  }

  function newOnBoard(key: FakeChartKey, lookback: number): Set<number> {
    const seen = new Set<number>();
    for (let d = key.day - lookback; d < key.day; d++) for (const h of ranking({ ...key, day: d }).hashtags) seen.add(h);
    return new Set([...ranking(key).hashtags].filter((h) => !seen.has(h)));
  }

  return {
    hashtagCount: N,
    ranking,
    chart,
    topCountry: (h) => topCountry[h]!,
    newOnBoard,
  };
}
