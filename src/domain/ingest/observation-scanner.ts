import { OBSERVATION_LIMITS } from "../observation.js";

/** Where the fields of one scanned line lie: byte offsets into the line's buffer, and the numbers. */
export interface ScannedObservation {
  idStart: number;
  idEnd: number;
  regionStart: number;
  usernameStart: number;
  usernameEnd: number;
  /** -1 when null or absent. */
  nickStart: number;
  nickEnd: number;
  /** -1 when null or absent. */
  avatarStart: number;
  avatarEnd: number;
  createTime: number;
  viewCount: number;
  observedAt: number;
  hashtagCount: number;
  readonly hashtagStart: Int32Array;
  readonly hashtagEnd: Int32Array;
}

export function createScannedObservation(): ScannedObservation {
  return {
    idStart: 0,
    idEnd: 0,
    regionStart: 0,
    usernameStart: 0,
    usernameEnd: 0,
    nickStart: -1,
    nickEnd: -1,
    avatarStart: -1,
    avatarEnd: -1,
    createTime: 0,
    viewCount: 0,
    observedAt: 0,
    hashtagCount: 0,
    hashtagStart: new Int32Array(OBSERVATION_LIMITS.maxHashtags),
    hashtagEnd: new Int32Array(OBSERVATION_LIMITS.maxHashtags),
  };
}

// Required fields first: their bits make up REQUIRED.
const FIELDS = ["id", "create_time", "region_code", "hashtag_names", "username", "view_count", "observed_at", "nick_name", "avatar_url"];
const ID = 0;
const CREATE_TIME = 1;
const REGION_CODE = 2;
const HASHTAG_NAMES = 3;
const USERNAME = 4;
const VIEW_COUNT = 5;
const OBSERVED_AT = 6;
const NICK_NAME = 7;
const REQUIRED = (1 << NICK_NAME) - 1;
const FIELD_BYTES = FIELDS.map((name) => Buffer.from(name));

const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * Reads one NDJSON line holding an observation in the common form, straight from its bytes: an
 * object with known keys only, each once; strings without escapes; plain non-negative integers; every
 * value within the schema's bounds. Returns false for anything else, valid or not, which the caller
 * then parses and validates the general way; so a line accepted here is one the general way accepts,
 * with the same values.
 */
export function scanObservation(b: Buffer, start: number, end: number, out: ScannedObservation): boolean {
  out.nickStart = out.nickEnd = out.avatarStart = out.avatarEnd = -1;
  out.hashtagCount = 0;
  let seen = 0;
  let i = skipSpace(b, start, end);
  if (i >= end || b[i] !== OPEN_BRACE) return false;
  i = skipSpace(b, i + 1, end);
  for (;;) {
    if (i >= end || b[i] !== QUOTE) return false;
    const keyEnd = stringEnd(b, i + 1, end);
    if (keyEnd < 0) return false;
    const field = fieldOf(b, i + 1, keyEnd);
    if (field < 0 || (seen & (1 << field)) !== 0) return false;
    seen |= 1 << field;
    i = skipSpace(b, keyEnd + 1, end);
    if (i >= end || b[i] !== COLON) return false;
    i = skipSpace(b, i + 1, end);
    if (i >= end) return false;

    if (field === ID) {
      if (b[i] !== QUOTE) return false;
      let j = i + 1;
      while (j < end && b[j]! >= 0x30 && b[j]! <= 0x39) j++;
      if (j === i + 1 || j - i - 1 > OBSERVATION_LIMITS.maxIdDigits || j >= end || b[j] !== QUOTE) return false;
      out.idStart = i + 1;
      out.idEnd = j;
      i = j + 1;
    } else if (field === CREATE_TIME || field === VIEW_COUNT || field === OBSERVED_AT) {
      // At most 15 digits: below 2^53, so exact, and no leading zero (which JSON forbids).
      let j = i;
      let value = 0;
      while (j < end && b[j]! >= 0x30 && b[j]! <= 0x39) value = value * 10 + (b[j++]! - 0x30);
      if (j === i || j - i > 15 || (b[i] === 0x30 && j - i > 1)) return false;
      if (field === CREATE_TIME) out.createTime = value;
      else if (field === VIEW_COUNT) out.viewCount = value;
      else out.observedAt = value;
      i = j;
    } else if (field === REGION_CODE) {
      if (i + 3 >= end || b[i] !== QUOTE || !isLetter(b[i + 1]!) || !isLetter(b[i + 2]!) || b[i + 3] !== QUOTE) return false;
      out.regionStart = i + 1;
      i += 4;
    } else if (field === HASHTAG_NAMES) {
      if (b[i] !== OPEN_BRACKET) return false;
      i = skipSpace(b, i + 1, end);
      if (i < end && b[i] === CLOSE_BRACKET) i++;
      else {
        for (;;) {
          if (i >= end || b[i] !== QUOTE || out.hashtagCount === OBSERVATION_LIMITS.maxHashtags) return false;
          const close = stringEnd(b, i + 1, end);
          if (close < 0 || close === i + 1 || close - i - 1 > OBSERVATION_LIMITS.maxHashtagLength) return false;
          out.hashtagStart[out.hashtagCount] = i + 1;
          out.hashtagEnd[out.hashtagCount++] = close;
          i = skipSpace(b, close + 1, end);
          if (i >= end) return false;
          if (b[i] === CLOSE_BRACKET) {
            i++;
            break;
          }
          if (b[i] !== COMMA) return false;
          i = skipSpace(b, i + 1, end);
        }
      }
    } else {
      const max =
        field === USERNAME
          ? OBSERVATION_LIMITS.maxUsernameLength
          : field === NICK_NAME
            ? OBSERVATION_LIMITS.maxNickNameLength
            : OBSERVATION_LIMITS.maxAvatarUrlLength;
      if (b[i] === QUOTE) {
        const close = stringEnd(b, i + 1, end);
        // Byte lengths bound the character counts the schema limits from above.
        if (close < 0 || close - i - 1 > max || (field === USERNAME && close === i + 1)) return false;
        if (field === USERNAME) {
          out.usernameStart = i + 1;
          out.usernameEnd = close;
        } else if (field === NICK_NAME) {
          out.nickStart = i + 1;
          out.nickEnd = close;
        } else {
          out.avatarStart = i + 1;
          out.avatarEnd = close;
        }
        i = close + 1;
      } else if (field !== USERNAME && i + 3 < end && b[i] === 0x6e && b[i + 1] === 0x75 && b[i + 2] === 0x6c && b[i + 3] === 0x6c) {
        i += 4;
      } else return false;
    }

    i = skipSpace(b, i, end);
    if (i >= end) return false;
    if (b[i] === COMMA) {
      i = skipSpace(b, i + 1, end);
      continue;
    }
    if (b[i] !== CLOSE_BRACE) return false;
    i = skipSpace(b, i + 1, end);
    break;
  }
  return (
    i === end &&
    (seen & REQUIRED) === REQUIRED &&
    out.createTime <= OBSERVATION_LIMITS.maxUnixSeconds &&
    out.observedAt <= OBSERVATION_LIMITS.maxUnixSeconds &&
    out.observedAt >= out.createTime
  );
}

function skipSpace(b: Buffer, i: number, end: number): number {
  while (i < end) {
    const c = b[i]!;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) break;
    i++;
  }
  return i;
}

/** The index of the quote closing a string that starts at `i`, or -1 if it has escapes or control characters. */
function stringEnd(b: Buffer, i: number, end: number): number {
  for (; i < end; i++) {
    const c = b[i]!;
    if (c === QUOTE) return i;
    if (c === BACKSLASH || c < 0x20) return -1;
  }
  return -1;
}

function fieldOf(b: Buffer, start: number, end: number): number {
  const length = end - start;
  for (let f = 0; f < FIELD_BYTES.length; f++) {
    const name = FIELD_BYTES[f]!;
    if (name.length !== length || name[0] !== b[start]) continue;
    let k = 1;
    while (k < length && name[k] === b[start + k]) k++;
    if (k === length) return f;
  }
  return -1;
}

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}
