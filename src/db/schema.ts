import type { ColumnType, Generated } from "kysely";

/** Kysely view of the tagpulse database, identical on SQLite and PostgreSQL. */
export interface DatabaseSchema {
  tags: TagsTable;
  hashtags: HashtagsTable;
  videos: VideosTable;
  observations: ObservationsTable;
  video_tags: VideoTagsTable;
  creators: CreatorsTable;
  tag_series: TagSeriesTable;
  region_days: RegionDaysTable;
  charts: ChartsTable;
  chart_series: ChartSeriesTable;
  chart_windows: ChartWindowsTable;
  engine_state: EngineStateTable;
  recounted_videos: RecountedVideosTable;
  accounts: AccountsTable;
  api_keys: ApiKeysTable;
  credit_ledger: CreditLedgerTable;
  usage_records: UsageRecordsTable;
  upstream_snapshots: UpstreamSnapshotsTable;
  upstream_firsts: UpstreamFirstsTable;
}

/** Hashtag names seen in observations, interned to small integers. */
export interface TagsTable {
  id: Generated<number>;
  name: string;
}

/** The hashtag catalog: ids, industries and promoted flags. */
export interface HashtagsTable {
  name: string;
  hashtag_id: string;
  industry_id: number | null;
  is_promoted: number;
}

/**
 * One row per video: the attributes of its latest observation, and that observation's time and views.
 * Between observations of the same second and views, the attributes themselves decide (observation-order.ts).
 */
export interface VideosTable {
  video_id: string;
  create_time: number;
  region: string;
  username: string;
  /** Comma-separated `tags.id`s, ascending, unique. */
  tags: string;
  latest_at: number;
  latest_views: number;
  first_at: number;
  last_at: number;
  /** The highest view count observed. */
  peak_views: number;
  /**
   * The highest view count observed before the UTC day of `last_at` (0 for none): where a video's
   * views stood before its last day, so that a build of that day needs no look at its observations.
   */
  peak_before_last_day: number;
}

/** Videos whose attributes changed since the charts counted them, with the attributes they were counted with. */
export interface RecountedVideosTable {
  video_id: string;
  create_time: number;
  region: string;
  tags: string;
}

export interface ObservationsTable {
  video_id: string;
  observed_at: number;
  view_count: number;
}

/** Which videos carry which tag (a mirror of `videos.tags`, for per-hashtag lookups). */
export interface VideoTagsTable {
  tag: number;
  video_id: string;
}

/** Display fields of a creator, from its latest observation, and that observation's time and views. */
export interface CreatorsTable {
  username: string;
  nick_name: string | null;
  avatar_url: string | null;
  seen_at: number;
  seen_views: number;
}

/**
 * Views gained and videos published per day, for one tag in one country or in `all_regions`, in
 * blocks of days (series-codec.ts): derived by the engine. `days` packs (day int32, views float64,
 * publish count int32) records by ascending day.
 */
export interface TagSeriesTable {
  block: number;
  tag: number;
  region: string;
  days: Buffer;
}

/**
 * One day of one country (or `all_regions`): every tag's views and publish count, packed column-wise
 * (see series-codec.ts). Derived by the engine, which reads whole days to slide its windows.
 */
export interface RegionDaysTable {
  day: number;
  region: string;
  entries: Buffer;
}

/** The ranked membership of one chart: derived by the engine. */
export interface ChartsTable {
  day: number;
  region: string;
  period: number;
  industry: string;
  /** (tag, previous day's rank or 0, new-to-top-100) in rank order: see encodeChartEntries. */
  entries: Buffer;
}

/** Per chart series: the day each tag first entered its top 100, as (tag, day) int32 pairs. */
export interface ChartSeriesTable {
  region: string;
  period: number;
  industry: string;
  firsts: Buffer;
}

/**
 * Per chart region and period: every tag's views and publish count summed over the window that ends
 * on `day`, the last built day, packed like a region's day. Derived by the engine.
 */
export interface ChartWindowsTable {
  region: string;
  period: number;
  day: number;
  entries: Buffer;
}

export interface EngineStateTable {
  key: string;
  value: ColumnType<string, string, string>;
}

/** A customer: its prepaid credits. Times are Unix milliseconds. */
export interface AccountsTable {
  id: string;
  name: string;
  balance: number;
  created_at: number;
}

/** An API key: only the SHA-256 of the secret is stored, plus a prefix to recognise it by. */
export interface ApiKeysTable {
  id: string;
  account_id: string;
  name: string;
  prefix: string;
  hash: string;
  /** Requests per minute, overriding the server's default. */
  rate_limit: number | null;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

/** Every change of a balance, append-only: grants and refunds are positive, charges negative. */
export interface CreditLedgerTable {
  id: Generated<number>;
  account_id: string;
  kind: "grant" | "charge" | "refund";
  amount: number;
  balance_after: number;
  reason: string;
  key_id: string | null;
  request_id: string | null;
  created_at: number;
}

/** One row per authenticated call, charged or not. */
export interface UsageRecordsTable {
  id: Generated<number>;
  account_id: string;
  key_id: string;
  request_id: string;
  method: string;
  route: string;
  status: number;
  cost: number;
  latency_ms: number;
  created_at: number;
}

/** One chart collected from an upstream, for one as-of day. Times are Unix milliseconds. */
export interface UpstreamSnapshotsTable {
  day: number;
  region: string;
  period: number;
  industry: string;
  /** Which client collected it: `creative_center_gen1` or `creative_center_gen2`. */
  source: string;
  fetched_at: number;
  /** 1 when every row of the chart was fetched, 0 for a truncated preview. */
  complete: number;
  row_count: number;
  /** The normalized rows, as deflated JSON (see upstream-charts.ts): a day of every chart is about 200 MB as text, 35 MB deflated. */
  rows: Buffer;
}

/** Per collected chart series: the first as-of day each hashtag was in it. */
export interface UpstreamFirstsTable {
  region: string;
  period: number;
  industry: string;
  hashtag_name: string;
  first_day: number;
}
