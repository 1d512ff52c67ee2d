/**
 * A brute-force reading of docs/charts.md and docs/observations.md: slow, literal and obviously
 * correct. The engine's charts must equal these, to the byte.
 */
import { createHash } from "node:crypto";
import { INDUSTRIES, REGIONS } from "../src/domain/reference-data.js";
import type { CatalogEntry, ObservationRecord } from "../src/domain/observation.js";

const DAY = 86_400;
const utf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const dayOf = (s: number) => Math.floor(s / DAY);

interface Obs {
  id: string;
  create_time: number;
  region: string;
  tags: string[];
  username: string;
  views: number;
  at: number;
  nick: string | null;
  avatar: string | null;
}

export interface ReferenceChart {
  as_of: string;
  window_start: string;
  window_end: string;
  total: number;
  list: unknown[];
}

function normalize(r: ObservationRecord): Obs {
  const region = r.region_code.toUpperCase();
  return {
    id: r.id,
    create_time: r.create_time,
    region: region === "UK" ? "GB" : region,
    tags: [...new Set(r.hashtag_names.map((n) => n.trim().replace(/^#+/, "").trim().toLowerCase()))].sort(),
    username: r.username,
    views: r.view_count,
    at: r.observed_at,
    nick: r.nick_name ?? null,
    avatar: r.avatar_url ?? null,
  };
}

const videoSig = (o: Obs) => JSON.stringify([o.create_time, o.region, o.tags, o.username]);
const creatorSig = (o: Obs) => JSON.stringify([o.nick, o.avatar]);

/** Computes every chart of the data: key `${day}|${region}|${period}|${industry}`. */
export function referenceCharts(records: readonly ObservationRecord[], catalog: readonly CatalogEntry[]) {
  const all = records.map(normalize);

  // Same (id, observed_at): one observation, the larger view count (then the attributes' bytes) wins.
  const kept = new Map<string, Obs>();
  for (const o of all) {
    const key = `${o.id}|${o.at}`;
    const other = kept.get(key);
    if (!other || o.views > other.views || (o.views === other.views && utf8(videoSig(o), videoSig(other)) > 0)) kept.set(key, o);
  }
  const observations = [...kept.values()];

  // A video's attributes: its latest observation.
  const videos = new Map<string, { latest: Obs; history: Obs[] }>();
  for (const o of observations) {
    const v = videos.get(o.id);
    if (!v) videos.set(o.id, { latest: o, history: [o] });
    else {
      v.history.push(o);
      const l = v.latest;
      if (o.at > l.at || (o.at === l.at && (o.views > l.views || (o.views === l.views && utf8(videoSig(o), videoSig(l)) > 0))))
        v.latest = o;
    }
  }
  // Gains: first observation counts whole, later ones the gain over the highest before.
  const gains: { id: string; day: number; gain: number }[] = [];
  for (const [id, v] of videos) {
    const sorted = [...v.history].sort((a, b) => a.at - b.at);
    let highest = -1;
    for (const o of sorted) {
      const gain = highest < 0 ? o.views : Math.max(0, o.views - highest);
      highest = Math.max(highest, o.views);
      if (gain > 0) gains.push({ id, day: dayOf(o.at), gain });
    }
  }
  // Creator display fields: the latest observation carrying the username.
  const profiles = new Map<string, Obs>();
  for (const o of all) {
    const p = profiles.get(o.username);
    if (!p || o.at > p.at || (o.at === p.at && (o.views > p.views || (o.views === p.views && utf8(creatorSig(o), creatorSig(p)) > 0)))) {
      profiles.set(o.username, o);
    }
  }
  const cat = new Map(catalog.map((c) => [c.hashtag_name.trim().replace(/^#+/, "").trim().toLowerCase(), c]));

  const firstDay = Math.min(...observations.map((o) => dayOf(o.at)));
  const lastDay = Math.max(...observations.map((o) => dayOf(o.at)));
  const regions = [...REGIONS.map((r) => r.id), "all_regions"];
  const industries = ["nothing", ...INDUSTRIES.map((i) => String(i.id))];
  const charts = new Map<string, ReferenceChart>();
  const iso = (d: number) => new Date(d * DAY * 1000).toISOString().slice(0, 10);

  for (const region of regions) {
    for (const period of [7, 30, 120]) {
      const everIn = new Map(industries.map((i) => [i, new Set<string>()]));
      const previousTop = new Map<string, string[]>(industries.map((i) => [i, []]));
      for (let day = firstDay; day <= lastDay; day++) {
        const start = Math.max(day - period + 1, firstDay);
        const inRegion = (id: string) => region === "all_regions" || videos.get(id)!.latest.region === region;
        const tags = new Set<string>();
        for (const v of videos.values()) for (const t of v.latest.tags) tags.add(t);
        const stats = [...tags].map((tag) => {
          const carrying = [...videos.entries()].filter(([id, v]) => v.latest.tags.includes(tag) && inRegion(id));
          const ids = new Set(carrying.map(([id]) => id));
          const publish = carrying.filter(([, v]) => dayOf(v.latest.create_time) >= start && dayOf(v.latest.create_time) <= day).length;
          const windowGains = gains.filter((g) => ids.has(g.id) && g.day >= start && g.day <= day);
          const views = windowGains.reduce((s, g) => s + g.gain, 0);
          return { tag, publish, views, windowGains };
        });
        for (const industry of industries) {
          const previous = previousTop.get(industry)!;
          const industryOf = (tag: string) => {
            const id = cat.get(tag)?.industry_id;
            return id == null ? null : String(id);
          };
          const candidates = stats
            .filter((s) => s.views > 0 && (industry === "nothing" || industryOf(s.tag) === industry))
            .sort((a, b) => b.views - a.views || b.publish - a.publish || utf8(a.tag, b.tag));
          const top = candidates.slice(0, 100);

          const list = top.map((s, i) => {
            const rank = i + 1;
            const before = previous.indexOf(s.tag);
            const isNew = !everIn.get(industry)!.has(s.tag);
            // Trend points.
            const daily = (d: number) => s.windowGains.filter((g) => g.day === d).reduce((sum, g) => sum + g.gain, 0);
            const points: { time: number; amount: number }[] = [];
            if (period === 120) {
              for (let last = day; last >= start; last -= 7) {
                const first = Math.max(start, last - 6);
                let amount = 0;
                for (let d = first; d <= last; d++) amount += daily(d);
                points.unshift({ time: first * DAY, amount });
              }
            } else {
              for (let d = start; d <= day; d++) points.push({ time: d * DAY, amount: daily(d) });
            }
            const peak = Math.max(...points.map((p) => p.amount));
            // Creators.
            const byCreator = new Map<string, number>();
            for (const g of s.windowGains) {
              const u = videos.get(g.id)!.latest.username;
              byCreator.set(u, (byCreator.get(u) ?? 0) + g.gain);
            }
            const creators = [...byCreator]
              .filter(([, v]) => v > 0)
              .sort((a, b) => b[1] - a[1] || utf8(a[0], b[0]))
              .slice(0, 3)
              .map(([u]) => ({ nick_name: profiles.get(u)?.nick ?? u, avatar_url: profiles.get(u)?.avatar ?? "" }));
            // Country.
            let country = region;
            if (region === "all_regions") {
              const byCountry = new Map<string, number>();
              for (const g of s.windowGains) {
                const c = videos.get(g.id)!.latest.region;
                byCountry.set(c, (byCountry.get(c) ?? 0) + g.gain);
              }
              country = [...byCountry].sort((a, b) => b[1] - a[1] || utf8(a[0], b[0]))[0]![0];
            }
            const countryValue =
              REGIONS.find((r) => r.id === country)?.value ?? new Intl.DisplayNames(["en"], { type: "region" }).of(country) ?? country;
            const c = cat.get(s.tag);
            const ind = c?.industry_id == null ? undefined : INDUSTRIES.find((x) => x.id === c.industry_id);
            return {
              isNew,
              item: {
                hashtag_id: c?.hashtag_id ?? (createHash("sha256").update(s.tag).digest().readBigUInt64BE(0) >> 1n).toString(),
                hashtag_name: s.tag,
                country_info: { id: country, value: countryValue, label: country },
                industry_info: ind ? { id: ind.id, value: ind.value, label: ind.label } : { id: "", value: "", label: "" },
                is_promoted: c?.is_promoted ?? false,
                trend: points.map((p) => ({ time: p.time, value: peak === 0 ? 0 : Math.round((p.amount / peak) * 100) / 100 })),
                creators,
                publish_cnt: s.publish,
                video_views: s.views,
                rank,
                rank_diff: before < 0 ? null : Math.abs(before + 1 - rank),
                rank_diff_type: before < 0 ? 4 : rank < before + 1 ? 1 : rank === before + 1 ? 2 : 3,
              },
            };
          });
          for (const s of top) everIn.get(industry)!.add(s.tag);
          previousTop.set(
            industry,
            top.map((s) => s.tag),
          );
          charts.set(`${day}|${region}|${period}|${industry}`, {
            as_of: iso(day),
            window_start: iso(start),
            window_end: iso(day),
            total: list.length,
            list: list.map((l) => l.item),
          });
        }
      }
    }
  }
  return { firstDay, lastDay, charts };
}
