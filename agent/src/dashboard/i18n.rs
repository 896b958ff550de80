//! The dashboard's two languages, English and Simplified Chinese: every
//! label a page shows, and numbers, percentages, dates and durations
//! written the way each locale reads them.
//!
//! Labels are an enum, so a page cannot ask for a label that one language
//! lacks.

use protocol::time::UnixMillis;

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lang {
    En,
    ZhCn,
}

impl Lang {
    /// The BCP 47 tag, as in `lang=` and `<html lang>`.
    pub(super) fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// `en`, `zh-CN` (any case; `zh` and `zh-Hans` too).
    pub(super) fn parse(tag: &str) -> Option<Lang> {
        let tag = tag.trim().to_ascii_lowercase();
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        match primary {
            "en" => Some(Lang::En),
            // Traditional-script Chinese readers still read Simplified more
            // easily than English; zh-CN is the only Chinese we have.
            "zh" => Some(Lang::ZhCn),
            _ => None,
        }
    }

    /// The language the browser prefers (`Accept-Language`, by weight),
    /// English when it names neither.
    pub(super) fn from_accept_language(header: Option<&str>) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.unwrap_or("").split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("");
            let weight = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(lang) = Lang::parse(tag) {
                if best.is_none_or(|(w, _)| weight > w) {
                    best = Some((weight, lang));
                }
            }
        }
        best.map_or(Lang::En, |(_, lang)| lang)
    }

    /// The other language, for the switch on every page.
    pub(super) fn other(self) -> Lang {
        match self {
            Lang::En => Lang::ZhCn,
            Lang::ZhCn => Lang::En,
        }
    }

    /// A count with thousands separators (both locales group by three).
    pub(super) fn count(self, n: u64) -> String {
        let digits = n.to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }

    /// A rate as a percentage with one decimal; a dash when undefined.
    pub(super) fn rate(self, r: Option<f64>) -> String {
        r.map_or_else(|| "–".to_string(), |r| format!("{:.1}%", r * 100.0))
    }

    /// A figure per visit, to two decimals (both locales write `1.25`).
    pub(super) fn per_visit(self, r: f64) -> String {
        format!("{r:.2}")
    }

    /// A median in whole seconds; a dash when there is none.
    pub(super) fn seconds(self, s: Option<i64>) -> String {
        match (s, self) {
            (None, _) => "–".to_string(),
            (Some(s), Lang::En) => format!("{} s", self.count(s.max(0) as u64)),
            (Some(s), Lang::ZhCn) => format!("{} 秒", self.count(s.max(0) as u64)),
        }
    }

    /// The UTC day of `ms`: `Nov 20, 2026` or `2026年11月20日`.
    pub(super) fn day(self, ms: i64) -> String {
        let iso = UnixMillis(ms).to_string();
        let (y, m, d) = (&iso[0..4], &iso[5..7], &iso[8..10]);
        let month: usize = m.parse().unwrap_or(1);
        let day: u32 = d.parse().unwrap_or(1);
        match self {
            Lang::En => {
                const MONTHS: [&str; 12] = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec",
                ];
                format!("{} {day}, {y}", MONTHS[(month + 11) % 12])
            }
            Lang::ZhCn => format!("{y}年{month}月{day}日"),
        }
    }

    /// A moment, to the minute, in UTC.
    pub(super) fn moment(self, ms: i64) -> String {
        let iso = UnixMillis(ms).to_string();
        format!("{} {} UTC", self.day(ms), &iso[11..16])
    }

    /// How long ago `then` was, at `now`, in the largest whole unit.
    pub(super) fn ago(self, then_ms: i64, now_ms: i64) -> String {
        let s = (now_ms - then_ms).max(0) / 1000;
        let (n, en, zh) = match s {
            0..=119 => (s, "s", "秒"),
            120..=7_199 => (s / 60, "min", "分钟"),
            7_200..=172_799 => (s / 3600, "h", "小时"),
            _ => (s / 86_400, "d", "天"),
        };
        match self {
            Lang::En => format!("{n} {en} ago"),
            Lang::ZhCn => format!("{n} {zh}前"),
        }
    }
}

/// Every label the pages show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum T {
    Title,
    Overview,
    Skus,
    Sku,
    Styles,
    Stores,
    Fleet,
    From,
    Until,
    Store,
    AllStores,
    Window,
    Search,
    Apply,
    Channel,
    InStore,
    Exposures,
    Pickups,
    TryOns,
    Purchases,
    Journeys,
    JourneysTryOn,
    JourneysPurchase,
    ExposureToView,
    ViewToTryOn,
    TryOnToPurchase,
    ViewToPurchase,
    MedianViewToTryOn,
    MedianTryOnToPurchase,
    Name,
    Funnel,
    DailyTrend,
    Day,
    PerStore,
    PerDay,
    PerChannel,
    Fixtures,
    Fixture,
    NoData,
    NoEvents,
    Gateway,
    State,
    Online,
    Offline,
    Since,
    LastStatus,
    SpoolDepth,
    OldestUndelivered,
    DroppedAtCap,
    BadFrames,
    Tags,
    Tag,
    LastSeen,
    Battery,
    Dropped,
    Problem,
    Silent,
    LowBattery,
    Dropping,
    TagsKnown,
    NoGateways,
    NoTagProblems,
    DatabaseUnavailable,
    BadRequest,
    NotFound,
    DaysNote,
    NotYet,
    OnlineMeaning,
    Visits,
    ExposuresPerVisit,
    PickupsPerVisit,
    TryOnsPerVisit,
    PurchasesPerVisit,
    Dwells,
    DwellMedian,
    DwellTotal,
    Region,
    Brand,
    All,
    RegionDays,
    RegionHours,
    Rows,
    Previous,
    Next,
    /// `{page}` and `{pages}` are replaced by the numbers.
    PageMissing,
    LastPage,
    Hour,
    Zone,
    Zones,
    PerRegion,
    VisitsByDay,
    VisitsByHour,
    VisitsNote,
}

impl T {
    /// The label in `lang`.
    pub(super) fn text(self, lang: Lang) -> &'static str {
        let (en, zh) = match self {
            T::Title => ("aisle HQ", "aisle 总部看板"),
            T::Overview => ("Overview", "总览"),
            T::Skus => ("SKUs", "商品"),
            T::Sku => ("SKU", "商品"),
            T::Styles => ("Styles", "款式"),
            T::Stores => ("Stores", "门店"),
            T::Fleet => ("Fleet", "设备"),
            T::From => ("From", "开始"),
            T::Until => ("Until (exclusive)", "截止（不含）"),
            T::Store => ("Store", "门店"),
            T::AllStores => ("All stores", "全部门店"),
            T::Window => ("Journey window", "转化窗口"),
            T::Search => ("Search", "搜索"),
            T::Apply => ("Apply", "应用"),
            T::Channel => ("Channel", "渠道"),
            T::InStore => ("In store", "线下门店"),
            T::Exposures => ("Exposures", "曝光"),
            T::Pickups => ("Pickups", "拿起"),
            T::TryOns => ("Try-ons", "试穿"),
            T::Purchases => ("Purchases", "购买"),
            T::Journeys => ("Journeys", "旅程"),
            T::JourneysTryOn => ("Journeys to try-on", "旅程·试穿"),
            T::JourneysPurchase => ("Journeys to purchase", "旅程·购买"),
            T::ExposureToView => ("Exposure → pickup", "曝光→拿起"),
            T::ViewToTryOn => ("Pickup → try-on", "拿起→试穿"),
            T::TryOnToPurchase => ("Try-on → purchase", "试穿→购买"),
            T::ViewToPurchase => ("Pickup → purchase", "拿起→购买"),
            T::MedianViewToTryOn => ("Median pickup → try-on", "拿起→试穿 中位时长"),
            T::MedianTryOnToPurchase => ("Median try-on → purchase", "试穿→购买 中位时长"),
            T::Name => ("Name", "名称"),
            T::Funnel => ("Funnel", "漏斗"),
            T::DailyTrend => ("Daily trend", "每日趋势"),
            T::Day => ("Day (store time)", "日期（门店当地）"),
            T::PerStore => ("Per store", "分门店"),
            T::PerDay => ("Per day", "分日"),
            T::PerChannel => ("Per channel", "分渠道"),
            T::Fixtures => ("Fixtures by exposures and pickups", "货架（按曝光与拿起）"),
            T::Fixture => ("Fixture", "货架"),
            T::NoData => ("No data for these filters.", "当前筛选条件下没有数据。"),
            T::NoEvents => ("No events yet.", "暂无事件。"),
            T::Gateway => ("Gateway", "网关"),
            T::State => ("State", "状态"),
            T::Online => ("online", "在线"),
            T::Offline => ("offline", "离线"),
            T::Since => ("Since", "起始于"),
            T::LastStatus => ("Last status", "最近状态"),
            T::SpoolDepth => ("Spool depth", "待发送事件"),
            T::OldestUndelivered => ("Oldest undelivered", "最早未送达"),
            T::DroppedAtCap => ("Dropped at cap", "满额丢弃"),
            T::BadFrames => ("Bad frames", "错误帧"),
            T::Tags => ("Tags needing a visit", "需要检查的标签"),
            T::Tag => ("Tag", "标签"),
            T::LastSeen => ("Last seen", "最近出现"),
            T::Battery => ("Battery", "电量"),
            T::Dropped => ("Events dropped", "丢弃事件"),
            T::Problem => ("Problem", "问题"),
            T::Silent => ("silent", "失联"),
            T::LowBattery => ("low battery", "电量低"),
            T::Dropping => ("dropping events", "丢弃事件"),
            T::TagsKnown => ("tags known", "个已知标签"),
            T::NoGateways => (
                "No gateway has reported yet.",
                "尚无网关上报状态。",
            ),
            T::NoTagProblems => ("Every tag is healthy.", "所有标签正常。"),
            T::DatabaseUnavailable => ("The event store cannot be opened", "无法打开事件库"),
            T::BadRequest => ("Bad request", "请求有误"),
            T::NotFound => ("Page not found", "页面不存在"),
            T::DaysNote => (
                "Days are each store's local days (its time zone in the store directory, else UTC); a day counts the journeys opened that day, to their window's end, as `aisle funnel --by day` does.",
                "日期按各门店当地时间计（门店目录中的时区，未列出则按 UTC）；每日计当日开始的旅程（直至其时间窗结束），与 `aisle funnel --by day` 相同。",
            ),
            T::NotYet => (
                "Online channels appear here once they are imported.",
                "线上渠道导入后将显示在此。",
            ),
            T::OnlineMeaning => (
                "On an online channel's row, pickups are product views and try-ons are add-to-carts.",
                "线上渠道一行中，拿起即商品浏览，试穿即加购。",
            ),
            T::Visits => ("Visits", "进店人次"),
            T::ExposuresPerVisit => ("Exposures per visit", "每次进店曝光"),
            T::PickupsPerVisit => ("Pickups per visit", "每次进店拿起"),
            T::TryOnsPerVisit => ("Try-ons per visit", "每次进店试穿"),
            T::PurchasesPerVisit => ("Purchases per visit", "每次进店购买"),
            T::Dwells => ("Dwells", "停留次数"),
            T::DwellMedian => ("Median dwell", "停留中位时长"),
            T::DwellTotal => ("Total dwell", "停留总时长"),
            T::Region => ("Region", "大区"),
            T::Brand => ("Brand", "品牌"),
            T::All => ("All", "全部"),
            T::RegionDays => ("Visits by region and day", "分大区每日进店"),
            T::RegionHours => ("Visits by region and hour", "分大区每小时进店"),
            T::Rows => ("rows", "行"),
            T::Previous => ("← Previous", "← 上一页"),
            T::Next => ("Next →", "下一页 →"),
            T::PageMissing => (
                "Page {page} of {pages} does not exist.",
                "第 {page} 页不存在（共 {pages} 页）。",
            ),
            T::LastPage => ("Go to the last page", "前往最后一页"),
            T::Hour => ("Hour (store time)", "小时（门店当地）"),
            T::Zone => ("Zone", "店内区域"),
            T::Zones => ("Zones by dwell", "店内区域（按停留时长）"),
            T::PerRegion => ("Per region", "分大区"),
            T::VisitsByDay => ("Visits by day", "每日进店"),
            T::VisitsByHour => ("Visits by hour", "每小时进店"),
            T::VisitsNote => (
                "Visits are counted by the stores' entrance counters; a store without one counts 0, and its figures per visit stay empty.",
                "进店人次来自门店入口计数器；没有计数器的门店计为 0，其每次进店指标为空。",
            ),
        };
        match lang {
            Lang::En => en,
            Lang::ZhCn => zh,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browsers_preferred_language_wins_by_weight() {
        let pick = |h| Lang::from_accept_language(Some(h));
        assert_eq!(pick("zh-CN,zh;q=0.9,en;q=0.8"), Lang::ZhCn);
        assert_eq!(pick("en-GB,en;q=0.9,zh-CN;q=0.5"), Lang::En);
        assert_eq!(pick("fr;q=1,zh-TW;q=0.4,en;q=0.3"), Lang::ZhCn);
        assert_eq!(pick("fr,de"), Lang::En);
        assert_eq!(Lang::from_accept_language(None), Lang::En);
    }

    #[test]
    fn numbers_and_days_read_as_each_locale_writes_them() {
        assert_eq!(Lang::En.count(1_234_567), "1,234,567");
        assert_eq!(Lang::ZhCn.count(999), "999");
        assert_eq!(Lang::En.rate(Some(0.1234)), "12.3%");
        assert_eq!(Lang::En.rate(None), "–");
        let ms: UnixMillis = "2026-11-20T10:05:00Z".parse().unwrap();
        assert_eq!(Lang::En.day(ms.0), "Nov 20, 2026");
        assert_eq!(Lang::ZhCn.day(ms.0), "2026年11月20日");
        assert_eq!(Lang::ZhCn.moment(ms.0), "2026年11月20日 10:05 UTC");
        assert_eq!(Lang::En.ago(0, 3 * 3_600_000), "3 h ago");
    }
}
