/**
 * Regions and first-level industries of the trending-hashtag charts, named as TikTok Creative Center
 * names them. `all_regions` and `nothing` are the no-filter values; `UK` is an alias of `GB`.
 */

export interface Region {
  readonly id: string;
  readonly value: string;
  readonly label: string;
}

export interface Industry {
  readonly id: number;
  readonly value: string;
  readonly label: string;
}

export const ALL_REGIONS = "all_regions";
export const NO_INDUSTRY = "nothing";

export const REGIONS: readonly Region[] = [
  {
    id: "US",
    value: "United States",
    label: "US",
  },
  {
    id: "FR",
    value: "France",
    label: "FR",
  },
  {
    id: "DE",
    value: "Germany",
    label: "DE",
  },
  {
    id: "IT",
    value: "Italy",
    label: "IT",
  },
  {
    id: "ES",
    value: "Spain",
    label: "ES",
  },
  {
    id: "GB",
    value: "United Kingdom",
    label: "GB",
  },
  {
    id: "AR",
    value: "Argentina",
    label: "AR",
  },
  {
    id: "AU",
    value: "Australia",
    label: "AU",
  },
  {
    id: "BR",
    value: "Brazil",
    label: "BR",
  },
  {
    id: "CA",
    value: "Canada",
    label: "CA",
  },
  {
    id: "CO",
    value: "Colombia",
    label: "CO",
  },
  {
    id: "EG",
    value: "Egypt",
    label: "EG",
  },
  {
    id: "ID",
    value: "Indonesia",
    label: "ID",
  },
  {
    id: "IL",
    value: "Israel",
    label: "IL",
  },
  {
    id: "JP",
    value: "Japan",
    label: "JP",
  },
  {
    id: "KR",
    value: "South Korea",
    label: "KR",
  },
  {
    id: "MY",
    value: "Malaysia",
    label: "MY",
  },
  {
    id: "MX",
    value: "Mexico",
    label: "MX",
  },
  {
    id: "PH",
    value: "Philippines",
    label: "PH",
  },
  {
    id: "SA",
    value: "Saudi Arabia",
    label: "SA",
  },
  {
    id: "SG",
    value: "Singapore",
    label: "SG",
  },
  {
    id: "ZA",
    value: "South Africa",
    label: "ZA",
  },
  {
    id: "TW",
    value: "Taiwan",
    label: "TW",
  },
  {
    id: "TH",
    value: "Thailand",
    label: "TH",
  },
  {
    id: "TR",
    value: "Turkey",
    label: "TR",
  },
  {
    id: "AE",
    value: "United Arab Emirates",
    label: "AE",
  },
  {
    id: "VN",
    value: "Vietnam",
    label: "VN",
  },
];

export const REGION_ALIASES: Readonly<Record<string, string>> = { UK: "GB" };

export const INDUSTRIES: readonly Industry[] = [
  {
    id: 10000000000,
    value: "Education",
    label: "label_10000000000",
  },
  {
    id: 11000000000,
    value: "Vehicle & Transportation",
    label: "label_11000000000",
  },
  {
    id: 12000000000,
    value: "Baby, Kids & Maternity",
    label: "label_12000000000",
  },
  {
    id: 13000000000,
    value: "Financial Services",
    label: "label_13000000000",
  },
  {
    id: 14000000000,
    value: "Beauty & Personal Care",
    label: "label_14000000000",
  },
  {
    id: 15000000000,
    value: "Tech & Electronics",
    label: "label_15000000000",
  },
  {
    id: 17000000000,
    value: "Travel",
    label: "label_17000000000",
  },
  {
    id: 18000000000,
    value: "Household Products",
    label: "label_18000000000",
  },
  {
    id: 19000000000,
    value: "Pets",
    label: "label_19000000000",
  },
  {
    id: 21000000000,
    value: "Home Improvement",
    label: "label_21000000000",
  },
  {
    id: 22000000000,
    value: "Apparel & Accessories",
    label: "label_22000000000",
  },
  {
    id: 23000000000,
    value: "News & Entertainment",
    label: "label_23000000000",
  },
  {
    id: 24000000000,
    value: "Business Services",
    label: "label_24000000000",
  },
  {
    id: 25000000000,
    value: "Games",
    label: "label_25000000000",
  },
  {
    id: 26000000000,
    value: "Life Services",
    label: "label_26000000000",
  },
  {
    id: 27000000000,
    value: "Food & Beverage",
    label: "label_27000000000",
  },
  {
    id: 28000000000,
    value: "Sports & Outdoor",
    label: "label_28000000000",
  },
  {
    id: 29000000000,
    value: "Health",
    label: "label_29000000000",
  },
];

const regionById = new Map(REGIONS.map((r) => [r.id, r]));
const industryById = new Map(INDUSTRIES.map((i) => [i.id, i]));

/** Supported chart region for a code (case-insensitive, `UK` → `GB`), or undefined. */
export function findRegion(code: string): Region | undefined {
  const upper = code.toUpperCase();
  return regionById.get(REGION_ALIASES[upper] ?? upper);
}

export function findIndustry(id: number): Industry | undefined {
  return industryById.get(id);
}

/** English names of countries outside the supported list, for `country_info` of `all_regions` charts. */
const displayNames = new Intl.DisplayNames(["en"], { type: "region" });

export function countryName(code: string): string {
  const supported = regionById.get(code);
  if (supported) return supported.value;
  try {
    return displayNames.of(code) ?? code;
  } catch {
    return code;
  }
}
