import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { CHART_INDUSTRIES, CHART_REGIONS, PERIODS } from "../src/domain/chart-model.js";
import type { CatalogEntry, ObservationRecord } from "../src/domain/observation.js";
import { readGainsRange, type VideoGains } from "../src/domain/engine-gains.js";
import type { InputRecord } from "../src/sources/record-file.js";
import { createTestContext, createTestContexts, TEST_DATABASES, type TestContext } from "./databases.js";
import { referenceCharts } from "./reference-engine.js";

/** Six days before a boundary of the engine's 16-day series blocks, so that worlds straddle one. */
const BASE_DAY = 20_474;
const DAY = 86_400;
const TAGS = ["clean", "Clean", "#carwash", "food", "fyp", "cats", "ünïcode", "zz", "aa"];
const REGIONS = ["US", "GB", "uk", "FR", "NG", "us"];
const USERS = ["becky", "Gordon", "micaela", "zed", "ana"];
const INDUSTRIES_USED = [11000000000, 27000000000, 19000000000];

interface World {
  records: ObservationRecord[];
  catalog: CatalogEntry[];
}

/** Small random worlds: a few videos seen a few times each over up to 16 days (longer than a 7-day window), with duplicates. */
const worldArbitrary: fc.Arbitrary<World> = fc
  .record({
    span: fc.integer({ min: 1, max: 16 }),
    videos: fc.array(
      fc.record({
        region: fc.constantFrom(...REGIONS),
        tags: fc.uniqueArray(fc.constantFrom(...TAGS), { maxLength: 4 }),
        user: fc.constantFrom(...USERS),
        createOffset: fc.integer({ min: 0, max: 16 * DAY - 1 }),
        observations: fc.array(
          fc.record({
            after: fc.integer({ min: 0, max: 16 * DAY }),
            views: fc.integer({ min: 0, max: 2000 }),
            nick: fc.option(fc.constantFrom("Becky Mae", "G", "mica 🌸"), { nil: undefined }),
            avatar: fc.option(fc.constantFrom("https://a.example/1.png", "https://a.example/2.png"), { nil: undefined }),
            retag: fc.option(fc.uniqueArray(fc.constantFrom(...TAGS), { maxLength: 3 }), { nil: undefined }),
            duplicate: fc.option(fc.integer({ min: 0, max: 2000 }), { nil: undefined }),
          }),
          { minLength: 1, maxLength: 5 },
        ),
      }),
      { minLength: 1, maxLength: 14 },
    ),
    catalog: fc.uniqueArray(
      fc.record({
        name: fc.constantFrom(...TAGS),
        industry: fc.option(fc.constantFrom(...INDUSTRIES_USED), { nil: null }),
        promoted: fc.boolean(),
      }),
      { selector: (c) => c.name.replace("#", "").toLowerCase(), maxLength: 6 },
    ),
  })
  .map(({ span, videos, catalog }) => {
    const start = BASE_DAY * DAY;
    const end = start + span * DAY - 1;
    const records: ObservationRecord[] = [];
    videos.forEach((video, v) => {
      const id = String(7_300_000_000_000_000_000n + BigInt(v * 7919));
      const createTime = start + (video.createOffset % (span * DAY));
      for (const o of video.observations) {
        const observedAt = Math.min(end, createTime + o.after);
        const record: ObservationRecord = {
          id,
          create_time: createTime,
          region_code: video.region,
          hashtag_names: o.retag ?? video.tags,
          username: video.user,
          view_count: o.views,
          observed_at: observedAt,
          ...(o.nick === undefined ? {} : { nick_name: o.nick }),
          ...(o.avatar === undefined ? {} : { avatar_url: o.avatar }),
        };
        records.push(record);
        if (o.duplicate !== undefined) records.push({ ...record, view_count: o.duplicate });
      }
    });
    return {
      records,
      catalog: catalog.map((c, i) => ({
        hashtag_name: c.name,
        hashtag_id: String(1000 + i),
        industry_id: c.industry,
        is_promoted: c.promoted,
      })),
    };
  });

async function* asInput(values: readonly unknown[]): AsyncGenerator<InputRecord> {
  let line = 0;
  for (const value of values) yield { line: ++line, value };
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Every chart the engine serves for the world's days, as the API would print it. */
async function allCharts(context: TestContext, firstDay: number, lastDay: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let day = firstDay; day <= lastDay; day++) {
    for (const region of CHART_REGIONS.filter((r) => ["US", "GB", "FR", "JP", "all_regions"].includes(r))) {
      for (const period of PERIODS) {
        for (const industry of CHART_INDUSTRIES.filter((i) => ["nothing", "10000000000", ...INDUSTRIES_USED.map(String)].includes(i))) {
          const chart = await context.charts.getChart({ region, period, industry, asOf: day });
          out.set(`${day}|${region}|${period}|${industry}`, JSON.stringify(chart));
        }
      }
    }
  }
  return out;
}

function expectedCharts(world: World, keys: Iterable<string>): Map<string, string> {
  const reference = referenceCharts(world.records, world.catalog);
  const out = new Map<string, string>();
  for (const key of keys) {
    const chart = reference.charts.get(key)!;
    out.set(
      key,
      JSON.stringify({
        as_of: chart.as_of,
        window_start: chart.window_start,
        window_end: chart.window_end,
        total: chart.total,
        list: chart.list,
      }),
    );
  }
  return out;
}

function dataSpan(world: World): { first: number; last: number } {
  const days = world.records.map((r) => Math.floor(r.observed_at / DAY));
  return { first: Math.min(...days), last: Math.max(...days) };
}

for (const database of TEST_DATABASES) {
  describe.skipIf(!database.enabled)(`trend engine on ${database.name}`, () => {
    let context: TestContext | undefined;
    /** Disposes of the test's database, or of the one a failed run of a property left behind. */
    const release = async () => {
      await context?.dispose();
      context = undefined;
    };
    afterEach(release);
    /** A new database; the one a failed run of a property left behind goes first. */
    const fresh = async (): Promise<TestContext> => {
      await release();
      return createTestContext(database.name);
    };

    it("computes the same charts as the reference implementation, whatever the batching and order", async () => {
      await fc.assert(
        fc.asyncProperty(worldArbitrary, fc.integer({ min: 1, max: 40 }), fc.nat(), async (world, batchSize, seed) => {
          context = await fresh();
          await context.ingest.ingestCatalog(asInput(world.catalog));
          await context.ingest.ingestObservations(asInput(shuffled(world.records, seed)), { batchSize });
          await context.engine.build();
          const { first, last } = dataSpan(world);
          const actual = await allCharts(context, first, last);
          expect(actual).toEqual(expectedCharts(world, actual.keys()));
          await release();
        }),
        { numRuns: database.name === "SQLite" ? 25 : 8 },
      );
    }, 300_000);

    it("finds the latest day's top creators from its in-memory index as from the observations", async () => {
      await fc.assert(
        fc.asyncProperty(worldArbitrary, async (world) => {
          context = await fresh();
          await context.ingest.ingestCatalog(asInput(world.catalog));
          await context.ingest.ingestObservations(asInput(world.records));
          await context.engine.build();
          const { last } = dataSpan(world);
          const charts = () =>
            Promise.all(
              CHART_REGIONS.flatMap((region) =>
                PERIODS.map((period) => context!.charts.getChartRows({ region, period, industry: "nothing", asOf: last })),
              ),
            );
          const fromObservations = await charts();
          await context.charts.indexCreators();
          expect(await charts()).toEqual(fromObservations);
          await release();
        }),
        { numRuns: database.name === "SQLite" ? 20 : 5 },
      );
    }, 300_000);

    it("breaks a tie between countries, and between creators, by code and by name, from the index as from the observations", async () => {
      context = await fresh();
      const at = (BASE_DAY + 1) * DAY;
      const video = (id: string, region: string, username: string): ObservationRecord => ({
        id,
        create_time: at - 3600,
        region_code: region,
        hashtag_names: ["tie"],
        username,
        view_count: 500,
        observed_at: at,
      });
      await context.ingest.ingestObservations(asInput([video("1", "US", "zed"), video("2", "FR", "ana"), video("3", "GB", "mia")]));
      await context.engine.build();
      const row = async () => (await context!.charts.getChartRows({ region: "all_regions", period: 7, industry: "nothing" })).rows[0]!.item;
      for (const indexed of [false, true]) {
        if (indexed) await context.charts.indexCreators();
        const item = await row();
        expect(item.country_info.id).toBe("FR");
        expect(item.creators.map((c) => c.nick_name)).toEqual(["ana", "mia", "zed"]);
      }
    });

    it("reads the same gains in two halves of the videos as in one pass", async () => {
      await fc.assert(
        fc.asyncProperty(worldArbitrary, fc.nat(), async (world, split) => {
          context = await fresh();
          await context.ingest.ingestObservations(asInput(world.records));
          const whole = await readGainsRange(context.database);
          const ids = [...new Set(world.records.map((r) => r.id))].sort();
          const middle = ids[split % ids.length]!;
          const halves = [
            await readGainsRange(context.database, { below: middle }),
            await readGainsRange(context.database, { from: middle }),
          ];
          // Parts in video-id order, joined: video indexes continue from one part to the next.
          const byVideo = (parts: VideoGains[]) =>
            parts.flatMap((g) =>
              Array.from({ length: g.videoCount }, (_, v) => [
                g.countries[g.videoCountry[v]!],
                g.videoCreateDay[v],
                [...g.videoTags.subarray(g.videoTagStart[v], g.videoTagStart[v + 1])],
              ]),
            );
          const gains = (parts: VideoGains[]) => {
            let first = 0;
            return parts.flatMap((g) => {
              const rows = Array.from(g.gainVideo, (v, i) => [first + v, g.gainDay[i], g.gainViews[i]]);
              first += g.videoCount;
              return rows;
            });
          };
          expect(byVideo(halves)).toEqual(byVideo([whole]));
          expect(gains(halves)).toEqual(gains([whole]));
          expect(halves[0]!.observations + halves[1]!.observations).toBe(whole.observations);
          await release();
        }),
        { numRuns: 20 },
      );
    });

    it("counts late views from where each video stood before their day: from its row when it was last seen that day, from its observations when seen later", async () => {
      const at = (day: number, hour: number) => (BASE_DAY + day) * DAY + hour * 3_600;
      const observation = (id: string, tag: string, day: number, hour: number, views: number): ObservationRecord => ({
        id,
        create_time: at(0, 0),
        region_code: "US",
        hashtag_names: [tag],
        username: "becky",
        view_count: views,
        observed_at: at(day, hour),
      });
      const later = "7300000000000000001";
      const sameDay = "7300000000000000002";
      const onTime = [
        observation(later, "fyp", 0, 1, 100),
        observation(later, "fyp", 1, 1, 300),
        observation(later, "fyp", 2, 1, 500),
        observation(sameDay, "cats", 0, 1, 200),
        observation(sameDay, "cats", 1, 1, 250),
      ];
      // Late, for day 1: one video was last seen on day 2, the other on day 1.
      const late = [observation(later, "fyp", 1, 5, 400), observation(sameDay, "cats", 1, 5, 260)];
      context = await fresh();
      for (let day = 0; day <= 2; day++) {
        await context.ingest.ingestObservations(
          asInput(onTime.filter((r) => r.observed_at < at(day + 1, 0) && r.observed_at >= at(day, 0))),
        );
        await context.engine.build();
      }
      await context.ingest.ingestObservations(asInput(late));
      const build = await context.engine.build();
      expect(build.fromDay).toBe(BASE_DAY + 1);
      const world = { records: [...onTime, ...late], catalog: [] };
      const charts = await allCharts(context, BASE_DAY, BASE_DAY + 2);
      expect(charts).toEqual(expectedCharts(world, charts.keys()));
    });

    it("moves the views of videos that change hashtags, country or publication time, reading only the new day", async () => {
      const revision = fc.record({
        video: fc.nat(),
        tags: fc.uniqueArray(fc.constantFrom(...TAGS), { maxLength: 3 }),
        region: fc.constantFrom(...REGIONS),
        earlier: fc.integer({ min: 0, max: 3 * DAY }),
        views: fc.integer({ min: 0, max: 3000 }),
      });
      await fc.assert(
        fc.asyncProperty(worldArbitrary, fc.array(revision, { minLength: 1, maxLength: 4 }), async (world, revisions) => {
          context = await fresh();
          await context.ingest.ingestCatalog(asInput(world.catalog));
          await context.ingest.ingestObservations(asInput(world.records));
          await context.engine.build();
          // One more day brings new attributes for some videos, each seen again at noon.
          const { last } = dataSpan(world);
          const ids = [...new Set(world.records.map((r) => r.id))];
          const latest = new Map(world.records.map((r) => [r.id, r]));
          const edits = revisions.map(({ video, tags, region, earlier, views }): ObservationRecord => {
            const record = latest.get(ids[video % ids.length]!)!;
            return {
              ...record,
              hashtag_names: tags,
              region_code: region,
              create_time: record.create_time - earlier,
              view_count: views,
              observed_at: (last + 1) * DAY + DAY / 2,
            };
          });
          const revised = { ...world, records: [...world.records, ...edits] };
          await context.ingest.ingestObservations(asInput(edits));
          const build = await context.engine.build();
          const span = dataSpan(revised);
          // Unless a publication moved to the data's first day, which rebuilds everything.
          if (build.fromDay! > span.first) expect(build.observations).toBe(new Set(edits.map((e) => e.id)).size);
          const incremental = await allCharts(context, span.first, span.last);
          expect(incremental).toEqual(expectedCharts(revised, incremental.keys()));
          await context.engine.build({ full: true });
          expect(await allCharts(context, span.first, span.last)).toEqual(incremental);
          await release();
        }),
        { numRuns: database.name === "SQLite" ? 15 : 5 },
      );
    }, 300_000);

    it("slides the window sums it saved forward day by day, and rolls them back for late data, as when it adds the windows up", async () => {
      // Videos first seen on their publication day and then daily: every day's build starts from the
      // day before, where the window sums saved by the last build apply (unless removed).
      interface Video {
        region: string;
        tags: string[];
        publishedDay: number;
        views: number[];
      }
      const video: fc.Arbitrary<Video> = fc.record({
        region: fc.constantFrom(...REGIONS),
        tags: fc.uniqueArray(fc.constantFrom(...TAGS), { minLength: 1, maxLength: 3 }),
        publishedDay: fc.nat({ max: 11 }),
        views: fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 9 }),
      });
      const toRecords = (videos: readonly Video[], idBase: number, firstDay: number) =>
        videos.flatMap((v, i) =>
          v.views.map((views, k): ObservationRecord => ({
            id: String(7_400_000_000_000_000_000n + BigInt((idBase + i) * 104_729)),
            create_time: (firstDay + v.publishedDay) * DAY + 3_600,
            region_code: v.region,
            hashtag_names: v.tags,
            username: USERS[i % USERS.length]!,
            view_count: views,
            observed_at: (firstDay + v.publishedDay + k) * DAY + 7_200,
          })),
        );
      await fc.assert(
        fc.asyncProperty(
          fc.array(video, { minLength: 1, maxLength: 12 }),
          fc.array(video, { minLength: 1, maxLength: 3 }),
          fc.boolean(),
          async (videos, lateVideos, withoutSaved) => {
            context = await fresh();
            const records = toRecords(videos, 0, BASE_DAY);
            const { first, last } = dataSpan({ records, catalog: [] });
            for (let day = first; day <= last; day++) {
              const today = records.filter((r) => Math.floor(r.observed_at / DAY) === day);
              await context.ingest.ingestObservations(asInput(today));
              // Without them (as after an upgrade), the build adds the windows up from the stored days.
              if (withoutSaved) await context.database.db.deleteFrom("chart_windows").execute();
              const build = await context.engine.build();
              if (today.length > 0 && day > first) expect(build.fromDay).toBeGreaterThan(first);
            }
            const daily = await allCharts(context, first, last);
            expect(daily).toEqual(expectedCharts({ records, catalog: [] }, daily.keys()));
            // Videos published on the second day arrive at the end: more than a week is rolled back.
            const late = toRecords(
              lateVideos.map((v) => ({ ...v, publishedDay: 1, views: v.views.slice(0, 2) })),
              videos.length,
              first,
            );
            const world = { records: [...records, ...late], catalog: [] };
            await context.ingest.ingestObservations(asInput(late));
            if (withoutSaved) await context.database.db.deleteFrom("chart_windows").execute();
            // The build starts from the rankings it stored, day by day: one missing, of a day it recomputes
            // (from the second on), stops it there.
            await context.database.db
              .deleteFrom("charts")
              .where("day", "=", Math.max(first + 1, last - 2))
              .where("region", "=", "US")
              .where("period", "=", 7)
              .where("industry", "=", "nothing")
              .execute();
            await context.engine.build();
            const span = dataSpan(world);
            const incremental = await allCharts(context, span.first, span.last);
            expect(incremental).toEqual(expectedCharts(world, incremental.keys()));
            await release();
          },
        ),
        { numRuns: database.name === "SQLite" ? 6 : 3 },
      );
    }, 300_000);

    it("gives byte-identical charts when data arrives day by day, late, or twice", async () => {
      await fc.assert(
        fc.asyncProperty(worldArbitrary, fc.nat(), async (world, seed) => {
          context = await fresh();
          await context.ingest.ingestCatalog(asInput(world.catalog));
          const { first, last } = dataSpan(world);
          const records = shuffled(world.records, seed);
          // Most records arrive on their day; every fifth arrives at the very end, late.
          const late = records.filter((_, i) => i % 5 === 0);
          const onTime = records.filter((_, i) => i % 5 !== 0);
          for (let day = first; day <= last; day++) {
            const today = onTime.filter((r) => Math.floor(r.observed_at / DAY) === day);
            await context.ingest.ingestObservations(asInput(today), { batchSize: 7 });
            await context.engine.build();
          }
          // Each of those builds recomputed only its new day, keeping what came before.
          if (onTime.length > 0) {
            const span = dataSpan({ ...world, records: onTime });
            const daily = await allCharts(context, span.first, span.last);
            expect(daily).toEqual(expectedCharts({ ...world, records: onTime }, daily.keys()));
          }
          await context.ingest.ingestObservations(asInput(late));
          await context.engine.build();
          await context.ingest.ingestObservations(asInput(records), { batchSize: 3 });
          await context.engine.build();
          const incremental = await allCharts(context, first, last);
          expect(incremental).toEqual(expectedCharts(world, incremental.keys()));
          await context.engine.build({ full: true });
          expect(await allCharts(context, first, last)).toEqual(incremental);
          await release();
        }),
        { numRuns: database.name === "SQLite" ? 15 : 5 },
      );
    }, 300_000);

    it("completes a build and an ingest that commits while it reads, and the next build counts what that ingest stored", async () => {
      await fc.assert(
        fc.asyncProperty(worldArbitrary, fc.nat(), async (world, seed) => {
          fc.pre(world.records.length >= 2);
          context = await fresh();
          const live = context;
          await live.ingest.ingestCatalog(asInput(world.catalog));
          const records = shuffled(world.records, seed);
          const half = Math.ceil(records.length / 2);
          await live.ingest.ingestObservations(asInput(records.slice(0, half)));
          await live.engine.build();
          // The rest of the data arrives as the next build starts reading, in one batch: committed before the
          // build's commit, it has the build start over, once; committed after, it leaves its marks for the
          // next build. (A build gives up after three attempts that an ingest's commits each superseded.)
          let ingested: Promise<unknown> | undefined;
          const built = live.engine.build({
            full: true,
            onProgress: ({ stage }) => {
              if (stage === "reading") ingested ??= live.ingest.ingestObservations(asInput(records.slice(half)));
            },
          });
          await built;
          // Started as the build began reading, the ingest ended, or waits for the build's commit.
          expect(ingested).toBeDefined();
          await ingested;
          await live.engine.build();
          const { first, last } = dataSpan(world);
          const charts = await allCharts(live, first, last);
          expect(charts).toEqual(expectedCharts(world, charts.keys()));
          await release();
        }),
        { numRuns: database.name === "SQLite" ? 8 : 4 },
      );
    }, 300_000);

    it("completes a dozen full builds asked for at once in one process, more than its database connections", async () => {
      const world = fc.sample(
        worldArbitrary.filter((w) => w.records.length >= 10),
        { numRuns: 1, seed: 11 },
      )[0]!;
      context = await fresh();
      await context.ingest.ingestCatalog(asInput(world.catalog));
      await context.ingest.ingestObservations(asInput(world.records));
      const live = context;
      const reports = await Promise.all(Array.from({ length: 12 }, () => live.engine.build({ full: true })));
      expect(reports.every((report) => report.built && report.full)).toBe(true);
      const { first, last } = dataSpan(world);
      const charts = await allCharts(live, first, last);
      expect(charts).toEqual(expectedCharts(world, charts.keys()));
    }, 60_000);

    it("stores the data of two processes ingesting at once, batch after batch, as one process would", async () => {
      await fc.assert(
        fc.asyncProperty(worldArbitrary, fc.nat(), async (world, seed) => {
          await release();
          const [first, second] = await createTestContexts(database.name, 2);
          context = first;
          await first!.ingest.ingestCatalog(asInput(world.catalog));
          // Every video's observations shared between both, so that each one's batches change what the other plans.
          const records = shuffled(world.records, seed);
          await Promise.all([
            first!.ingest.ingestObservations(asInput(records.filter((_, i) => i % 2 === 0)), { batchSize: 2 }),
            second!.ingest.ingestObservations(asInput(records.filter((_, i) => i % 2 === 1)), { batchSize: 3 }),
          ]);
          await second!.engine.build();
          if (records.length > 0) {
            const { first: firstDay, last } = dataSpan(world);
            const charts = await allCharts(first!, firstDay, last);
            expect(charts).toEqual(expectedCharts(world, charts.keys()));
          }
          await release();
        }),
        { numRuns: database.name === "SQLite" ? 6 : 4 },
      );
    }, 300_000);
  });
}
