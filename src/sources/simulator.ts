/**
 * A deterministic synthetic TikTok world: countries, creators, tens of thousands of hashtags with
 * lifecycles, and videos that are observed repeatedly while their views grow. It feeds demos, tests
 * and benchmarks of the trend engine with a stream of `ObservationRecord`s that looks like what a
 * Research API crawler collects, small amounts of real-world dirt included.
 *
 * Everything derives from the seed: the same options give the same catalog and the same stream,
 * byte for byte. The stream is produced lazily in roughly `observed_at` order and only the videos
 * still being observed are held in memory, so its size does not grow with the number of days.
 */
import type { CatalogEntry, ObservationRecord } from "../domain/observation.js";
import { INDUSTRIES, REGIONS } from "../domain/reference-data.js";
import { SECONDS_PER_DAY } from "../lib/days.js";
import { invalidParameter } from "../lib/errors.js";
import { Rng } from "../lib/rng.js";

export interface SimulationOptions {
  seed: number;
  days: number;
  videosPerDay: number;
  /** First simulated UTC day, as a day number since 1970-01-01. */
  startDay: number;
}

/** Reported once at the start of every simulated day, e.g. for progress bars. */
export interface SimulationProgress {
  day: number;
  /** 0 for the first simulated day. */
  dayIndex: number;
  /** Videos that will be published on this day. */
  videosToday: number;
  observationsEmitted: number;
  /** Videos still being observed: the bulk of the generator's memory. */
  liveVideos: number;
  /** Observations held back to be emitted late or out of order. */
  delayedObservations: number;
}

export interface SimulationHooks {
  onDay?: (progress: SimulationProgress) => void;
}

export interface Simulation {
  readonly options: Readonly<SimulationOptions>;
  /** One entry per hashtag with an industry or a promoted flag, plus a share of the others. */
  readonly catalog: CatalogEntry[];
  readonly hashtagCount: number;
  readonly creatorCount: number;
  /**
   * A fresh stream of the whole period; every call replays the same observations. The
   * `hashtag_names` array is shared by the observations of one video (it is replaced, not mutated,
   * when the video's hashtags are edited), so treat it as read-only.
   */
  observations(hooks?: SimulationHooks): Generator<ObservationRecord, void, undefined>;
}

const SPD = SECONDS_PER_DAY;
/** Ids carry the publish second in their upper bits like TikTok's; this keeps them 19 digits. */
const LAST_SUPPORTED_DAY = 24_855;
/** Packs (second of day, creator) into one sortable number: creators stay below 2^22. */
const KEY_SHIFT = 4_194_304;
const MAX_CREATORS = 100_000;
const MIN_CREATORS = 20_000;
const MIN_HASHTAGS = 30_000;
const MAX_HASHTAGS = 50_000;
const MAX_TAGS_PER_VIDEO = 6;
/** Share of hashtags that belong to an industry. */
const INDUSTRY_SHARE = 0.6;
/** Distribution of the number of hashtags on a video, 0..6. */
const TAG_COUNT_WEIGHTS = [0.1, 0.13, 0.17, 0.2, 0.17, 0.13, 0.1];
/** Share of a video's hashtags drawn from its creator's country rather than worldwide. */
const P_LOCAL_TAG = 0.45;
/** How much a country-bound hashtag is used outside its home country, relative to inside. */
const FOREIGN_LEAK = 0.25;

const MAX_OBSERVATIONS = 15;
const FIRST_OBSERVATION_MIN_DELAY = 600;
const FIRST_OBSERVATION_MEAN_DELAY = 5 * 3600;
const FIRST_OBSERVATION_MAX_DELAY = 22 * 3600;

// Dirt, as probabilities per observation (cumulative thresholds below).
const P_EXACT_DUPLICATE = 0.003;
const P_CONFLICTING_DUPLICATE = 0.0015;
const P_LATE = 0.0025;
const P_OUT_OF_ORDER = 0.003;
const P_VIEW_DROP = 0.002;
const P_HASHTAG_EDIT = 0.003;
const P_PROFILE_CHANGE = 0.015;
const T_EXACT = P_EXACT_DUPLICATE;
const T_CONFLICT = T_EXACT + P_CONFLICTING_DUPLICATE;
const T_LATE = T_CONFLICT + P_LATE;
const T_OUT_OF_ORDER = T_LATE + P_OUT_OF_ORDER;
const T_DROP = T_OUT_OF_ORDER + P_VIEW_DROP;

/**
 * CONTINUE[n]: chance that a video seen n times is seen once more, about a day later. Crawlers
 * revisit fresh videos and lose interest after one to two weeks: about 7 observations per video.
 */
const CONTINUE: Float64Array = (() => {
  const p = new Float64Array(MAX_OBSERVATIONS + 1);
  for (let n = 1; n < MAX_OBSERVATIONS; n++) p[n] = n <= 3 ? 0.965 : Math.max(0.05, 0.965 - 0.06 * (n - 3));
  return p;
})();

/** Relative upload volume by UTC weekday (0 = Sunday), normalised to a mean of 1. */
const WEEKDAY_VOLUME: readonly number[] = (() => {
  const raw = [1.08, 0.95, 0.95, 0.97, 0.98, 1.0, 1.07];
  const mean = raw.reduce((a, b) => a + b, 0) / raw.length;
  return raw.map((v) => v / mean);
})();

/** When people post, by local hour: quiet nights, evening peak. */
const LOCAL_HOUR_WEIGHTS = [3, 2, 1.5, 1, 1, 1.2, 2, 3, 4, 4.5, 5, 5.5, 6, 6, 6, 6.5, 7, 8, 9, 10, 10, 9, 7, 5];

// ---------------------------------------------------------------------------------------------
// Reference vocabulary
// ---------------------------------------------------------------------------------------------

type Lang =
  "en" | "es" | "pt" | "id" | "tr" | "vi" | "th" | "ja" | "ko" | "ar" | "he" | "zh" | "de" | "fr" | "it" | "tl" | "pl" | "nl" | "ro";
const LANGS: readonly Lang[] = [
  "en",
  "es",
  "pt",
  "id",
  "tr",
  "vi",
  "th",
  "ja",
  "ko",
  "ar",
  "he",
  "zh",
  "de",
  "fr",
  "it",
  "tl",
  "pl",
  "nl",
  "ro",
];

/** Topics with an industry id (0: none) and their word in each of LANGS, in that order. */
const CONCEPTS: ReadonlyArray<readonly [number, string]> = [
  [27000000000, "food|comida|comida|makanan|yemek|ẩmthực|อาหาร|グルメ|먹방|اكل|אוכל|美食|essen|bouffe|cibo|pagkain|jedzenie|eten|mâncare"],
  [
    27000000000,
    "recipe|receta|receita|resep|tarif|côngthức|สูตรอาหาร|レシピ|레시피|وصفات|מתכון|食譜|rezept|recette|ricetta|resipe|przepis|recept|rețetă",
  ],
  [
    27000000000,
    "cooking|cocina|cozinha|masak|mutfak|nấuăn|ทำอาหาร|料理|요리|طبخ|בישול|做菜|kochen|cuisine|cucina|luto|gotowanie|koken|gătit",
  ],
  [27000000000, "coffee|cafecito|cafezinho|kopi|kahve|càphê|กาแฟ|コーヒー|커피|قهوة|קפה|咖啡|kaffee|café|caffè|kape|kawa|koffie|cafea"],
  [
    17000000000,
    "travel|viaje|viagem|jalanjalan|seyahat|dulịch|ท่องเที่ยว|旅行|여행|سفر|טיול|旅遊|reisen|voyage|viaggio|biyahe|podróże|reizen|călătorii",
  ],
  [17000000000, "beach|playa|praia|pantai|deniz|biển|ทะเล|海|바다|بحر|ים|海邊|strand|plage|mare|dagat|morze|zee|plajă"],
  [0, "love|amor|amor|cinta|aşk|tìnhyêu|ความรัก|恋愛|사랑|حب|אהבה|愛情|liebe|amour|amore|pagibig|miłość|liefde|dragoste"],
  [
    23000000000,
    "funny|humor|humor|lucu|komik|hàihước|ตลก|面白い|웃긴영상|مضحك|מצחיק|搞笑|lustig|humour|divertente|katatawanan|śmieszne|grappig|amuzant",
  ],
  [23000000000, "dance|baile|dança|joget|dans|nhảy|เต้น|ダンス|댄스|رقص|ריקוד|跳舞|tanzen|danse|ballo|sayaw|taniec|dansen|dansuri"],
  [
    23000000000,
    "music|música|músicas|musik|müzik|âmnhạc|เพลง|音楽|음악|موسيقى|מוזיקה|音樂|lieder|musique|musica|musika|muzyka|muziek|muzică",
  ],
  [
    28000000000,
    "football|fútbol|futebol|sepakbola|futbol|bóngđá|ฟุตบอล|サッカー|축구|كورة|כדורגל|足球|fußball|foot|calcio|basketball|piłkanożna|voetbal|fotbal",
  ],
  [
    29000000000,
    "workout|ejercicio|treino|olahraga|spor|tậpgym|ออกกำลังกาย|筋トレ|운동|تمارين|אימון|健身|training|muscu|allenamento|ehersisyo|trening|sporten|antrenament",
  ],
  [
    29000000000,
    "health|salud|saúde|kesehatan|sağlık|sứckhỏe|สุขภาพ|健康|건강|صحة|בריאות|養生|gesundheit|santé|salute|kalusugan|zdrowie|gezondheid|sănătate",
  ],
  [
    12000000000,
    "family|familia|família|keluarga|aile|giađình|ครอบครัว|家族|가족|عائلة|משפחה|家庭|familie|famille|famiglia|pamilya|rodzina|gezin|familia",
  ],
  [12000000000, "baby|bebé|bebê|bayi|bebek|embé|ลูก|赤ちゃん|아기|طفل|תינוק|寶寶|babyglück|bébé|neonato|sanggol|niemowlę|babytje|bebeluș"],
  [
    22000000000,
    "fashion|moda|modafeminina|fesyen|stil|thờitrang|แฟชั่น|ファッション|패션|موضة|אופנה|穿搭|mode|tenue|outfititalia|pormahan|stylizacja|kleding|modă",
  ],
  [
    14000000000,
    "makeup|maquillaje|maquiagem|riasan|makyaj|trangđiểm|แต่งหน้า|メイク|메이크업|مكياج|איפור|化妝|schminke|maquillage|trucco|kolorete|makijaż|opmaken|machiaj",
  ],
  [
    14000000000,
    "skincare|cuidadodelapiel|cuidadoscomapele|perawatanwajah|ciltbakımı|chămsócda|ดูแลผิว|スキンケア|스킨케어|العنايةبالبشرة|טיפוחעור|保養|hautpflege|soinsdelapeau|curadellapelle|pampaganda|pielęgnacja|huidverzorging|îngrijireapielii",
  ],
  [19000000000, "cat|gato|gatinho|kucing|kedi|mèo|แมว|猫|고양이|قطط|חתול|貓咪|katze|chat|gatto|pusa|kot|kat|pisică"],
  [19000000000, "dog|perro|cachorro|anjing|köpek|chó|หมา|犬|강아지|كلاب|כלב|狗狗|hund|chien|cane|aso|pies|hond|câine"],
  [13000000000, "money|dinero|dinheiro|uang|para|tiền|เงิน|お金|돈|فلوس|כסף|理財|geld|argent|soldi|pera|pieniądze|centjes|bani"],
  [
    24000000000,
    "business|negocio|negócios|bisnis|girişim|kinhdoanh|ธุรกิจ|起業|사업|بزنس|עסקים|創業|unternehmen|entreprise|affari|negosyo|biznes|ondernemen|afaceri",
  ],
  [
    10000000000,
    "school|escuela|escola|sekolah|okul|trườnghọc|โรงเรียน|学校|학교|مدرسة|ביתספר|學校|schule|école|scuola|eskwela|szkoła|schoolleven|școală",
  ],
  [11000000000, "car|carros|carro|mobil|araba|xehơi|รถยนต์|車|자동차|سيارات|רכב|汽車|autos|voiture|macchina|kotse|samochód|autos|mașină"],
  [18000000000, "home|hogar|casa|rumah|evim|nhàcửa|บ้าน|暮らし|집|بيت|בית|居家|zuhause|maison|casamia|bahay|dom|thuis|casă"],
  [
    21000000000,
    "decor|decoración|decoração|dekorasi|dekorasyon|trangtrí|แต่งบ้าน|インテリア|인테리어|ديكور|עיצוב|裝潢|deko|déco|arredamento|palamuti|wystrój|interieur|amenajare",
  ],
  [
    25000000000,
    "games|videojuegos|jogos|gamer|oyun|tròchơi|เกม|ゲーム|게임|العاب|גיימינג|遊戲|zocken|jeuxvidéo|videogiochi|laro|gry|gamen|jocuri",
  ],
  [
    15000000000,
    "tech|tecnología|tecnologia|teknologi|teknoloji|côngnghệ|เทคโนโลยี|ガジェット|테크|تقنية|טכנולוגיה|科技|technik|techno|tecnologico|teknolohiya|technologia|techniek|tehnologie",
  ],
  [
    26000000000,
    "wedding|boda|casamento|pernikahan|düğün|đámcưới|งานแต่ง|結婚式|결혼식|زفاف|חתונה|婚禮|hochzeit|mariage|matrimonio|kasal|ślub|bruiloft|nuntă",
  ],
  [
    0,
    "daily|rutina|rotina|harian|günlük|hằngngày|ชีวิตประจำวัน|日常|일상|يوميات|יומיום|日常生活|alltag|quotidien|quotidiano|arawaraw|codzienność|dagelijks|zilnic",
  ],
  [
    0,
    "friends|amigos|amigas|sahabat|arkadaş|bạnbè|เพื่อน|友達|친구|اصدقاء|חברים|朋友|freunde|amis|amici|barkada|przyjaciele|vrienden|prieteni",
  ],
  [
    23000000000,
    "news|noticias|notícias|berita|haber|tintức|ข่าว|ニュース|뉴스|اخبار|חדשות|新聞|nachrichten|actu|notizie|balita|wiadomości|nieuws|știri",
  ],
];

/** Each language's "for you" tags and a few modifiers used to build local names. */
const LANG_WORDS: Readonly<Record<Lang, { fyp: string; modifiers: string }>> = {
  en: { fyp: "fyp foryou viral", modifiers: "easy daily best new cute cozy quick homemade" },
  es: { fyp: "parati viral fyp", modifiers: "fácil casera rica bonita nueva diaria rápida" },
  pt: { fyp: "paravocê pravocê viral", modifiers: "fácil caseira gostosa linda nova diária rápida" },
  id: { fyp: "fyp fypシ viral", modifiers: "enak lucu murah viral mudah harian baru" },
  tr: { fyp: "keşfet keşfetteyiz", modifiers: "kolay lezzetli güzel yeni pratik komik" },
  vi: { fyp: "xuhướng xuhuong", modifiers: "ngon dễthương rẻ mới đẹp" },
  th: { fyp: "ฟีด fypシ", modifiers: "อร่อย น่ารัก ง่าย ใหม่ ถูก" },
  ja: { fyp: "おすすめ バズれ", modifiers: "簡単 かわいい 美味しい 新作 毎日" },
  ko: { fyp: "추천 추천떠라", modifiers: "쉬운 귀여운 맛있는 새로운 매일" },
  ar: { fyp: "اكسبلور explore", modifiers: "سهل جميل لذيذ جديد يومي" },
  he: { fyp: "פוריו foryou", modifiers: "קל יפה טעים חדש" },
  zh: { fyp: "推薦 熱門", modifiers: "簡單 可愛 好吃 新 每日" },
  de: { fyp: "fürdich fürdichseite", modifiers: "einfach lecker schön neu täglich schnell" },
  fr: { fyp: "pourtoi pourtoii", modifiers: "facile maison délicieux nouveau rapide" },
  it: { fyp: "perte neiperte", modifiers: "facile buono bello nuovo veloce" },
  tl: { fyp: "fyp foryou", modifiers: "masarap madali bago sulit" },
  pl: { fyp: "dlaciebie dc", modifiers: "łatwy pyszne nowy szybki domowy" },
  nl: { fyp: "voorjou viral", modifiers: "makkelijk lekker nieuw snel" },
  ro: { fyp: "pentrutine viral", modifiers: "ușor gustos nou rapid" },
};

/** English words by industry id (0: none). */
const EN_WORDS: ReadonlyArray<readonly [number, string]> = [
  [10000000000, "study school learn teacher math exam college science history homework student facts studytok biology physics chemistry"],
  [11000000000, "car cars carwash truck motorcycle jdm drift roadtrip supercar mechanic ev detailing offroad"],
  [12000000000, "baby mom momlife toddler pregnancy newborn parenting kids dad nursery twins momtok"],
  [13000000000, "money finance invest stocks crypto budget savings credit sidehustle realestate taxes wealth"],
  [14000000000, "makeup skincare hair nails lipstick glowup beauty serum perfume lashes haircare skin"],
  [15000000000, "tech iphone android gadget setup pc coding ai laptop smartphone techtok keyboard"],
  [17000000000, "travel beach hotel vacation trip flight island explore wanderlust traveltok resort"],
  [18000000000, "clean cleaning laundry organize organization restock declutter storage dishes cleantok"],
  [19000000000, "cat dog puppy kitten pet hamster parrot bunny pets doggo catlover"],
  [21000000000, "diy renovation interior decor garden woodworking paint furniture homedecor tiles plants"],
  [22000000000, "fashion outfit ootd sneakers streetwear dress style jeans thrift fitcheck shoes"],
  [23000000000, "news movie series kpop anime celebrity music concert drama comedy meme film"],
  [24000000000, "business marketing entrepreneur smallbusiness startup sales branding office career"],
  [25000000000, "gaming minecraft fortnite roblox gamer esports speedrun nintendo playstation"],
  [26000000000, "wedding barber tattoo salon delivery dentist repair photography plumber haircut"],
  [27000000000, "food recipe cooking foodie pasta coffee baking ramen bbq dessert pizza sushi mukbang snack"],
  [28000000000, "football soccer nba gym running hiking surf golf tennis boxing basketball cricket"],
  [29000000000, "health fitness yoga workout wellness mentalhealth nutrition sleep weightloss therapy"],
  [
    0,
    "love life vibes funny dance happy night summer winter morning friends couple story pov trend challenge random aesthetic cute girl boy sad mood weekend party sunset city art asmr satisfying relatable dream magic moon star sun rain chill cozy retro wild sweet spicy golden pink blue green black holiday christmas halloween spring autumn birthday sister brother bestie vlog prank duet transition lipsync glow soft main cottage dark clean girl y2k",
  ],
];
const EN_SUFFIXES =
  "tok life vibes time check hack hacks tips lover lovers gram day challenge core club goals addict daily routine haul tutorial review inspo ideas era season trend edit squad world vlog 101 mode".split(
    " ",
  );
const EN_PREFIXES =
  "my daily diy asmr mini best easy quick summer winter late cozy budget healthy homemade real pro lazy tiny vintage weekend aesthetic new".split(
    " ",
  );

/** The everyday worldwide hashtags and their relative weight: they top every chart. */
const HEAD_HASHTAGS =
  "fyp:1.2 foryou:0.7 foryoupage:0.55 viral:0.5 fypシ:0.35 trending:0.25 tiktok:0.2 funny:0.15 love:0.15 xyzbca:0.12 " +
  "duet:0.1 comedy:0.1 dance:0.1 music:0.09 fypage:0.09 capcut:0.09 trend:0.08 foodtok:0.08 booktok:0.07 cleantok:0.06 " +
  "football:0.07 anime:0.07 gaming:0.07 cat:0.06 dog:0.06 makeup:0.06 skincare:0.06 fashion:0.06 ootd:0.05 grwm:0.05 " +
  "fitness:0.05 gym:0.05 travel:0.05 food:0.05 recipe:0.05 asmr:0.05 art:0.04 pov:0.04 storytime:0.04 couple:0.04 " +
  "family:0.04 baby:0.04 cars:0.04 memes:0.04 explore:0.04 satisfying:0.04 aesthetic:0.03 relatable:0.03 vlog:0.03 kpop:0.03";

interface CountryProfile {
  readonly weight: number;
  /** Hours from UTC, for when people post. */
  readonly utcOffset: number;
  readonly lang: Lang;
  readonly names: NameGroupKey;
  readonly cdn: "va" | "us" | "sg" | "eu";
  readonly places: string;
}

type NameGroupKey = Lang | "ng" | "pk" | "bd";

/** Relative TikTok usage, roughly like published audience sizes. */
const COUNTRY_PROFILES: Readonly<Record<string, CountryProfile>> = {
  US: { weight: 136, utcOffset: -6, lang: "en", names: "en", cdn: "us", places: "usa nyc texas cali florida chicago southern america" },
  FR: { weight: 22, utcOffset: 1, lang: "fr", names: "fr", cdn: "eu", places: "paris france marseille lyon français bretagne" },
  DE: { weight: 22, utcOffset: 1, lang: "de", names: "de", cdn: "eu", places: "deutschland berlin münchen hamburg bayern deutsch köln" },
  IT: { weight: 20, utcOffset: 1, lang: "it", names: "it", cdn: "eu", places: "italia roma napoli milano sicilia italiano" },
  ES: { weight: 18, utcOffset: 1, lang: "es", names: "es", cdn: "eu", places: "españa madrid barcelona sevilla valencia andalucía" },
  GB: { weight: 23, utcOffset: 0, lang: "en", names: "en", cdn: "eu", places: "uk london british manchester scotland wales brit" },
  AR: { weight: 18, utcOffset: -3, lang: "es", names: "es", cdn: "va", places: "argentina buenosaires mate asado argento" },
  AU: { weight: 10, utcOffset: 10, lang: "en", names: "en", cdn: "sg", places: "aussie australia sydney melbourne brisbane straya" },
  BR: { weight: 131, utcOffset: -3, lang: "pt", names: "pt", cdn: "va", places: "brasil saopaulo rio nordeste funk sertanejo carioca" },
  CA: { weight: 15, utcOffset: -5, lang: "en", names: "en", cdn: "us", places: "canada toronto vancouver montreal canadian" },
  CO: { weight: 24, utcOffset: -5, lang: "es", names: "es", cdn: "va", places: "colombia bogotá medellín barranquilla paisa" },
  EG: { weight: 36, utcOffset: 2, lang: "ar", names: "ar", cdn: "eu", places: "مصر egypt cairo القاهرة masr" },
  ID: { weight: 157, utcOffset: 7, lang: "id", names: "id", cdn: "sg", places: "indonesia jakarta bandung jawa bali sunda" },
  IL: { weight: 3, utcOffset: 2, lang: "he", names: "he", cdn: "eu", places: "ישראל israel telaviv ירושלים" },
  JP: { weight: 25, utcOffset: 9, lang: "ja", names: "ja", cdn: "sg", places: "日本 東京 大阪 japan tokyo 関西" },
  KR: { weight: 5, utcOffset: 9, lang: "ko", names: "ko", cdn: "sg", places: "한국 서울 부산 korea seoul" },
  MY: { weight: 28, utcOffset: 8, lang: "id", names: "id", cdn: "sg", places: "malaysia kl johor penang sabah" },
  MX: { weight: 85, utcOffset: -6, lang: "es", names: "es", cdn: "va", places: "méxico mexico cdmx monterrey guadalajara jalisco" },
  PH: { weight: 62, utcOffset: 8, lang: "tl", names: "tl", cdn: "sg", places: "pinoy pilipinas manila cebu davao pinay" },
  SA: { weight: 35, utcOffset: 3, lang: "ar", names: "ar", cdn: "eu", places: "السعودية الرياض جدة ksa riyadh" },
  SG: { weight: 3, utcOffset: 8, lang: "en", names: "en", cdn: "sg", places: "singapore sg sgfood hawker" },
  ZA: { weight: 12, utcOffset: 2, lang: "en", names: "en", cdn: "eu", places: "mzansi southafrica joburg capetown durban" },
  TW: { weight: 5, utcOffset: 8, lang: "zh", names: "zh", cdn: "sg", places: "台灣 台北 taiwan 高雄 台中" },
  TH: { weight: 50, utcOffset: 7, lang: "th", names: "th", cdn: "sg", places: "ไทย กรุงเทพ thailand bangkok เชียงใหม่" },
  TR: { weight: 38, utcOffset: 3, lang: "tr", names: "tr", cdn: "eu", places: "türkiye istanbul ankara izmir türk" },
  AE: { weight: 8, utcOffset: 4, lang: "ar", names: "ar", cdn: "eu", places: "dubai الامارات uae abudhabi دبي" },
  VN: { weight: 65, utcOffset: 7, lang: "vi", names: "vi", cdn: "sg", places: "việtnam vietnam hànội sàigòn đànẵng" },
};

/** Countries without a chart of their own: they only count in `all_regions`. */
const OTHER_COUNTRIES: Readonly<Record<string, CountryProfile>> = {
  NG: { weight: 20, utcOffset: 1, lang: "en", names: "ng", cdn: "eu", places: "naija lagos nigeria abuja afrobeats jollof" },
  PK: { weight: 30, utcOffset: 5, lang: "en", names: "pk", cdn: "sg", places: "pakistan lahore karachi desi پاکستان islamabad" },
  PL: { weight: 10, utcOffset: 1, lang: "pl", names: "pl", cdn: "eu", places: "polska warszawa kraków polski" },
  NL: { weight: 7, utcOffset: 1, lang: "nl", names: "nl", cdn: "eu", places: "nederland amsterdam rotterdam dutch" },
  RO: { weight: 9, utcOffset: 2, lang: "ro", names: "ro", cdn: "eu", places: "românia bucurești românesc cluj" },
  IQ: { weight: 15, utcOffset: 3, lang: "ar", names: "ar", cdn: "eu", places: "العراق بغداد iraq البصرة" },
  BD: { weight: 20, utcOffset: 6, lang: "en", names: "bd", cdn: "sg", places: "bangladesh dhaka বাংলাদেশ বাংলা" },
};

const DEFAULT_PROFILE: CountryProfile = { weight: 5, utcOffset: 0, lang: "en", names: "en", cdn: "eu", places: "" };

/** First and last names: `display` or `display/roman` when the display form is not Latin. */
const NAME_GROUPS: Readonly<Record<NameGroupKey, { first: string; last: string }>> = {
  en: {
    first:
      "Emma Olivia Ava Mia Sophia Chloe Becky Madison Jack Liam Noah James Lucas Ethan Tyler Jake Grace Lily Zoe Ryan Kayla Brandon Jess Megan",
    last: "Mae Smith Johnson Brown Miller Davis Wilson Taylor Clark Lewis Walker Hughes Evans Murphy",
  },
  es: {
    first: "María Sofía Valentina Lucía Camila Isabella Daniela José Juan Carlos Diego Mateo Santiago Luis Andrés Fernanda Ximena",
    last: "García Martínez López Hernández González Rodríguez Pérez Sánchez Ramírez Torres Flores Castillo",
  },
  pt: {
    first: "Ana Beatriz Júlia Larissa Gabriela João Pedro Lucas Gabriel Rafael Matheus Thiago Letícia Camila",
    last: "Silva Santos Oliveira Souza Costa Pereira Ferreira Almeida Lima Carvalho",
  },
  id: {
    first: "Putri Dewi Siti Ayu Rizky Budi Agus Dimas Fajar Nabila Rina Indah Bayu Aulia Nurul",
    last: "Pratama Saputra Wijaya Lestari Hidayat Kurniawan Santoso Rahman Sari Nugroho",
  },
  tr: {
    first: "Elif Zeynep Ayşe Merve Mehmet Ahmet Emre Burak Can Ece Deniz Yusuf Büşra",
    last: "Yılmaz Kaya Demir Şahin Çelik Yıldız Aydın Öztürk Arslan",
  },
  vi: { first: "Linh Thảo Minh Anh Hương Trang Hùng Tuấn Dũng Ngọc Vy Khánh", last: "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Đặng" },
  th: {
    first: "ปลา/pla น้ำ/nam ฝน/fon มายด์/mind เบียร์/beer พลอย/ploy แพรว/praew ต้น/ton บีม/beam แบงค์/bank",
    last: "Srisuk Chaiyaporn Wongsa Suksawat Boonmee Rattana",
  },
  ja: {
    first: "さくら/sakura ゆき/yuki はると/haruto ゆな/yuna れん/ren あおい/aoi ひな/hina そうた/sota みお/mio りく/riku",
    last: "佐藤/sato 鈴木/suzuki 高橋/takahashi 田中/tanaka 伊藤/ito 山本/yamamoto 中村/nakamura",
  },
  ko: {
    first: "민지/minji 지수/jisoo 서연/seoyeon 지훈/jihoon 서준/seojun 하은/haeun 도윤/doyoon 예린/yerin",
    last: "김/kim 이/lee 박/park 최/choi 정/jung 강/kang",
  },
  ar: {
    first: "محمد/mohamed أحمد/ahmed فاطمة/fatma عمر/omar نور/nour سارة/sara يوسف/youssef مريم/mariam خالد/khaled ليلى/layla",
    last: "العتيبي/alotaibi حسن/hassan علي/ali ابراهيم/ibrahim الشمري/alshammari محمود/mahmoud",
  },
  he: {
    first: "נועה/noa יעל/yael תמר/tamar איתי/itay דניאל/daniel עומר/omer שירה/shira",
    last: "כהן/cohen לוי/levi מזרחי/mizrahi פרץ/peretz ביטון/biton",
  },
  zh: {
    first: "小美/xiaomei 佳穎/chiaying 怡君/yichun 冠宇/kuanyu 承恩/chengen 品妍/pinyen 宥廷/youting",
    last: "陳/chen 林/lin 黃/huang 張/chang 李/lee 王/wang",
  },
  de: {
    first: "Lena Anna Laura Lea Mia Jonas Leon Lukas Finn Paul Jana Sophie Max",
    last: "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Hoffmann",
  },
  fr: {
    first: "Léa Chloé Manon Camille Inès Lucas Hugo Louis Théo Jules Emma Zoé",
    last: "Martin Bernard Dubois Thomas Robert Richard Petit Durand Lefèvre",
  },
  it: {
    first: "Giulia Sofia Aurora Alice Martina Francesco Alessandro Lorenzo Matteo Leonardo Chiara",
    last: "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Greco",
  },
  tl: {
    first: "Angel Princess Kim Jasmine Mark John Paolo Carlo Nicole Bea Joshua Kyla",
    last: "Santos Reyes Cruz Bautista Garcia Mendoza Villanueva Ramos",
  },
  pl: {
    first: "Zuzanna Julia Maja Zofia Hanna Jakub Kacper Szymon Antoni Filip",
    last: "Nowak Kowalski Wiśniewski Wójcik Kamiński Lewandowski Zieliński",
  },
  nl: { first: "Emma Julia Mila Sophie Tess Daan Sem Lucas Levi Finn Noor", last: "Jansen Bakker Visser Smit Meijer Mulder Bos" },
  ro: {
    first: "Maria Ioana Andreea Elena Alexandra Andrei Mihai Alexandru Ștefan Gabriel",
    last: "Popescu Ionescu Popa Constantin Stan Dumitru Stoica",
  },
  ng: { first: "Chinedu Ngozi Tunde Bola Emeka Aisha Chioma Kemi Ifeoma Segun", last: "Okafor Adeyemi Okonkwo Balogun Eze Bello Olawale" },
  pk: { first: "Ayesha Fatima Hira Zainab Ali Hamza Usman Bilal Ahmed Sana", last: "Khan Malik Butt Qureshi Shah Chaudhry Iqbal" },
  bd: { first: "Nusrat Tasnim Farhan Rahim Sadia Tanvir Mim Rifat", last: "Hossain Islam Rahman Akter Chowdhury Uddin" },
};

const EMOJIS = "🌸 ✨ 💕 🔥 😎 🦋 🍓 ⚽ 🎮 💫 🌙 👑 🐾 🎀 🌻 💜".split(" ");
const HANDLE_WORDS = "daily the real its official mr miss chef coach lady king queen vibes world life studio club".split(" ");
const NICK_NOUNS = "Kitchen World Life Corner Diary Studio Vlogs Official".split(" ");

const AVATAR_BASES: Readonly<Record<CountryProfile["cdn"], readonly string[]>> = {
  us: ["https://p16-sign.tiktokcdn-us.com/tos-useast5-avt-0068-tx/", "https://p19-sign.tiktokcdn-us.com/tos-useast5-avt-0068-tx/"],
  va: ["https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/", "https://p77-sign-va.tiktokcdn.com/tos-maliva-avt-0068/"],
  sg: ["https://p16-sign-sg.tiktokcdn.com/tos-alisg-avt-0068/", "https://p77-sign-sg.tiktokcdn.com/tos-alisg-avt-0068/"],
  eu: ["https://p16-sign-useast2a.tiktokcdn.com/tos-useast2a-avt-0068-euttp/", "https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/"],
};

/** Walker/Vose alias table: O(1) weighted choice, rebuilt in O(n) when the weights change. */
class AliasTable {
  n = 0;
  readonly prob: Float64Array;
  readonly alias: Int32Array;

  constructor(capacity: number) {
    this.prob = new Float64Array(Math.max(1, capacity));
    this.alias = new Int32Array(Math.max(1, capacity));
  }

  static of(weights: ArrayLike<number>): AliasTable {
    const table = new AliasTable(weights.length);
    const w = Float64Array.from(weights);
    table.build(w, w.length, new Int32Array(w.length), new Int32Array(w.length));
    return table;
  }

  build(w: Float64Array, n: number, small: Int32Array, large: Int32Array): void {
    const prob = this.prob;
    const alias = this.alias;
    this.n = n;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += w[i]!;
    if (!(sum > 0)) {
      for (let i = 0; i < n; i++) {
        prob[i] = 1;
        alias[i] = i;
      }
      return;
    }
    const scale = n / sum;
    let ns = 0;
    let nl = 0;
    for (let i = 0; i < n; i++) {
      const p = w[i]! * scale;
      prob[i] = p;
      if (p < 1) small[ns++] = i;
      else large[nl++] = i;
    }
    while (ns > 0 && nl > 0) {
      const s = small[--ns]!;
      const l = large[nl - 1]!;
      alias[s] = l;
      const rest = prob[l]! + prob[s]! - 1;
      prob[l] = rest;
      if (rest < 1) {
        nl--;
        small[ns++] = l;
      }
    }
    while (nl > 0) {
      const l = large[--nl]!;
      prob[l] = 1;
      alias[l] = l;
    }
    while (ns > 0) {
      const s = small[--ns]!;
      prob[s] = 1;
      alias[s] = s;
    }
  }

  sample(rng: Rng): number {
    const u = rng.float() * this.n;
    const i = u | 0;
    return u - i < this.prob[i]! ? i : this.alias[i]!;
  }
}

// ---------------------------------------------------------------------------------------------
// World: countries, hashtags, creators
// ---------------------------------------------------------------------------------------------

interface Country {
  readonly code: string;
  readonly profile: CountryProfile;
  readonly places: readonly string[];
}

/** Hashtag lifecycles: how a hashtag's popularity moves from day to day. */
const Lifecycle = { Evergreen: 0, Weekly: 1, Rising: 2, Decaying: 3, Spike: 4 } as const;

interface Hashtags {
  readonly count: number;
  readonly names: string[];
  /** Home country index, or -1 for worldwide hashtags. */
  readonly home: Int16Array;
  readonly base: Float64Array;
  readonly kind: Uint8Array;
  readonly p1: Float64Array;
  readonly p2: Float64Array;
  readonly p3: Float64Array;
  /** Hashtags at home in each country. */
  readonly members: Int32Array[];
  readonly catalog: CatalogEntry[];
}

/** A creator: what observations show of them, and what shapes their videos. */
interface CreatorProfile {
  readonly username: string;
  readonly nick: string;
  readonly avatar: string;
  readonly changedNick: string;
  readonly changedAvatar: string;
  /** When the profile changes (unix seconds); Infinity for most creators. */
  readonly changeAt: number;
  readonly regionCode: string;
  readonly country: number;
  /** Multiplier of the reach of the creator's videos. */
  readonly popularity: number;
}

interface Creators {
  readonly count: number;
  readonly profiles: CreatorProfile[];
  /** Country index of each creator, for the upload-time sampling. */
  readonly country: Uint8Array;
  /** How often each creator posts. */
  readonly activity: AliasTable;
}

interface World {
  readonly countries: readonly Country[];
  /** Seconds from UTC of each country, for when people post. */
  readonly countryOffset: Int32Array;
  readonly hashtags: Hashtags;
  readonly creators: Creators;
}

function words(list: string): string[] {
  return list.split(" ").filter((w) => w.length > 0);
}

function buildCountries(): Country[] {
  const countries: Country[] = [];
  for (const region of REGIONS) {
    const profile = COUNTRY_PROFILES[region.id] ?? DEFAULT_PROFILE;
    countries.push({ code: region.id, profile, places: words(profile.places) });
  }
  for (const [code, profile] of Object.entries(OTHER_COUNTRIES)) {
    if (countries.some((c) => c.code === code)) continue;
    countries.push({ code, profile, places: words(profile.places) });
  }
  return countries;
}

export function hashtagCountFor(videosPerDay: number): number {
  const scaled = MIN_HASHTAGS + 4000 * Math.log2(1 + Math.max(0, videosPerDay) / 1000);
  return Math.round(Math.min(MAX_HASHTAGS, scaled));
}

export function creatorCountFor(videosPerDay: number): number {
  return Math.round(Math.min(MAX_CREATORS, Math.max(MIN_CREATORS, videosPerDay * 4)));
}

const VALID_HASHTAG = /^[\p{L}\p{M}\p{N}_]+$/u;

interface Vocabulary {
  readonly enWords: readonly string[];
  readonly enIndustry: readonly number[];
  readonly enIndustryOf: ReadonlyMap<string, number>;
  /** Indices into enWords of the words sharing an industry (last: no industry). */
  readonly enGroupOf: ReadonlyArray<readonly number[]>;
  /** Per language: concept words and their industry index. */
  readonly concepts: ReadonlyArray<readonly string[]>;
  readonly conceptIndustry: readonly number[];
  readonly fyp: Readonly<Record<Lang, readonly string[]>>;
  readonly modifiers: Readonly<Record<Lang, readonly string[]>>;
}

function buildVocabulary(): Vocabulary {
  const industryIndex = new Map(INDUSTRIES.map((ind, i) => [ind.id, i]));
  const indexOf = (id: number): number => (id === 0 ? -1 : (industryIndex.get(id) ?? -1));
  const enWords: string[] = [];
  const enIndustry: number[] = [];
  const enIndustryOf = new Map<string, number>();
  const groups = new Map<number, number[]>();
  for (const [id, list] of EN_WORDS) {
    for (const w of words(list)) {
      if (enIndustryOf.has(w)) continue;
      const industry = indexOf(id);
      let group = groups.get(industry);
      if (!group) groups.set(industry, (group = []));
      group.push(enWords.length);
      enWords.push(w);
      enIndustry.push(industry);
      enIndustryOf.set(w, industry);
    }
  }
  const enGroupOf = enIndustry.map((industry) => groups.get(industry)!);
  const concepts = CONCEPTS.map(([, list]) => list.split("|"));
  const conceptIndustry = CONCEPTS.map(([id]) => indexOf(id));
  const fyp = {} as Record<Lang, string[]>;
  const modifiers = {} as Record<Lang, string[]>;
  for (const lang of LANGS) {
    fyp[lang] = words(LANG_WORDS[lang].fyp);
    modifiers[lang] = words(LANG_WORDS[lang].modifiers);
  }
  return { enWords, enIndustry, enIndustryOf, enGroupOf, concepts, conceptIndustry, fyp, modifiers };
}

/** A hashtag name and the industry (index into INDUSTRIES, -1 none) its words suggest. */
interface NameIdea {
  name: string;
  industry: number;
}

function englishName(rng: Rng, vocab: Vocabulary, year: number, out: NameIdea): void {
  const a = rng.below(vocab.enWords.length);
  const word = vocab.enWords[a]!;
  let industry = vocab.enIndustry[a]!;
  const u = rng.float();
  let name: string;
  if (u < 0.33) name = word + rng.pick(EN_SUFFIXES);
  else if (u < 0.52) name = rng.pick(EN_PREFIXES) + word;
  else if (u < 0.86) {
    // Mostly two words of one topic ("dogmom", "carwash"), sometimes anything goes.
    const b = rng.float() < 0.6 ? rng.pick(vocab.enGroupOf[a]!) : rng.below(vocab.enWords.length);
    name = word + vocab.enWords[b]!;
    if (industry < 0) industry = vocab.enIndustry[b]!;
  } else if (u < 0.93) name = word + (rng.float() < 0.5 ? "" : rng.pick(EN_SUFFIXES)) + String(year + rng.int(0, 1));
  else if (u < 0.97) name = word + "oftiktok";
  else name = word;
  out.name = name;
  out.industry = industry;
}

function localName(rng: Rng, vocab: Vocabulary, country: Country, year: number, out: NameIdea): void {
  const lang = country.profile.lang;
  const li = LANGS.indexOf(lang);
  const c = rng.below(vocab.concepts.length);
  const word = vocab.concepts[c]![li]!;
  let industry = vocab.conceptIndustry[c]!;
  const place = country.places.length > 0 ? rng.pick(country.places) : rng.pick(vocab.fyp[lang]!);
  const u = rng.float();
  let name: string;
  if (u < 0.25) name = rng.float() < 0.5 ? word + place : place + word;
  else if (u < 0.45) {
    const c2 = rng.below(vocab.concepts.length);
    name = word + vocab.concepts[c2]![li]!;
    if (industry < 0) industry = vocab.conceptIndustry[c2]!;
  } else if (u < 0.6) name = word + rng.pick(vocab.modifiers[lang]!);
  else if (u < 0.72) name = word + rng.pick(["tiktok", "tok", String(year), String(year + 1)]);
  else if (u < 0.84) {
    const fyp = rng.pick(vocab.fyp[lang]!);
    const v = rng.float();
    name = v < 0.4 ? fyp + place : v < 0.7 ? place + fyp : word + fyp;
    if (v < 0.7) industry = -1;
  } else if (u < 0.92) {
    name = place + rng.pick(EN_SUFFIXES);
    industry = -1;
  } else if (u < 0.96) name = word;
  else {
    name = place;
    industry = -1;
  }
  out.name = name;
  out.industry = industry;
}

function hashtagId(rng: Rng): string {
  const u = rng.float();
  const length = u < 0.25 ? 16 : u < 0.35 ? 17 : u < 0.5 ? 18 : 19;
  let id = String(length === 19 ? rng.int(6, 7) : rng.int(1, 9));
  while (id.length < length) id += String(rng.int(0, 9));
  return id;
}

function buildHashtags(rng: Rng, opts: SimulationOptions, countries: readonly Country[], countryTable: AliasTable): Hashtags {
  const vocab = buildVocabulary();
  const count = hashtagCountFor(opts.videosPerDay);
  const year = new Date(opts.startDay * SPD * 1000).getUTCFullYear();
  const names: string[] = [];
  const home = new Int16Array(count);
  const base = new Float64Array(count);
  const kind = new Uint8Array(count);
  const p1 = new Float64Array(count);
  const p2 = new Float64Array(count);
  const p3 = new Float64Array(count);
  const hint = new Int8Array(count);
  const seen = new Set<string>();

  for (const entry of words(HEAD_HASHTAGS)) {
    const [name, weight] = entry.split(":");
    if (!name || seen.has(name) || names.length >= count) continue;
    const h = names.length;
    names.push(name);
    seen.add(name);
    home[h] = -1;
    base[h] = Number(weight);
    kind[h] = Lifecycle.Evergreen;
    p1[h] = rng.between(0, 0.1);
    p2[h] = rng.between(30, 120);
    p3[h] = rng.between(0, 2 * Math.PI);
    hint[h] = vocab.enIndustryOf.get(name) ?? -1;
  }
  const headCount = names.length;

  const idea: NameIdea = { name: "", industry: -1 };
  const start = opts.startDay;
  while (names.length < count) {
    const h = names.length;
    const homeIndex = rng.float() < 0.72 ? countryTable.sample(rng) : -1;
    const country = homeIndex >= 0 ? countries[homeIndex]! : undefined;
    for (let attempt = 0; ; attempt++) {
      const useLocal = country !== undefined && rng.float() < (country.profile.lang === "en" ? 0.3 : 0.6);
      if (useLocal) localName(rng, vocab, country, year, idea);
      else englishName(rng, vocab, year, idea);
      // Real users disambiguate taken names with digits; so does the generator after a few tries.
      if (attempt >= 6) idea.name += String(rng.int(1, attempt >= 12 ? 99_999 : 99));
      if (idea.name.length <= 60 && VALID_HASHTAG.test(idea.name) && idea.name === idea.name.toLowerCase() && !seen.has(idea.name)) break;
    }
    names.push(idea.name);
    seen.add(idea.name);
    home[h] = homeIndex;
    hint[h] = idea.industry;
    // Long-tail popularity by rank, continuing below the head hashtags.
    base[h] = 1.5 / Math.pow(h - headCount + 40, 1.02);
    const u = rng.float();
    if (u < 0.45) {
      kind[h] = Lifecycle.Evergreen;
      p1[h] = rng.between(0, 0.3);
      p2[h] = rng.between(20, 120);
      p3[h] = rng.between(0, 2 * Math.PI);
    } else if (u < 0.53) {
      kind[h] = Lifecycle.Weekly;
      p1[h] = rng.between(0.4, 0.9);
      p2[h] = rng.int(0, 6);
    } else if (u < 0.68) {
      kind[h] = Lifecycle.Rising;
      base[h] *= 3;
      p1[h] = start - 5 + rng.float() * (opts.days + 10);
      p2[h] = rng.between(1.5, 12);
      p3[h] = rng.between(0.01, 0.1);
    } else if (u < 0.85) {
      kind[h] = Lifecycle.Decaying;
      p1[h] = start - 20 + rng.float() * (opts.days + 20);
      p2[h] = rng.between(2, 20);
      p3[h] = rng.between(4, 15);
    } else {
      kind[h] = Lifecycle.Spike;
      const period = rng.int(20, 400);
      p2[h] = period;
      p1[h] = start + rng.int(0, period - 1);
      p3[h] = rng.between(15, 60);
    }
  }

  const members: Int32Array[] = countries.map(() => new Int32Array(0));
  const memberCounts = new Int32Array(countries.length);
  for (let h = 0; h < count; h++) if (home[h]! >= 0) memberCounts[home[h]!]!++;
  for (let c = 0; c < countries.length; c++) members[c] = new Int32Array(memberCounts[c]!);
  memberCounts.fill(0);
  for (let h = 0; h < count; h++) {
    const c = home[h]!;
    if (c >= 0) members[c]![memberCounts[c]!++] = h;
  }

  // Names whose words suggest an industry usually carry it; the others get one at a rate that
  // brings the overall share to about 60%.
  let hinted = 0;
  for (let h = 0; h < count; h++) if (hint[h]! >= 0) hinted++;
  const hintedShare = hinted / Math.max(1, count);
  const keepHint = Math.min(0.9, INDUSTRY_SHARE / Math.max(1e-9, hintedShare));
  const otherRate = Math.min(1, Math.max(0, (INDUSTRY_SHARE - keepHint * hintedShare) / Math.max(1e-9, 1 - hintedShare)));
  const catalog: CatalogEntry[] = [];
  const ids = new Set<string>();
  for (let h = 0; h < count; h++) {
    let industry = -1;
    if (hint[h]! >= 0) {
      if (rng.float() < keepHint) industry = hint[h]!;
    } else if (rng.float() < otherRate) industry = rng.below(INDUSTRIES.length);
    const promoted = rng.float() < (industry >= 0 ? 0.045 : 0.01);
    const listed = industry >= 0 || promoted || rng.float() < 0.25;
    if (!listed) continue;
    let id = hashtagId(rng);
    while (ids.has(id)) id = hashtagId(rng);
    ids.add(id);
    catalog.push({
      hashtag_name: names[h]!,
      hashtag_id: id,
      industry_id: industry >= 0 ? INDUSTRIES[industry]!.id : null,
      is_promoted: promoted,
    });
  }

  return { count, names, home, base, kind, p1, p2, p3, members, catalog };
}

interface Person {
  display: string;
  roman: string;
}

function parsePeople(list: string): Person[] {
  return words(list).map((entry) => {
    const [display = entry, roman] = entry.split("/");
    return { display, roman: roman ?? asciiFold(display) };
  });
}

function asciiFold(text: string): string {
  return text
    .toLowerCase()
    .replace(/ı/g, "i")
    .replace(/ł/g, "l")
    .replace(/đ/g, "d")
    .replace(/ß/g, "ss")
    .normalize("NFD")
    .replace(/[^a-z0-9]/g, "");
}

function capitalize(text: string): string {
  return text.length === 0 ? text : text[0]!.toUpperCase() + text.slice(1);
}

function hex32(rng: Rng): string {
  let out = "";
  for (let i = 0; i < 4; i++) out += rng.u32().toString(16).padStart(8, "0");
  return out;
}

function avatarUrl(rng: Rng, country: Country): string {
  return rng.pick(AVATAR_BASES[country.profile.cdn]) + hex32(rng) + "~c5_100x100.jpeg";
}

function makeUsername(rng: Rng, first: Person, last: Person): string {
  const f = first.roman;
  const l = last.roman;
  const u = rng.float();
  let name: string;
  if (u < 0.25) name = f + l;
  else if (u < 0.35) name = f + "." + l;
  else if (u < 0.43) name = f + "_" + l;
  else if (u < 0.63) name = f + l + String(rng.int(1, 9999));
  else if (u < 0.75) name = f + String(rng.int(1, 999));
  else if (u < 0.83) name = "user" + String(rng.int(1_000_000, 9_999_999)) + String(rng.int(100, 99_999));
  else if (u < 0.93) name = rng.pick(HANDLE_WORDS) + f;
  else name = f + rng.pick(HANDLE_WORDS);
  return name.slice(0, 24);
}

function makeNick(rng: Rng, first: Person, last: Person, username: string): string {
  // Chinese, Japanese and Korean names put the family name first, without a space.
  const cjk = /[\p{Script=Han}\p{Script=Hangul}\p{Script=Hiragana}\p{Script=Katakana}]/u.test(first.display);
  const u = rng.float();
  if (u < 0.28) return cjk ? `${last.display}${first.display}` : `${first.display} ${last.display}`;
  if (u < 0.43) return first.display;
  if (u < 0.55) return username;
  if (u < 0.68) return `${first.display} ${rng.pick(EMOJIS)}`;
  if (u < 0.78) return `${capitalize(first.roman)} ${capitalize(last.roman)}`;
  if (u < 0.88) return `${capitalize(first.roman)}'s ${rng.pick(NICK_NOUNS)}`;
  if (u < 0.94) return `${rng.pick(EMOJIS)} ${first.display.toLowerCase()} ${rng.pick(EMOJIS)}`;
  return first.display.toUpperCase();
}

function buildCreators(rng: Rng, opts: SimulationOptions, countries: readonly Country[], countryTable: AliasTable): Creators {
  const count = creatorCountFor(opts.videosPerDay);
  const groups = new Map<NameGroupKey, { first: Person[]; last: Person[] }>();
  for (const [key, group] of Object.entries(NAME_GROUPS) as Array<[NameGroupKey, { first: string; last: string }]>) {
    groups.set(key, { first: parsePeople(group.first), last: parsePeople(group.last) });
  }
  const country = new Uint8Array(count);
  const profiles: CreatorProfile[] = [];
  const activity = new Float64Array(count);
  const taken = new Set<string>();
  const periodStart = opts.startDay * SPD;
  const periodLength = opts.days * SPD;

  for (let i = 0; i < count; i++) {
    const ci = countryTable.sample(rng);
    const home = countries[ci]!;
    const group = groups.get(home.profile.names) ?? groups.get("en")!;
    const first = rng.pick(group.first);
    const last = rng.pick(group.last);
    let username = makeUsername(rng, first, last);
    while (username.length < 2 || taken.has(username)) username = (username + String(rng.int(0, 99))).slice(-24);
    taken.add(username);
    const nick = makeNick(rng, first, last, username);
    const avatar = avatarUrl(rng, home);
    activity[i] = Math.exp(1.2 * rng.normal());
    // Most creators have ordinary reach; a few percent are much more popular.
    let popularity = Math.exp(0.6 * rng.normal());
    if (rng.float() < 0.02) popularity *= Math.min(400, 8 * Math.pow(1 - rng.float(), -1 / 1.2));
    let changeAt = Infinity;
    let changedNick = nick;
    let changedAvatar = avatar;
    if (rng.float() < P_PROFILE_CHANGE) {
      changeAt = periodStart + Math.floor(rng.float() * periodLength);
      const what = rng.float();
      if (what < 0.7) changedNick = rng.float() < 0.5 ? `${nick} ${rng.pick(EMOJIS)}` : makeNick(rng, first, last, username);
      if (what >= 0.5) changedAvatar = avatarUrl(rng, home);
    }
    country[i] = ci;
    profiles.push({ username, nick, avatar, changedNick, changedAvatar, changeAt, regionCode: home.code, country: ci, popularity });
  }
  return { count, profiles, country, activity: AliasTable.of(activity) };
}

function buildWorld(opts: SimulationOptions): World {
  const rng = new Rng(opts.seed, 1);
  const countries = buildCountries();
  const countryTable = AliasTable.of(countries.map((c) => c.profile.weight));
  const hashtags = buildHashtags(rng, opts, countries, countryTable);
  const creators = buildCreators(new Rng(opts.seed, 2), opts, countries, countryTable);
  return {
    countries,
    countryOffset: Int32Array.from(countries, (c) => Math.round(c.profile.utcOffset * 3600)),
    hashtags,
    creators,
  };
}

// ---------------------------------------------------------------------------------------------
// Videos and their observations
// ---------------------------------------------------------------------------------------------

// A video's numbers sit side by side in one row of `VideoPool.num`, and what an observation shows
// of it in one row of `VideoPool.refs`: reading a video costs two cache lines, not one per field.
const V_CREATE = 0;
const V_FINAL = 1;
/** Seconds until half of the final views are reached. */
const V_HALF_LIFE = 2;
const V_SHAPE = 3;
const V_LAST_VIEWS = 4;
/** When the creator's profile changes (Infinity when it does not). */
const V_CHANGE_AT = 5;
const V_SEEN = 6;
/** 256 * creator's country + the observation that edits the hashtags (0: none). */
const V_COUNTRY_EDIT = 7;
const V_STRIDE = 8;

const R_ID = 0;
const R_TAGS = 1;
const R_USERNAME = 2;
const R_REGION = 3;
const R_NICK = 4;
const R_AVATAR = 5;
const R_CHANGED_NICK = 6;
const R_CHANGED_AVATAR = 7;
const R_STRIDE = 8;

/** The videos still being observed, by slot; slots of finished videos are reused. */
class VideoPool {
  capacity = 0;
  num: Float64Array = new Float64Array(0);
  refs: Array<string | string[]> = [];
  private free = new Int32Array(0);
  private freeCount = 0;
  live = 0;

  alloc(): number {
    if (this.freeCount === 0) this.grow();
    this.live++;
    return this.free[--this.freeCount]!;
  }

  release(slot: number): void {
    // Drop the id and hashtags so finished videos can be collected.
    this.refs[slot * R_STRIDE + R_ID] = "";
    this.refs[slot * R_STRIDE + R_TAGS] = NO_TAGS;
    this.free[this.freeCount++] = slot;
    this.live--;
  }

  private grow(): void {
    const old = this.capacity;
    const cap = Math.max(1024, old * 2);
    const num = new Float64Array(cap * V_STRIDE);
    num.set(this.num);
    this.num = num;
    for (let i = old; i < cap; i++) this.refs.push("", NO_TAGS, "", "", "", "", "", "");
    const free = new Int32Array(cap);
    free.set(this.free.subarray(0, this.freeCount));
    // Hand out low slots first so the pool stays compact.
    for (let i = cap - 1; i >= old; i--) free[this.freeCount++] = i;
    this.free = free;
    this.capacity = cap;
  }
}

const NO_TAGS: string[] = [];

function pad7(n: number): string {
  const s = String(n);
  return s.length >= 7 ? s : "0000000".slice(s.length) + s;
}

/**
 * Decimal of `seconds * 2^32 + low` without BigInt: TikTok ids keep the publish second in their
 * upper 32 bits, which makes them grow with time.
 */
export function videoIdFor(seconds: number, low: number): string {
  const t1 = Math.floor(seconds / 1e7);
  const t0 = seconds - t1 * 1e7;
  let l0 = t0 * 4_967_296 + low;
  let carry = Math.floor(l0 / 1e7);
  l0 -= carry * 1e7;
  let l1 = t1 * 4_967_296 + t0 * 429 + carry;
  carry = Math.floor(l1 / 1e7);
  l1 -= carry * 1e7;
  const l2 = t1 * 429 + carry;
  return l2 > 0 ? String(l2) + pad7(l1) + pad7(l0) : l1 > 0 ? String(l1) + pad7(l0) : String(l0);
}

interface Delayed {
  at: number;
  seq: number;
  record: ObservationRecord;
}

/** Observations held back to be emitted late, ordered by release time then arrival. */
class DelayQueue {
  private items: Delayed[] = [];
  private seq = 0;

  get size(): number {
    return this.items.length;
  }

  peekAt(): number {
    return this.items.length > 0 ? this.items[0]!.at : Infinity;
  }

  push(at: number, record: ObservationRecord): void {
    const items = this.items;
    const item: Delayed = { at, seq: this.seq++, record };
    let i = items.length;
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, items[parent]!)) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  pop(): ObservationRecord {
    const items = this.items;
    const top = items[0]!;
    const last = items.pop()!;
    const n = items.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && before(items[r]!, items[l]!) ? r : l;
        if (!before(items[c]!, last)) break;
        items[i] = items[c]!;
        i = c;
      }
      items[i] = last;
    }
    return top.record;
  }
}

function before(a: Delayed, b: Delayed): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function copyRecord(r: ObservationRecord): ObservationRecord {
  return {
    id: r.id,
    create_time: r.create_time,
    region_code: r.region_code,
    hashtag_names: r.hashtag_names,
    username: r.username,
    view_count: r.view_count,
    observed_at: r.observed_at,
    nick_name: r.nick_name,
    avatar_url: r.avatar_url,
  };
}

function lifecycle(kind: number, p1: number, p2: number, p3: number, day: number, dow: number): number {
  switch (kind) {
    case Lifecycle.Evergreen:
      return 1 + p1 * Math.sin((2 * Math.PI * day) / p2 + p3);
    case Lifecycle.Weekly:
      return 1 + p1 * Math.cos((2 * Math.PI * (dow - p2)) / 7);
    case Lifecycle.Rising:
      return p3 + (1 - p3) / (1 + Math.exp(-(day - p1) / p2));
    case Lifecycle.Decaying:
      return day < p1 ? 0.03 : 0.03 + p3 * Math.exp(-(day - p1) / p2);
    default: {
      // One-day spike, a little anticipation the day before and an echo the day after.
      const k = (((day - p1) % p2) + p2) % p2;
      return 0.05 + (k === 0 ? p3 : k === 1 ? 0.25 * p3 : k === p2 - 1 ? 0.1 * p3 : 0);
    }
  }
}

function weekday(day: number): number {
  return (((day + 4) % 7) + 7) % 7;
}

/** One pass over the period: all per-run state lives here, so runs replay identically. */
class Run {
  private readonly rng: Rng;
  private readonly pool = new VideoPool();
  /** Min-heap of live videos by the time of their next observation. */
  private heapSlots = new Int32Array(1024);
  private heapKeys: Float64Array = new Float64Array(1024);
  private heapSize = 0;
  private readonly delayed = new DelayQueue();
  private readonly globalTags: AliasTable;
  private readonly localTags: AliasTable[];
  private readonly tagCount: AliasTable;
  private readonly hourTable: AliasTable;
  private readonly dayWeight: Float64Array;
  private readonly work: Float64Array;
  private readonly small: Int32Array;
  private readonly large: Int32Array;
  private keys = new Float64Array(0);
  private dayVideos = 0;
  private videoSeq = 0;
  private emitted = 0;
  private readonly chosen = new Int32Array(MAX_TAGS_PER_VIDEO);
  private readonly endTime: number;
  private readonly endDay: number;
  private day: number;
  private dayStart = 0;
  /** Index in `keys` of the next video to publish today. */
  private nextVideo = 0;

  constructor(
    private readonly world: World,
    private readonly opts: SimulationOptions,
    private readonly hooks: SimulationHooks,
  ) {
    this.rng = new Rng(opts.seed, 3);
    const h = world.hashtags;
    this.globalTags = new AliasTable(h.count);
    this.localTags = h.members.map((m) => new AliasTable(m.length));
    this.tagCount = AliasTable.of(TAG_COUNT_WEIGHTS);
    this.hourTable = AliasTable.of(LOCAL_HOUR_WEIGHTS);
    this.dayWeight = new Float64Array(h.count);
    this.work = new Float64Array(h.count);
    this.small = new Int32Array(h.count);
    this.large = new Int32Array(h.count);
    this.endDay = opts.startDay + opts.days;
    this.endTime = this.endDay * SPD;
    this.day = opts.startDay - 1;
  }

  *generate(): Generator<ObservationRecord, void, undefined> {
    for (let record = this.step(); record !== undefined; record = this.step()) {
      this.emitted++;
      yield record;
    }
  }

  /**
   * The next observation to emit, or undefined at the end. A plain method rather than generator
   * code, so the engine optimises the hot path fully.
   */
  private step(): ObservationRecord | undefined {
    const delayed = this.delayed;
    for (;;) {
      const next = this.nextVideo;
      const createAt =
        next < this.dayVideos
          ? this.dayStart + Math.floor(this.keys[next]! / KEY_SHIFT)
          : this.day + 1 < this.endDay
            ? (this.day + 1) * SPD
            : Infinity;
      const observeAt = this.heapSize > 0 ? this.heapKeys[0]! : Infinity;
      if (createAt === Infinity && observeAt === Infinity) return delayed.size > 0 ? delayed.pop() : undefined;
      if (createAt <= observeAt) {
        if (next < this.dayVideos) {
          this.nextVideo = next + 1;
          this.createVideo(createAt, this.keys[next]! % KEY_SHIFT);
        } else {
          this.day++;
          this.dayStart = this.day * SPD;
          this.nextVideo = 0;
          this.prepareDay(this.day);
        }
        continue;
      }
      if (delayed.size > 0 && delayed.peekAt() <= observeAt) return delayed.pop();
      const record = this.observeTop(observeAt);
      if (record !== undefined) return record;
    }
  }

  /** Reads the video due next; returns its observation unless it is held back to come later. */
  private observeTop(t: number): ObservationRecord | undefined {
    const rng = this.rng;
    const pool = this.pool;
    const slot = this.heapSlots[0]!;
    const num = pool.num;
    const refs = pool.refs;
    const row = slot * V_STRIDE;
    const ref = slot * R_STRIDE;
    const n = num[row + V_SEEN]! + 1;
    num[row + V_SEEN] = n;
    const countryEdit = num[row + V_COUNTRY_EDIT]!;
    if (countryEdit % 256 === n) refs[ref + R_TAGS] = this.editTags(refs[ref + R_TAGS] as string[], Math.floor(countryEdit / 256));
    const x = (t - num[row + V_CREATE]!) / num[row + V_HALF_LIFE]!;
    const xa = Math.exp(num[row + V_SHAPE]! * Math.log(x));
    const views = Math.floor((num[row + V_FINAL]! * xa) / (1 + xa));
    const previous = num[row + V_LAST_VIEWS]!;
    num[row + V_LAST_VIEWS] = views;
    const dirt = rng.fast();
    let reported = views;
    if (dirt >= T_OUT_OF_ORDER && dirt < T_DROP && n >= 2 && previous >= 20) reported = Math.floor(previous * rng.between(0.8, 0.99));
    const changed = t >= num[row + V_CHANGE_AT]!;
    const record: ObservationRecord = {
      id: refs[ref + R_ID] as string,
      create_time: num[row + V_CREATE]!,
      region_code: refs[ref + R_REGION] as string,
      hashtag_names: refs[ref + R_TAGS] as string[],
      username: refs[ref + R_USERNAME] as string,
      view_count: reported,
      observed_at: t,
      nick_name: (changed ? refs[ref + R_CHANGED_NICK] : refs[ref + R_NICK]) as string,
      avatar_url: (changed ? refs[ref + R_CHANGED_AVATAR] : refs[ref + R_AVATAR]) as string,
    };

    // Schedule the next look at this video, about a day later, or let it go.
    if (n >= MAX_OBSERVATIONS || rng.fast() >= CONTINUE[n]!) this.finishTop(slot);
    else {
      const later = t + Math.floor(SPD * (0.8 + 0.4 * rng.fast()));
      if (later >= this.endTime) this.finishTop(slot);
      else {
        this.heapKeys[0] = later;
        this.siftDown(0);
      }
    }

    // Clean, or a view drop already applied above.
    if (dirt >= T_OUT_OF_ORDER) return record;
    const delayed = this.delayed;
    if (dirt < T_EXACT) {
      delayed.push(t + Math.floor(rng.float() * 7200), copyRecord(record));
      return record;
    }
    if (dirt < T_CONFLICT) {
      const other = copyRecord(record);
      const delta = 1 + Math.floor(views * 0.03 * rng.float());
      other.view_count = rng.float() < 0.5 && views >= delta ? views - delta : views + delta;
      delayed.push(t + Math.floor(rng.float() * 7200), other);
      return record;
    }
    if (dirt < T_LATE) delayed.push(t + Math.floor(SPD * rng.between(1, 3)), record);
    else delayed.push(t + 600 + Math.floor(rng.float() * 6 * 3600), record);
    return undefined;
  }

  /** Day-level world state: today's hashtag popularity and today's uploads, sorted by time. */
  private prepareDay(day: number): void {
    const rng = this.rng;
    const h = this.world.hashtags;
    const dow = weekday(day);
    const dw = this.dayWeight;
    const work = this.work;
    for (let i = 0; i < h.count; i++) {
      const w = h.base[i]! * lifecycle(h.kind[i]!, h.p1[i]!, h.p2[i]!, h.p3[i]!, day, dow);
      dw[i] = w;
      work[i] = h.home[i]! < 0 ? w : w * FOREIGN_LEAK;
    }
    this.globalTags.build(work, h.count, this.small, this.large);
    for (let c = 0; c < h.members.length; c++) {
      const members = h.members[c]!;
      for (let i = 0; i < members.length; i++) work[i] = dw[members[i]!]!;
      this.localTags[c]!.build(work, members.length, this.small, this.large);
    }

    const expected = this.opts.videosPerDay * WEEKDAY_VOLUME[dow]! * (1 + 0.12 * (rng.float() - 0.5));
    const count = Math.floor(expected + rng.float());
    if (this.keys.length < count) this.keys = new Float64Array(Math.max(count, Math.ceil(this.keys.length * 1.5)));
    const keys = this.keys;
    const creators = this.world.creators;
    const offsets = this.world.countryOffset;
    for (let i = 0; i < count; i++) {
      const c = creators.activity.sample(rng);
      const local = this.hourTable.sample(rng) * 3600 + Math.floor(rng.float() * 3600);
      const utc = (((local - offsets[creators.country[c]!]!) % SPD) + SPD) % SPD;
      keys[i] = utc * KEY_SHIFT + c;
    }
    keys.subarray(0, count).sort();
    this.dayVideos = count;
    this.hooks.onDay?.({
      day,
      dayIndex: day - this.opts.startDay,
      videosToday: count,
      observationsEmitted: this.emitted,
      liveVideos: this.pool.live,
      delayedObservations: this.delayed.size,
    });
  }

  private createVideo(t: number, creator: number): void {
    const rng = this.rng;
    const pool = this.pool;
    const slot = pool.alloc();
    const seq = this.videoSeq++;
    const low = (rng.u32() >>> 10) * 1024 + (seq & 1023);
    const profile = this.world.creators.profiles[creator]!;
    const refs = pool.refs;
    const ref = slot * R_STRIDE;
    refs[ref + R_ID] = videoIdFor(t, low);
    refs[ref + R_TAGS] = this.drawTags(profile.country);
    refs[ref + R_USERNAME] = profile.username;
    refs[ref + R_REGION] = profile.regionCode;
    refs[ref + R_NICK] = profile.nick;
    refs[ref + R_AVATAR] = profile.avatar;
    refs[ref + R_CHANGED_NICK] = profile.changedNick;
    refs[ref + R_CHANGED_AVATAR] = profile.changedAvatar;
    // Heavy-tailed reach: hundreds to thousands of views typically, millions for a few.
    let reach = 700 * Math.exp(1.4 * rng.normal()) * profile.popularity;
    if (rng.float() < 0.004) reach *= Math.min(3000, 10 * Math.pow(1 - rng.float(), -1 / 1.1));
    const num = pool.num;
    const row = slot * V_STRIDE;
    num[row + V_CREATE] = t;
    num[row + V_FINAL] = Math.min(2e9, reach);
    num[row + V_HALF_LIFE] = 3600 * Math.min(120, Math.max(2, 16 * Math.exp(0.6 * rng.normal())));
    num[row + V_SHAPE] = rng.between(1.1, 2.1);
    num[row + V_LAST_VIEWS] = 0;
    num[row + V_CHANGE_AT] = profile.changeAt;
    num[row + V_SEEN] = 0;
    num[row + V_COUNTRY_EDIT] = profile.country * 256 + (rng.float() < P_HASHTAG_EDIT ? rng.int(2, 6) : 0);
    const delay = FIRST_OBSERVATION_MIN_DELAY + Math.min(FIRST_OBSERVATION_MAX_DELAY, rng.exponential(FIRST_OBSERVATION_MEAN_DELAY));
    const first = t + Math.floor(delay);
    if (first >= this.endTime) {
      pool.release(slot);
      return;
    }
    this.heapPush(slot, first);
  }

  private drawTag(country: number): number {
    const rng = this.rng;
    const local = this.localTags[country]!;
    if (local.n > 0 && rng.float() < P_LOCAL_TAG) return this.world.hashtags.members[country]![local.sample(rng)]!;
    return this.globalTags.sample(rng);
  }

  private drawTags(country: number): string[] {
    const want = this.tagCount.sample(this.rng);
    const chosen = this.chosen;
    let n = 0;
    for (let k = 0; k < want; k++) {
      for (let attempt = 0; attempt < 3; attempt++) {
        const tag = this.drawTag(country);
        let dup = false;
        for (let j = 0; j < n; j++) if (chosen[j] === tag) dup = true;
        if (!dup) {
          chosen[n++] = tag;
          break;
        }
      }
    }
    const names = this.world.hashtags.names;
    const out = new Array<string>(n);
    for (let j = 0; j < n; j++) out[j] = names[chosen[j]!]!;
    return out;
  }

  /** A new array: earlier observations keep showing the hashtags they were read with. */
  private editTags(old: string[], country: number): string[] {
    const rng = this.rng;
    const out = old.slice();
    const u = rng.float();
    if (out.length > 0 && (u < 0.4 || out.length >= MAX_TAGS_PER_VIDEO)) out.splice(rng.below(out.length), 1);
    else {
      const name = this.world.hashtags.names[this.drawTag(country)]!;
      if (!out.includes(name)) {
        if (out.length > 0 && u < 0.7) out[rng.below(out.length)] = name;
        else out.push(name);
      } else if (out.length > 0) out.splice(rng.below(out.length), 1);
    }
    return out;
  }

  private heapPush(slot: number, at: number): void {
    if (this.heapSize === this.heapSlots.length) {
      const slots = new Int32Array(this.heapSlots.length * 2);
      slots.set(this.heapSlots);
      this.heapSlots = slots;
      const keys = new Float64Array(this.heapKeys.length * 2);
      keys.set(this.heapKeys);
      this.heapKeys = keys;
    }
    const slots = this.heapSlots;
    const keys = this.heapKeys;
    let i = this.heapSize++;
    while (i > 0) {
      const parent = (i - 1) >> 2;
      if (keys[parent]! <= at) break;
      slots[i] = slots[parent]!;
      keys[i] = keys[parent]!;
      i = parent;
    }
    slots[i] = slot;
    keys[i] = at;
  }

  private finishTop(slot: number): void {
    const last = --this.heapSize;
    if (last > 0) {
      this.heapSlots[0] = this.heapSlots[last]!;
      this.heapKeys[0] = this.heapKeys[last]!;
      this.siftDown(0);
    }
    this.pool.release(slot);
  }

  /**
   * Restores heap order after the key at `start` grew. The heap is 4-ary: half the depth of a
   * binary one, and a node's children share a cache line.
   */
  private siftDown(start: number): void {
    const slots = this.heapSlots;
    const keys = this.heapKeys;
    const n = this.heapSize;
    const slot = slots[start]!;
    const key = keys[start]!;
    let i = start;
    for (;;) {
      const first = 4 * i + 1;
      if (first >= n) break;
      const end = Math.min(first + 4, n);
      let c = first;
      let ck = keys[first]!;
      for (let j = first + 1; j < end; j++) {
        const k = keys[j]!;
        if (k < ck) {
          c = j;
          ck = k;
        }
      }
      if (ck >= key) break;
      slots[i] = slots[c]!;
      keys[i] = ck;
      i = c;
    }
    slots[i] = slot;
    keys[i] = key;
  }
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

function validate(opts: SimulationOptions): SimulationOptions {
  const { seed, days, videosPerDay, startDay } = opts;
  if (!Number.isSafeInteger(seed)) throw invalidParameter("seed", "seed must be an integer");
  if (!Number.isInteger(days) || days < 1 || days > 100_000) throw invalidParameter("days", "days must be an integer from 1");
  if (!Number.isFinite(videosPerDay) || videosPerDay < 0 || videosPerDay > 10_000_000) {
    throw invalidParameter("videosPerDay", "videosPerDay must be a number from 0 to 10,000,000");
  }
  if (!Number.isInteger(startDay) || startDay < 1 || startDay + days > LAST_SUPPORTED_DAY) {
    throw invalidParameter("startDay", `startDay must be a day number from 1, with startDay + days at most ${LAST_SUPPORTED_DAY}`);
  }
  return { seed, days, videosPerDay, startDay };
}

export function createSimulation(options: SimulationOptions): Simulation {
  const opts = validate(options);
  const world = buildWorld(opts);
  return {
    options: Object.freeze({ ...opts }),
    catalog: world.hashtags.catalog,
    hashtagCount: world.hashtags.count,
    creatorCount: world.creators.count,
    observations(hooks: SimulationHooks = {}) {
      return new Run(world, opts, hooks).generate();
    },
  };
}

/**
 * About how many observations `observations()` yields, for progress bars: each video's expected
 * observations that fall inside the period, plus the duplicates.
 */
export function estimateObservations(options: SimulationOptions): number {
  const opts = validate(options);
  const survival = new Float64Array(MAX_OBSERVATIONS + 1);
  survival[1] = 1;
  for (let n = 1; n < MAX_OBSERVATIONS; n++) survival[n + 1] = survival[n]! * CONTINUE[n]!;
  const firstDelayDays = (FIRST_OBSERVATION_MIN_DELAY + FIRST_OBSERVATION_MEAN_DELAY) / SPD;
  let perVideo = 0;
  for (let d = 0; d < opts.days; d++) {
    const publishedAt = d + 0.5;
    for (let n = 1; n <= MAX_OBSERVATIONS; n++) {
      if (publishedAt + firstDelayDays + (n - 1) < opts.days) perVideo += survival[n]!;
    }
  }
  return Math.round(opts.videosPerDay * perVideo * (1 + P_EXACT_DUPLICATE + P_CONFLICTING_DUPLICATE));
}
