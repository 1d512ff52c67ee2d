/** UTC calendar days, counted as whole days since 1970-01-01. */
export const SECONDS_PER_DAY = 86_400;

export function dayOf(unixSeconds: number): number {
  return Math.floor(unixSeconds / SECONDS_PER_DAY);
}

export function dayStart(day: number): number {
  return day * SECONDS_PER_DAY;
}

/** `2026-01-27` for a day number. */
export function formatDay(day: number): string {
  return new Date(day * SECONDS_PER_DAY * 1000).toISOString().slice(0, 10);
}

/** Day number of a `YYYY-MM-DD` string, or undefined when it is not a real calendar date. */
export function parseDay(text: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return undefined;
  const ms = Date.parse(`${text}T00:00:00Z`);
  if (Number.isNaN(ms)) return undefined;
  const day = ms / 1000 / SECONDS_PER_DAY;
  return formatDay(day) === text ? day : undefined;
}
