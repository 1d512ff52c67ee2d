/**
 * The example response of the documentation page tagpulse is compatible with, with the fields tagpulse
 * adds: `rank_diff` (null for a new entry) and the chart's day and window.
 */
export const TRENDING_EXAMPLE = {
  code: 0,
  message: "success",
  data: {
    list: [
      {
        hashtag_id: "7244",
        hashtag_name: "clean",
        country_info: {
          id: "US",
          value: "United States",
          label: "US",
        },
        industry_info: {
          id: 11000000000,
          value: "Vehicle & Transportation",
          label: "label_11000000000",
        },
        is_promoted: false,
        trend: [
          {
            time: 1769472000,
            value: 0.96,
          },
          {
            time: 1769558400,
            value: 0.91,
          },
          {
            time: 1769644800,
            value: 0.87,
          },
          {
            time: 1769731200,
            value: 0.83,
          },
          {
            time: 1769817600,
            value: 0.84,
          },
          {
            time: 1769904000,
            value: 0.96,
          },
          {
            time: 1769990400,
            value: 1,
          },
        ],
        creators: [
          {
            nick_name: "becky mae",
            avatar_url:
              "https://p16-sign-sg.tiktokcdn.com/tos-alisg-avt-0068/71fc1185244765128518537b9d9c210d~tplv-tiktokx-cropcenter:100:100.png?dr=14579&refresh_token=0dec4860&x-expires=1770282000&x-signature=r%2BCrhZzsKS43L89YylY1uge6L2M%3D&t=4d5b0474&ps=13740610&shp=a5d48078&shcp=317596d8&idc=my",
          },
          {
            nick_name: "Galicia Gordon",
            avatar_url:
              "https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/a83d99ecd4e1859d1f3a122eaafa7141~tplv-tiktokx-cropcenter:100:100.png?dr=14579&refresh_token=7237e421&x-expires=1770282000&x-signature=VYRz0YUvi03Jl3xRNAyOK2BdVmg%3D&t=4d5b0474&ps=13740610&shp=a5d48078&shcp=317596d8&idc=my",
          },
          {
            nick_name: "micaelarosa_",
            avatar_url:
              "https://p16-sign-sg.tiktokcdn.com/tos-alisg-avt-0068/e1336ed62aab40b9ae1acbf487b6ccf9~tplv-tiktokx-cropcenter:100:100.png?dr=14579&refresh_token=6ea3e036&x-expires=1770282000&x-signature=LXT1FUefFvU1xYkoOPnuBBV46A8%3D&t=4d5b0474&ps=13740610&shp=a5d48078&shcp=317596d8&idc=my",
          },
        ],
        publish_cnt: 48892,
        video_views: 151854088,
        rank: 1,
        rank_diff: null,
        rank_diff_type: 4,
      },
    ],
    pagination: {
      page: 1,
      size: 1,
      total: 100,
      has_more: true,
    },
    as_of: "2026-02-02",
    window_start: "2026-01-27",
    window_end: "2026-02-02",
    source: "engine",
    collected_at: null,
    complete: true,
  },
  requestId: "c2aaf374-bc6f-4cd6-9e82-9b0c38269f43",
};
