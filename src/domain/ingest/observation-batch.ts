import { creatorSigOf, isLater, videoSigOf } from "../observation-order.js";
import { normalizeHashtag, normalizeRegion, parseObservation, type Observation } from "../observation.js";
import { createScannedObservation, scanObservation } from "./observation-scanner.js";
import { createStringInterner } from "./string-interner.js";

/** One item read from an input file: its position, and the parsed value or why it could not be read. */
export type InputRecord =
  | { readonly line: number; readonly value: unknown; readonly error?: undefined }
  | { readonly line: number; readonly value?: undefined; readonly error: string };

export interface RejectedRecord {
  readonly line: number;
  readonly reason: string;
}

/**
 * The valid observations of one batch, column by column. Every string is its number in the string
 * table shared by the batches of one stream, so that a batch crosses threads as a few transferred
 * buffers and a string seen again (a creator, a hashtag, a video) crosses only once.
 */
export interface ObservationColumns {
  readonly count: number;
  readonly videoId: Int32Array;
  readonly region: Int32Array;
  readonly username: Int32Array;
  /** -1 when the observation has none. */
  readonly nickName: Int32Array;
  /** -1 when the observation has none. */
  readonly avatarUrl: Int32Array;
  /** Observation i carries `hashtags[hashtagStart[i]]` up to `hashtags[hashtagStart[i + 1]]`: unique, in no particular order. */
  readonly hashtagStart: Int32Array;
  readonly hashtags: Int32Array;
  readonly createTime: Float64Array;
  readonly viewCount: Float64Array;
  readonly observedAt: Float64Array;
}

/**
 * A batch's observations grouped by video and by creator, each group with its latest observation
 * under the total order (observed_at, view_count, attributes' bytes): the part of the work on a batch
 * that needs no database, done where the batch is read.
 */
export interface BatchGroups {
  readonly videoCount: number;
  /** Per video: the string number of its id, its latest observation, its first and last times. */
  readonly video: Int32Array;
  readonly videoLatest: Int32Array;
  readonly firstAt: Float64Array;
  readonly lastAt: Float64Array;
  /** Video g's distinct times, each with its largest view count, are `times[timeStart[g]]` up to `times[timeStart[g + 1]]`. */
  readonly timeStart: Int32Array;
  readonly times: Float64Array;
  readonly timeViews: Float64Array;
  /** Observations that repeat an earlier (video, time) of the batch. */
  readonly repeated: number;
  readonly creatorCount: number;
  /** Per creator: the string number of its username and its latest observation. */
  readonly creator: Int32Array;
  readonly creatorLatest: Int32Array;
}

/** What one batch of input records became: valid observations, and the records rejected. */
export interface ParsedBatch {
  readonly observations: ObservationColumns;
  readonly groups: BatchGroups;
  /** Strings first used by this batch, appended to the table in this order. */
  readonly strings: readonly string[];
  /** The table starts empty again before this batch's strings (it is kept bounded). */
  readonly resetStrings: boolean;
  /** Records read: valid and rejected. */
  readonly read: number;
  readonly rejected: readonly RejectedRecord[];
}

/** A source that turns its records into batches itself, for example off the main thread. */
export interface ObservationBatchSource {
  /** Batches of at most `batchSize` valid observations. */
  observationBatches(options: { readonly batchSize: number }): AsyncIterable<ParsedBatch>;
}

export function isObservationBatchSource(source: unknown): source is ObservationBatchSource {
  return typeof (source as Partial<ObservationBatchSource> | null)?.observationBatches === "function";
}

/** Past this many strings the table starts over at the next batch, so that it stays bounded. */
const MAX_TABLE_STRINGS = 1 << 20;

export interface BatchBuilder {
  /** Valid observations in the batch being built. */
  readonly count: number;
  /** Records in the batch being built: valid and rejected. */
  readonly read: number;
  add(observation: Observation): void;
  reject(line: number, reason: string): void;
  /** Validates one input record into the batch. */
  addRecord(record: InputRecord): void;
  /** Validates one NDJSON line, `bytes[start..end)`, into the batch; blank lines are skipped. */
  addLine(bytes: Buffer, start: number, end: number, line: number): void;
  /** Ends the batch being built and starts the next one. */
  take(): ParsedBatch;
}

/** Builds the batches of one stream; their string numbers are valid in one `StringTable`. */
export function createBatchBuilder(capacity: number, options: { maxStrings?: number } = {}): BatchBuilder {
  const maxStrings = options.maxStrings ?? MAX_TABLE_STRINGS;
  const interner = createStringInterner();
  const scanned = createScannedObservation();
  // Region codes are two ASCII letters: their normalized string's number, by the two bytes, plus one.
  const regionIds = new Int32Array(1 << 16);
  const tagScratch: number[] = [];
  // A creator's display fields rarely change: each username's last ones, plus one, are checked first.
  let lastNick = new Int32Array(1 << 12);
  let lastAvatar = new Int32Array(1 << 12);
  const grouper = createGrouper();
  let reset = false;
  let columns = allocate(Math.max(1, capacity));
  let hashtags = new Int32Array(Math.max(16, capacity * 4));
  let hashtagCount = 0;
  let count = 0;
  let read = 0;
  let rejected: RejectedRecord[] = [];

  const pushHashtag = (id: number) => {
    if (hashtagCount === hashtags.length) {
      const larger = new Int32Array(hashtags.length * 2);
      larger.set(hashtags);
      hashtags = larger;
    }
    hashtags[hashtagCount++] = id;
  };

  /** Ends observation `count`, whose hashtags are in `tagScratch`. */
  const endObservation = () => {
    for (const id of tagScratch) pushHashtag(id);
    columns.hashtagStart[++count] = hashtagCount;
    read++;
  };

  const startObservation = () => {
    if (count === columns.videoId.length) columns = grow(columns, count * 2);
  };

  const addUniqueTag = (id: number) => {
    if (!tagScratch.includes(id)) tagScratch.push(id);
  };

  /** The fast path of `addLine`: false when the line needs the general one. */
  const addScanned = (b: Buffer): boolean => {
    const s = scanned;
    // Hashtags first: one that normalizes to nothing is a rejection, which the general path words.
    tagScratch.length = 0;
    for (let t = 0; t < s.hashtagCount; t++) {
      const start = s.hashtagStart[t]!;
      const end = s.hashtagEnd[t]!;
      let plain = b[start] !== 0x23;
      for (let k = start; plain && k < end; k++) {
        const c = b[k]!;
        plain = c > 0x20 && c < 0x7f && !(c >= 0x41 && c <= 0x5a);
      }
      // Printable ASCII without capitals or a leading '#' is already normalized.
      if (plain) addUniqueTag(interner.internBytes(b, start, end));
      else {
        const name = normalizeHashtag(b.toString("utf8", start, end));
        if (name === "") return false;
        addUniqueTag(interner.intern(name));
      }
    }
    startObservation();
    const i = count;
    columns.videoId[i] = interner.internBytes(b, s.idStart, s.idEnd);
    const code = (b[s.regionStart]! << 8) | b[s.regionStart + 1]!;
    if (regionIds[code] === 0)
      regionIds[code] = interner.intern(normalizeRegion(b.toString("latin1", s.regionStart, s.regionStart + 2))) + 1;
    columns.region[i] = regionIds[code]! - 1;
    const user = interner.internBytes(b, s.usernameStart, s.usernameEnd);
    columns.username[i] = user;
    if (user >= lastNick.length) {
      lastNick = growTo(lastNick, user + 1);
      lastAvatar = growTo(lastAvatar, user + 1);
    }
    if (s.nickStart < 0) columns.nickName[i] = -1;
    else {
      const guess = lastNick[user]! - 1;
      const nick = guess >= 0 && interner.holds(guess, b, s.nickStart, s.nickEnd) ? guess : interner.internBytes(b, s.nickStart, s.nickEnd);
      columns.nickName[i] = nick;
      lastNick[user] = nick + 1;
    }
    if (s.avatarStart < 0) columns.avatarUrl[i] = -1;
    else {
      const guess = lastAvatar[user]! - 1;
      const avatar =
        guess >= 0 && interner.holds(guess, b, s.avatarStart, s.avatarEnd) ? guess : interner.internBytes(b, s.avatarStart, s.avatarEnd);
      columns.avatarUrl[i] = avatar;
      lastAvatar[user] = avatar + 1;
    }
    columns.createTime[i] = s.createTime;
    columns.viewCount[i] = s.viewCount;
    columns.observedAt[i] = s.observedAt;
    endObservation();
    return true;
  };

  const builder: BatchBuilder = {
    get count() {
      return count;
    },
    get read() {
      return read;
    },
    add(o) {
      startObservation();
      tagScratch.length = 0;
      const i = count;
      columns.videoId[i] = interner.intern(o.videoId);
      columns.region[i] = interner.intern(o.region);
      columns.username[i] = interner.intern(o.username);
      columns.nickName[i] = o.nickName === null ? -1 : interner.intern(o.nickName);
      columns.avatarUrl[i] = o.avatarUrl === null ? -1 : interner.intern(o.avatarUrl);
      columns.createTime[i] = o.createTime;
      columns.viewCount[i] = o.viewCount;
      columns.observedAt[i] = o.observedAt;
      for (const name of o.hashtags) addUniqueTag(interner.intern(name));
      endObservation();
    },
    reject(line, reason) {
      rejected.push({ line, reason });
      read++;
    },
    addRecord(record) {
      if (record.error !== undefined) return builder.reject(record.line, record.error);
      const parsed = parseObservation(record.value);
      if (parsed.ok) builder.add(parsed.value);
      else builder.reject(record.line, parsed.reason);
    },
    addLine(bytes, start, end, line) {
      if (scanObservation(bytes, start, end, scanned) && addScanned(bytes)) return;
      const text = bytes.toString("utf8", start, end);
      if (text.trim() === "") return;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return builder.reject(line, "not valid JSON");
      }
      builder.addRecord({ line, value });
    },
    take() {
      const observations: ObservationColumns = {
        count,
        videoId: columns.videoId.slice(0, count),
        region: columns.region.slice(0, count),
        username: columns.username.slice(0, count),
        nickName: columns.nickName.slice(0, count),
        avatarUrl: columns.avatarUrl.slice(0, count),
        hashtagStart: columns.hashtagStart.slice(0, count + 1),
        hashtags: hashtags.slice(0, hashtagCount),
        createTime: columns.createTime.slice(0, count),
        viewCount: columns.viewCount.slice(0, count),
        observedAt: columns.observedAt.slice(0, count),
      };
      const batch: ParsedBatch = {
        observations,
        groups: grouper.group(observations, interner.strings),
        strings: interner.takeNew(),
        resetStrings: reset,
        read,
        rejected,
      };
      reset = interner.size > maxStrings;
      if (reset) {
        interner.clear();
        regionIds.fill(0);
        lastNick.fill(0);
        lastAvatar.fill(0);
      }
      count = 0;
      read = 0;
      hashtagCount = 0;
      rejected = [];
      return batch;
    },
  };
  return builder;
}

/** The signature of observation i's video attributes (see `videoSigOf`). */
export function observationVideoSig(columns: ObservationColumns, strings: readonly string[], i: number): string {
  return videoSigOf(
    columns.createTime[i]!,
    strings[columns.region[i]!]!,
    Array.from(columns.hashtags.subarray(columns.hashtagStart[i]!, columns.hashtagStart[i + 1]!), (id) => strings[id]!),
    strings[columns.username[i]!]!,
  );
}

/** The signature of observation i's creator display fields (see `creatorSigOf`). */
export function observationCreatorSig(columns: ObservationColumns, strings: readonly string[], i: number): string {
  const text = (id: number) => (id < 0 ? null : strings[id]!);
  return creatorSigOf(text(columns.nickName[i]!), text(columns.avatarUrl[i]!));
}

/** Groups batches by video and by creator (see `BatchGroups`), reusing its indexes from batch to batch. */
function createGrouper() {
  // Per string number: its group in the current batch, valid when the stamp is the batch's.
  let videoGroup = new Int32Array(1 << 12);
  let videoStamp = new Int32Array(1 << 12);
  let creatorGroup = new Int32Array(1 << 12);
  let creatorStamp = new Int32Array(1 << 12);
  let stamp = 0;
  /** Whether observation i comes after observation b under the total order (signatures only on a tie). */
  const later = (
    columns: ObservationColumns,
    strings: readonly string[],
    i: number,
    b: number,
    sig: (columns: ObservationColumns, strings: readonly string[], i: number) => string,
  ): boolean =>
    isLater(
      columns.observedAt[i]!,
      columns.viewCount[i]!,
      () => sig(columns, strings, i),
      columns.observedAt[b]!,
      columns.viewCount[b]!,
      () => sig(columns, strings, b),
    );

  return {
    group(columns: ObservationColumns, strings: readonly string[]): BatchGroups {
      const { count, observedAt, viewCount } = columns;
      if (strings.length > videoGroup.length) {
        videoGroup = growTo(videoGroup, strings.length);
        videoStamp = growTo(videoStamp, strings.length);
        creatorGroup = growTo(creatorGroup, strings.length);
        creatorStamp = growTo(creatorStamp, strings.length);
      }
      stamp++;
      const next = new Int32Array(count);
      const head = new Int32Array(count);
      const size = new Int32Array(count);
      const video = new Int32Array(count);
      const videoLatest = new Int32Array(count);
      const firstAt = new Float64Array(count);
      const lastAt = new Float64Array(count);
      const creator = new Int32Array(count);
      const creatorLatest = new Int32Array(count);
      let videos = 0;
      let creators = 0;
      for (let i = 0; i < count; i++) {
        const at = observedAt[i]!;
        const id = columns.videoId[i]!;
        if (videoStamp[id] !== stamp) {
          const g = videos++;
          videoStamp[id] = stamp;
          videoGroup[id] = g;
          video[g] = id;
          head[g] = i;
          next[i] = -1;
          size[g] = 1;
          videoLatest[g] = i;
          firstAt[g] = at;
          lastAt[g] = at;
        } else {
          const g = videoGroup[id]!;
          next[i] = head[g]!;
          head[g] = i;
          size[g]!++;
          if (at < firstAt[g]!) firstAt[g] = at;
          if (at > lastAt[g]!) lastAt[g] = at;
          if (later(columns, strings, i, videoLatest[g]!, observationVideoSig)) videoLatest[g] = i;
        }

        const user = columns.username[i]!;
        if (creatorStamp[user] !== stamp) {
          const c = creators++;
          creatorStamp[user] = stamp;
          creatorGroup[user] = c;
          creator[c] = user;
          creatorLatest[c] = i;
        } else {
          const c = creatorGroup[user]!;
          if (later(columns, strings, i, creatorLatest[c]!, observationCreatorSig)) creatorLatest[c] = i;
        }
      }

      // Each video's distinct times, each with its largest view count.
      const timeStart = new Int32Array(videos + 1);
      const times = new Float64Array(count);
      const timeViews = new Float64Array(count);
      const index = new Map<number, number>();
      let kept = 0;
      for (let g = 0; g < videos; g++) {
        const first = kept;
        // Linear search for the few observations of a video; an index for the many.
        const indexed = size[g]! > 8;
        if (indexed) index.clear();
        for (let i = head[g]!; i !== -1; i = next[i]!) {
          const at = observedAt[i]!;
          let k = -1;
          if (indexed) k = index.get(at) ?? -1;
          else {
            for (let j = first; j < kept; j++) {
              if (times[j] === at) {
                k = j;
                break;
              }
            }
          }
          if (k < 0) {
            if (indexed) index.set(at, kept);
            times[kept] = at;
            timeViews[kept++] = viewCount[i]!;
          } else if (viewCount[i]! > timeViews[k]!) timeViews[k] = viewCount[i]!;
        }
        timeStart[g + 1] = kept;
      }

      return {
        videoCount: videos,
        video: video.slice(0, videos),
        videoLatest: videoLatest.slice(0, videos),
        firstAt: firstAt.slice(0, videos),
        lastAt: lastAt.slice(0, videos),
        timeStart,
        times: times.slice(0, kept),
        timeViews: timeViews.slice(0, kept),
        repeated: count - kept,
        creatorCount: creators,
        creator: creator.slice(0, creators),
        creatorLatest: creatorLatest.slice(0, creators),
      };
    },
  };
}

/** The buffers of a batch, to transfer rather than copy it to another thread. */
export function transferList(batch: ParsedBatch): ArrayBuffer[] {
  const o = batch.observations;
  const g = batch.groups;
  return [
    o.videoId,
    o.region,
    o.username,
    o.nickName,
    o.avatarUrl,
    o.hashtagStart,
    o.hashtags,
    o.createTime,
    o.viewCount,
    o.observedAt,
    g.video,
    g.videoLatest,
    g.firstAt,
    g.lastAt,
    g.timeStart,
    g.times,
    g.timeViews,
    g.creator,
    g.creatorLatest,
  ].map((column) => column.buffer as ArrayBuffer);
}

/** The receiving end of a stream of batches: resolves their string numbers. */
export interface StringTable {
  readonly strings: readonly string[];
  apply(batch: ParsedBatch): void;
}

export function createStringTable(): StringTable {
  let strings: string[] = [];
  return {
    get strings() {
      return strings;
    },
    apply(batch) {
      if (batch.resetStrings) strings = [];
      for (const value of batch.strings) strings.push(value);
    },
  };
}

/** Validates records into batches of `batchSize` valid observations, on the calling thread. */
export async function* parseObservationBatches(records: AsyncIterable<InputRecord>, batchSize: number): AsyncGenerator<ParsedBatch> {
  const builder = createBatchBuilder(Math.min(batchSize, 1 << 16));
  for await (const record of records) {
    builder.addRecord(record);
    if (builder.count >= batchSize) yield builder.take();
  }
  if (builder.read > 0) yield builder.take();
}

function allocate(capacity: number) {
  return {
    videoId: new Int32Array(capacity),
    region: new Int32Array(capacity),
    username: new Int32Array(capacity),
    nickName: new Int32Array(capacity),
    avatarUrl: new Int32Array(capacity),
    hashtagStart: new Int32Array(capacity + 1),
    createTime: new Float64Array(capacity),
    viewCount: new Float64Array(capacity),
    observedAt: new Float64Array(capacity),
  };
}

function growTo(array: Int32Array<ArrayBuffer>, size: number): Int32Array<ArrayBuffer> {
  const larger = new Int32Array(Math.max(size, array.length * 2));
  larger.set(array);
  return larger;
}

function grow(columns: ReturnType<typeof allocate>, capacity: number): ReturnType<typeof allocate> {
  const larger = allocate(capacity);
  for (const key of Object.keys(columns) as (keyof typeof columns)[]) (larger[key] as Int32Array | Float64Array).set(columns[key]);
  return larger;
}
