//! What the cache keeps for a key: the value and the metadata that travels with it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

/// Metadata stored with every value.
///
/// Times are coarse-clock milliseconds since the Unix epoch
/// ([`clock::now_millis`](crate::clock::now_millis)), so they mean the same in every process.
/// The windows are kept as 32-bit offsets from `created_at` (see [`Offset`]) and read through
/// [`fresh_until`](Meta::fresh_until) and its siblings.
#[derive(Debug)]
pub(crate) struct Meta {
    /// When the value was loaded (or put).
    pub(crate) created_at: u64,
    /// Until when a hit serves it as fresh.
    fresh: Offset,
    /// Until when it may still be served stale while one reload runs; equal to the fresh
    /// window when no stale window applies.
    stale: Offset,
    /// Until when it may answer for a failed load (`stale_if_error`; none without it). Past
    /// both this and the stale window the entry is garbage and the first to be evicted.
    stale_if_error: Offset,
    /// Tags the entry carries, for invalidation by tag, and their validity.
    pub(crate) tags: Tags,
    /// How long the load took (for early refresh), in 8 bits (see [`LoadTime`]).
    load_time: LoadTime,
    /// S3-FIFO's frequency (hits since the entry last went through eviction, up to 3) in the
    /// low two bits, [`IN_MAIN`] and [`NEGATIVE`]: one byte, read and written by hits and the
    /// writer alike, so every change is a compare-and-swap of the whole byte.
    bits: AtomicU8,
}

/// An entry's tags and what is known of their validity: nothing at all (no allocation, no
/// check on a hit) for an entry without tags, most of them. Shared between copies of an entry.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tags(Option<Arc<TagSet>>);

#[derive(Debug)]
pub(crate) struct TagSet {
    tags: Box<[Arc<str>]>,
    /// The tag invalidation sequence value when the entry's load started (see `tags`).
    seq: u64,
    /// The sequence value at which the tags were last found valid, or `tags::INVALID`.
    checked: AtomicU64,
}

impl Tags {
    /// `tags`, as valid at the tag invalidation sequence value `seq`.
    pub(crate) fn new(tags: Vec<Arc<str>>, seq: u64) -> Self {
        Self(
            (!tags.is_empty())
                .then(|| Arc::new(TagSet { tags: tags.into_boxed_slice(), seq, checked: AtomicU64::new(seq) })),
        )
    }

    /// Whether a read already found the tags invalidated.
    pub(crate) fn found_invalid(&self) -> bool {
        self.0.as_ref().is_some_and(|set| set.checked.load(Ordering::Relaxed) == crate::tags::INVALID)
    }

    /// Checks the tags against invalidations by tag: one relaxed load unless something was
    /// invalidated since the last check.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn state(&self) -> TagState {
        let Some(set) = &self.0 else { return TagState::Valid };
        let now = crate::tags::sequence();
        let checked = set.checked.load(Ordering::Relaxed);
        if checked == now {
            TagState::Valid
        } else if checked == crate::tags::INVALID {
            TagState::Invalid
        } else {
            set.recheck(checked, now)
        }
    }
}

impl TagSet {
    #[cold]
    fn recheck(&self, checked: u64, now: u64) -> TagState {
        if crate::tags::still_valid(&self.tags, self.seq) {
            self.checked.fetch_max(now, Ordering::Relaxed);
            TagState::Valid
        } else if self
            .checked
            .compare_exchange(checked, crate::tags::INVALID, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            TagState::NewlyInvalid
        } else {
            TagState::Invalid
        }
    }
}

impl std::ops::Deref for Tags {
    type Target = [Arc<str>];

    fn deref(&self) -> &[Arc<str>] {
        self.0.as_ref().map_or(&[], |set| &set.tags)
    }
}

/// Whether a tagged entry survived the invalidations since it was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagState {
    Valid,
    /// Found invalid just now: count it once.
    NewlyInvalid,
    Invalid,
}

impl Meta {
    /// Whether the entry's tags survived the invalidations since it was loaded.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn tag_state(&self) -> TagState {
        self.tags.state()
    }

    /// Past this the entry is of no use: neither fresh, nor stale-servable, nor a stale-if-error answer.
    pub(crate) fn keep_until(&self) -> u64 {
        self.stale_until().max(self.stale_if_error_until())
    }

    /// Counts a hit for eviction, writing only while the frequency is below 3 so that hits on
    /// a hot entry do not bounce its cache line between cores. (A hit racing another change
    /// of the byte is not counted: the frequency is a hint.)
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn touch(&self) {
        let bits = self.bits.load(Ordering::Relaxed);
        if bits & FREQUENCY < 3 {
            let _ = self.bits.compare_exchange(bits, bits + 1, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    /// Hits since the entry last went through eviction, up to 3.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn frequency(&self) -> u8 {
        self.bits.load(Ordering::Relaxed) & FREQUENCY
    }

    /// Whether the entry is in the main FIFO rather than the small one (see `cache::store`).
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn in_main(&self) -> bool {
        self.bits.load(Ordering::Relaxed) & IN_MAIN != 0
    }

    /// `None` / `Ok(None)`: kept for the negative time to live.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn negative(&self) -> bool {
        self.bits.load(Ordering::Relaxed) & NEGATIVE != 0
    }

    /// How long the load took, in microseconds, rounded up to within an eighth.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn load_micros(&self) -> u32 {
        self.load_time.micros()
    }

    /// Sets the eviction state: the frequency (at most 3) and the FIFO the entry is in.
    pub(crate) fn set_eviction(&self, frequency: u8, in_main: bool) {
        let state = frequency.min(3) | if in_main { IN_MAIN } else { 0 };
        let _ = self.bits.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| Some((bits & NEGATIVE) | state));
    }
}

/// The frequency's bits in [`Meta::bits`].
const FREQUENCY: u8 = 0b11;
/// Set while the entry is in the main FIFO.
const IN_MAIN: u8 = 0b100;
/// Set for a negative entry (fixed when it is made).
const NEGATIVE: u8 = 0b1000;

/// A duration in microseconds in 8 bits: a 5-bit exponent and a 3-bit mantissa under an
/// implicit leading one, rounded up, so exact below 16 µs, within an eighth above, and up to
/// about 4.7 hours (longer saturates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LoadTime(u8);

impl LoadTime {
    fn new(micros: u32) -> Self {
        if micros < 8 {
            return Self(micros as u8);
        }
        // `micros` is (8 + m) << (e - 1) for e >= 1 and m < 8, rounding m up.
        let mut e = 32 - micros.leading_zeros() - 3;
        let mut m = micros.div_ceil(1 << (e - 1)) - 8;
        if m == 8 {
            (e, m) = (e + 1, 0);
        }
        Self(u8::try_from(e << 3 | m).unwrap_or(u8::MAX))
    }

    fn micros(self) -> u32 {
        let (e, m) = (u32::from(self.0 >> 3), u32::from(self.0 & 7));
        if e == 0 { m } else { u32::try_from(u64::from(8 + m) << (e - 1)).unwrap_or(u32::MAX) }
    }
}

/// An entry's times: coarse-clock milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Times {
    pub(crate) created_at: u64,
    pub(crate) fresh_until: u64,
    pub(crate) stale_until: u64,
    pub(crate) stale_if_error_until: u64,
}

/// The end of a window, in 32 bits: milliseconds after `created_at` below 2^31, whole seconds
/// (rounded down: a window never grows) from there to about 68 years, and `u32::MAX` for no end.
/// A time at or before `created_at` is an offset of 0; an absent stale-if-error window is 0 too,
/// read back as 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Offset(u32);

impl Offset {
    const FOREVER: u32 = u32::MAX;
    const SECONDS: u32 = 1 << 31;

    fn new(created_at: u64, until: u64) -> Self {
        if until == u64::MAX {
            return Self(Self::FOREVER);
        }
        let millis = until.saturating_sub(created_at);
        match u32::try_from(millis) {
            Ok(ms) if ms < Self::SECONDS => Self(ms),
            _ => Self(Self::SECONDS | u32::try_from(millis / 1000).unwrap_or(u32::MAX).min(Self::SECONDS - 2)),
        }
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    fn until(self, created_at: u64) -> u64 {
        if self.0 == Self::FOREVER {
            u64::MAX
        } else if self.0 & Self::SECONDS != 0 {
            created_at.saturating_add(u64::from(self.0 & !Self::SECONDS) * 1000)
        } else {
            created_at.saturating_add(u64::from(self.0))
        }
    }
}

impl Meta {
    /// The one constructor of entry metadata; the eviction bookkeeping starts blank.
    pub(crate) fn new(times: Times, load_micros: u32, negative: bool, tags: Tags) -> Self {
        let Times { created_at, fresh_until, stale_until, stale_if_error_until } = times;
        Self {
            created_at,
            fresh: Offset::new(created_at, fresh_until),
            stale: Offset::new(created_at, stale_until),
            stale_if_error: Offset::new(created_at, stale_if_error_until),
            tags,
            load_time: LoadTime::new(load_micros),
            bits: AtomicU8::new(if negative { NEGATIVE } else { 0 }),
        }
    }

    /// The entry's times.
    pub(crate) fn times(&self) -> Times {
        Times {
            created_at: self.created_at,
            fresh_until: self.fresh_until(),
            stale_until: self.stale_until(),
            stale_if_error_until: self.stale_if_error_until(),
        }
    }

    /// Until when a hit serves it as fresh (`u64::MAX`: no time to live).
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn fresh_until(&self) -> u64 {
        self.fresh.until(self.created_at)
    }

    /// Until when it may be served stale while one reload runs.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn stale_until(&self) -> u64 {
        self.stale.until(self.created_at)
    }

    /// Until when it may answer for a failed load; 0 without stale_if_error.
    pub(crate) fn stale_if_error_until(&self) -> u64 {
        if self.stale_if_error.0 == 0 { 0 } else { self.stale_if_error.until(self.created_at) }
    }
}

/// A stored value with its metadata.
#[derive(Debug)]
pub(crate) struct Entry<V> {
    pub(crate) value: V,
    pub(crate) meta: Meta,
}

/// What the cache knows about a stored entry, from [`Cache::entry_info`](crate::Cache::entry_info).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntryInfo {
    /// When the value was loaded or put, in milliseconds since the Unix epoch.
    pub created_at_millis: u64,
    /// Until when it is served as fresh, in milliseconds since the Unix epoch
    /// (`u64::MAX`: no time to live).
    pub fresh_until_millis: u64,
    /// Until when it may be served stale while it is reloaded, in milliseconds since the
    /// Unix epoch.
    pub stale_until_millis: u64,
    /// Until when it may answer for a failed load (stale_if_error), in milliseconds since the Unix
    /// epoch; 0 without stale_if_error.
    pub stale_if_error_until_millis: u64,
    /// How long the load that produced it took (zero for a put value).
    pub load_time: Duration,
    /// Whether it is a negative value (`None`, `Ok(None)`).
    pub negative: bool,
    /// The tags it carries.
    pub tags: Vec<String>,
}

impl Meta {
    pub(crate) fn info(&self) -> EntryInfo {
        EntryInfo {
            created_at_millis: self.created_at,
            fresh_until_millis: self.fresh_until(),
            stale_until_millis: self.stale_until(),
            stale_if_error_until_millis: self.stale_if_error_until(),
            load_time: Duration::from_micros(u64::from(self.load_micros())),
            negative: self.negative(),
            tags: self.tags.iter().map(|t| t.to_string()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{LoadTime, Meta, Offset};

    #[test]
    fn metadata_takes_32_bytes() {
        assert_eq!(size_of::<Meta>(), 32);
    }

    #[test]
    fn load_times_keep_eight_bits_rounded_up_to_within_an_eighth() {
        for micros in [0, 1, 7, 8, 15, 16, 17, 999, 1_000, 5_100, 65_537, 1 << 30, u32::MAX - 1, u32::MAX] {
            let kept = LoadTime::new(micros).micros();
            assert!(kept >= micros, "{micros} kept as {kept}");
            assert!(u64::from(kept) <= u64::from(micros) + u64::from(micros) / 8, "{micros} kept as {kept}");
        }
        assert_eq!(LoadTime::new(15).micros(), 15, "exact below 16");
    }

    #[test]
    fn offsets_keep_milliseconds_below_24_days_and_never_lengthen_a_window() {
        let created = 1_700_000_000_000;
        for window in [0, 1, 999, 60_000, (1 << 31) - 1] {
            assert_eq!(Offset::new(created, created + window).until(created), created + window);
        }
        let year = 365 * 24 * 3_600 * 1_000 + 345;
        let kept = Offset::new(created, created + year).until(created) - created;
        assert!(kept <= year && year - kept < 1_000, "a year kept as {kept} ms");
        assert_eq!(Offset::new(created, u64::MAX).until(created), u64::MAX);
        assert_eq!(Offset::new(created, created - 5).until(created), created, "a past time is now");
    }
}
