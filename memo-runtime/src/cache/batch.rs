//! Batch loads: many keys in one call, one run of the body for the keys that miss.
//!
//! A batch call answers what it can from the cache, then takes each missing key's flight the
//! way a single-key miss does: it leads the keys nobody loads and waits for the others. Its
//! body runs once, with the keys it leads; each key's value is stored and handed to that
//! key's waiters, so no key is loaded twice at a time however the batches overlap, and a call
//! waits only for the flights of keys it asked for. A key the body does not return is absent:
//! stored as a negative entry with a negative time to live, else only handed to its waiters.
//! A failed body fails its own keys: their waiters take their turn again (one of them loads),
//! and the call returns the error; with a stale-if-error value, a key answers with it instead,
//! and the call fails only if a key it loaded had none. A call whose key's flight was abandoned
//! (its load failed) loads that key itself, in one more run of its body.

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::task::{Context, Poll};

use tracing::Instrument;

use super::Cache;
use super::call::no_tags;
use super::flight::{Running, Waited};
use super::fresh::{Failure, Probe, Reload};
use super::load::{Join, Lead, micros};
use super::runner::{self, Blocking, Runner, Tokio};
use crate::outcome::{CacheKey, CacheValue};
use crate::switch::Reads;
use crate::tags::Tag;

impl<K: CacheKey, T: CacheValue> Cache<K, Option<T>> {
    /// The values for `keys`: the fresh ones from the cache, the others from one call of
    /// `load` with the keys that missed. Keys another call is loading are not loaded again:
    /// this call waits for them. A key `load` leaves out is absent from the answer, and is kept
    /// as absent (`None`) only with a [negative time to live](super::CacheBuilder::negative_ttl).
    /// When `load` fails, the call returns its error and the calls waiting for its keys load
    /// them; `load` runs a second time only for keys whose load by another call failed.
    ///
    /// ```
    /// use std::collections::{HashMap, HashSet};
    /// let cache: memo_runtime::Cache<u32, Option<String>> = memo_runtime::Cache::builder().build();
    /// let names = |ids: Vec<u32>| -> Result<HashMap<u32, String>, String> {
    ///     Ok(ids.into_iter().filter(|id| *id < 10).map(|id| (id, format!("#{id}"))).collect())
    /// };
    /// let found = cache.get_many_or_load([1, 2, 42], names).unwrap();
    /// assert_eq!(found.len(), 2, "42 is absent");
    /// assert_eq!(found[&2], "#2");
    /// let again = cache.get_many_or_load([2, 3], |ids| {
    ///     assert_eq!(ids, [3], "2 is a hit");
    ///     names(ids)
    /// });
    /// assert_eq!(again.unwrap()[&3], "#3");
    /// ```
    pub fn get_many_or_load<E>(
        &self,
        keys: impl IntoIterator<Item = K>,
        load: impl FnMut(Vec<K>) -> Result<HashMap<K, T>, E>,
    ) -> Result<HashMap<K, T>, E> {
        self.get_many_or_load_tagged(keys, no_tags, load)
    }

    /// [`get_many_or_load`](Self::get_many_or_load), each stored value carrying the tags
    /// `tags_from` gives for it: what `#[cached(batch, tags_from = ...)]` generates.
    #[doc(hidden)]
    pub fn get_many_or_load_tagged<E>(
        &self,
        keys: impl IntoIterator<Item = K>,
        tags_from: impl Fn(&T) -> Vec<Tag>,
        mut load: impl FnMut(Vec<K>) -> Result<HashMap<K, T>, E>,
    ) -> Result<HashMap<K, T>, E> {
        let load = move |keys| std::future::ready(load(keys));
        runner::drive(std::pin::pin!(self.batch::<Blocking, E, _>(keys, &tags_from, load)))
    }

    /// The async form of [`get_many_or_load`](Self::get_many_or_load). Dropping the future
    /// while its body runs abandons that load (the calls waiting for its keys take over).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::collections::{HashMap, HashSet};
    /// let cache: memo_runtime::Cache<u32, Option<u32>> = memo_runtime::Cache::builder().build();
    /// let squares = |ids: Vec<u32>| async move {
    ///     Ok::<_, std::io::Error>(ids.into_iter().map(|id| (id, id * id)).collect::<HashMap<_, _>>())
    /// };
    /// let found = cache.get_many_or_load_async(vec![3, 4], squares).await.unwrap();
    /// assert_eq!((found[&3], found[&4]), (9, 16));
    /// # }
    /// ```
    pub async fn get_many_or_load_async<E, Fut>(
        &self,
        keys: impl IntoIterator<Item = K>,
        load: impl FnMut(Vec<K>) -> Fut,
    ) -> Result<HashMap<K, T>, E>
    where
        Fut: Future<Output = Result<HashMap<K, T>, E>>,
    {
        self.get_many_or_load_tagged_async(keys, no_tags, load).await
    }

    /// [`get_many_or_load_async`](Self::get_many_or_load_async) with tags from each value (see
    /// [`get_many_or_load_tagged`](Self::get_many_or_load_tagged)).
    #[doc(hidden)]
    pub async fn get_many_or_load_tagged_async<E, Fut>(
        &self,
        keys: impl IntoIterator<Item = K>,
        tags_from: impl Fn(&T) -> Vec<Tag>,
        load: impl FnMut(Vec<K>) -> Fut,
    ) -> Result<HashMap<K, T>, E>
    where
        Fut: Future<Output = Result<HashMap<K, T>, E>>,
    {
        self.batch::<Tokio, E, _>(keys, &tags_from, load).await
    }

    /// [`get_many_or_load_tagged_async`](Self::get_many_or_load_tagged_async) on a cache with
    /// stale values ([`stale`](super::CacheBuilder::stale), early refresh): a key whose entry
    /// is stale but servable answers with it, and the stale keys of the call are reloaded in
    /// one run of `load` on a task of their own (unless a load of the key runs already). What
    /// `#[cached(batch, stale = ...)]` generates.
    #[doc(hidden)]
    pub async fn get_many_or_reload_tagged_async<E, Fut, L, G>(
        &'static self,
        keys: impl IntoIterator<Item = K>,
        tags_from: G,
        load: L,
    ) -> Result<HashMap<K, T>, E>
    where
        L: FnMut(Vec<K>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<HashMap<K, T>, E>> + Send + 'static,
        E: Send + 'static,
        G: Fn(&T) -> Vec<Tag> + Clone + Send + Sync + 'static,
    {
        let (found, missing) = self.serve_many::<Tokio, _, _, _>(keys, tags_from.clone(), load.clone());
        let mut loaded = self.batch::<Tokio, E, _>(missing, &tags_from, load).await?;
        loaded.extend(found);
        Ok(loaded)
    }

    /// The sync form of [`get_many_or_reload_tagged_async`](Self::get_many_or_reload_tagged_async):
    /// the stale keys reload on the load pool. What a sync `#[cached(batch, stale = ...)]`
    /// generates.
    #[doc(hidden)]
    pub fn get_many_or_reload_tagged<E, L, G>(
        &'static self,
        keys: impl IntoIterator<Item = K>,
        tags_from: G,
        load: L,
    ) -> Result<HashMap<K, T>, E>
    where
        L: FnMut(Vec<K>) -> Result<HashMap<K, T>, E> + Clone + Send + 'static,
        E: Send + 'static,
        G: Fn(&T) -> Vec<Tag> + Clone + Send + Sync + 'static,
    {
        let mut reload = load.clone();
        let reload = move |keys| std::future::ready(reload(keys));
        let (found, missing) = self.serve_many::<Blocking, _, _, _>(keys, tags_from.clone(), reload);
        let mut loaded = self.get_many_or_load_tagged(missing, tags_from, load)?;
        loaded.extend(found);
        Ok(loaded)
    }

    /// A background-mode batch's look at L1: the fresh and servable values, a background
    /// reload of the stale keys (one run of `load`), and the keys left to load.
    #[allow(clippy::type_complexity, reason = "the answer and what is left, once")]
    pub(super) fn serve_many<R, E, Fut, L>(
        &'static self,
        keys: impl IntoIterator<Item = K>,
        tags_from: impl Fn(&T) -> Vec<Tag> + Send + Sync + 'static,
        mut load: L,
    ) -> (HashMap<K, T>, Vec<K>)
    where
        R: Runner,
        L: FnMut(Vec<K>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<HashMap<K, T>, E>> + Send + 'static,
        E: Send + 'static,
    {
        let (mut found, mut missing, mut reloads) = (HashMap::new(), Vec::new(), Vec::new());
        let mut seen = HashSet::new();
        for key in keys {
            if !seen.insert(key.clone()) {
                continue;
            }
            match crate::switch::reads().then(|| self.probe(&key)) {
                Some(Probe::Fresh(value)) => found.extend(value.map(|value| (key, value))),
                Some(Probe::Refresh(value, why)) => {
                    reloads.extend(self.lead_reload(&key).map(|lead| (lead, why)));
                    found.extend(value.map(|value| (key, value)));
                }
                Some(Probe::Miss) | None => missing.push(key),
            }
        }
        let early = reloads.iter().filter(|(_, why)| *why == Reload::Early).count();
        let leads: Vec<_> = reloads.into_iter().map(|(lead, _)| lead).collect();
        if !leads.is_empty() {
            // Its error is the callers' to see, and these callers have their answer: the keys
            // stay stale, and a later call reloads them.
            let reload = async move {
                let _ = self.run_batch(&mut load, &tags_from, leads, Vec::new(), &mut HashMap::new()).await;
            };
            if R::spawn(Box::pin(reload)) {
                self.early_refreshes.add(early as u64);
            }
        }
        (found, missing)
    }

    /// The batch loop, once for sync and async callers: each turn leads or waits for the keys
    /// still wanted, reads the keys it leads from the tier beneath (if the runner reads it, as
    /// a single-key miss does), and runs the body once for the rest.
    async fn batch<R: Runner, E, Fut>(
        &self,
        keys: impl IntoIterator<Item = K>,
        tags_from: &impl Fn(&T) -> Vec<Tag>,
        mut load: impl FnMut(Vec<K>) -> Fut,
    ) -> Result<HashMap<K, T>, E>
    where
        Fut: Future<Output = Result<HashMap<K, T>, E>>,
    {
        let mut found = HashMap::new();
        let mut wanted = Vec::new();
        let mut seen = HashSet::new();
        for key in keys {
            if !seen.insert(key.clone()) {
                continue;
            }
            match self.lookup(&key) {
                Some((value, _)) => found.extend(value.map(|value| (key, value))),
                None => wanted.push(key),
            }
        }
        wanted.iter().for_each(|_| self.calls.miss());
        if !crate::enabled() {
            wanted.iter().for_each(|_| self.calls.load());
            // Caching is off: the body's answer, for the keys asked only.
            found.extend(load(wanted).await?.into_iter().filter(|(key, _)| seen.contains(key)));
            return Ok(found);
        }
        // The tier is ready before any key is led (it may clear what was loaded before).
        if let Some(tier) = self.tier.get().filter(|_| R::reads_tier()) {
            tier.settle().await;
        }
        let mut counted = false;
        while !wanted.is_empty() {
            let (mut leads, mut waits, mut own) = (Vec::new(), Vec::new(), Vec::new());
            for key in wanted.drain(..) {
                match self.join(&key) {
                    Join::Hit(value) => found.extend(value.map(|value| (key, value))),
                    Join::Lead(lead) => leads.push(lead),
                    // This call's own body is loading the key (it calls itself): load it
                    // again rather than wait for itself.
                    Join::Wait(flight) if flight.runs_here() => own.push(key),
                    Join::Wait(flight) => waits.push((key, flight)),
                }
            }
            if !waits.is_empty() && !counted {
                self.coalesced.add(1);
                counted = true;
            }
            if R::reads_tier() {
                leads = self.read_beneath_many(leads, &mut found).await;
            }
            if !leads.is_empty() || !own.is_empty() {
                self.run_batch(&mut load, tags_from, leads, own, &mut found).await?;
            }
            for (key, flight) in waits {
                match R::wait(&flight, None).await {
                    Waited::Value(value) => found.extend(value.map(|value| (key, value))),
                    // Its load failed or was cancelled: this call's turn.
                    Waited::Retry | Waited::TimedOut => wanted.push(key),
                }
            }
        }
        Ok(found)
    }

    /// The led keys' entries in the tier beneath, if one is attached, read together: each fresh
    /// one is stored here and handed to its key's waiters. The leads of the other keys are
    /// returned, to load.
    async fn read_beneath_many<'c>(
        &'c self,
        leads: Vec<Lead<'c, K, Option<T>>>,
        found: &mut HashMap<K, T>,
    ) -> Vec<Lead<'c, K, Option<T>>> {
        let Some(tier) = self.tier.get().filter(|_| !leads.is_empty() && crate::switch::reads()) else { return leads };
        let (leads, keys): (Vec<_>, Vec<_>) =
            leads.into_iter().filter_map(|lead| lead.key().cloned().map(move |key| (lead, key))).unzip();
        let entries = tier.read_many(self, &keys).await;
        let now = crate::clock::now_millis_fast();
        let mut rest = Vec::new();
        for ((lead, key), entry) in leads.into_iter().zip(keys).zip(entries) {
            match entry.filter(|entry| self.policy.verdict(&entry.meta, now).is_fresh()) {
                Some(entry) => {
                    let value = entry.value.clone();
                    lead.finish_with(&value, entry);
                    self.l2_hits.add(1);
                    found.extend(value.map(|value| (key, value)));
                }
                None => rest.push(lead),
            }
        }
        rest
    }

    /// Runs the body once for the keys `leads` hold and the keys in `own` (loaded without a
    /// flight: stored by nobody), stores each led key's value, absent or not, and adds the
    /// values to `found`.
    async fn run_batch<E, Fut>(
        &self,
        load: &mut impl FnMut(Vec<K>) -> Fut,
        tags_from: &impl Fn(&T) -> Vec<Tag>,
        leads: Vec<Lead<'_, K, Option<T>>>,
        own: Vec<K>,
        found: &mut HashMap<K, T>,
    ) -> Result<(), E>
    where
        Fut: Future<Output = Result<HashMap<K, T>, E>>,
    {
        let keys = leads.iter().filter_map(|lead| lead.key().cloned()).chain(own.iter().cloned()).collect::<Vec<_>>();
        (0..keys.len()).for_each(|_| self.calls.load());
        let marks = Marks { flights: leads.iter().map(Lead::flight_id).collect(), reads: Reads::current().for_load() };
        let started = std::time::Instant::now();
        let span = self.load_span();
        // A sync body runs in this call: marked too.
        let body = std::pin::pin!(span.in_scope(|| marks.enter(|| load(keys))));
        let output = Marked { marks: &marks, inner: body }.instrument(span).await;
        let took = started.elapsed();
        self.record_load_time(took);
        let mut values = match output {
            Ok(values) => values,
            Err(error) => {
                self.load_errors.add(1);
                // A key with a stale-if-error value answers with it, here and to its waiters;
                // the others' leads, dropped, abandon their flights: the waiters take their
                // turn. The call fails unless every key it loaded had such a value.
                let mut answered = own.is_empty();
                for lead in leads {
                    let key = lead.key().cloned();
                    match key.as_ref().and_then(|key| self.stale_if_error_answer(key, Failure::Failed)) {
                        Some(value) => {
                            lead.answer(&value);
                            found.extend(key.zip(value));
                        }
                        None => answered = false,
                    }
                }
                return if answered { Ok(()) } else { Err(error) };
            }
        };
        let micros = micros(took);
        for lead in leads {
            let Some(key) = lead.key().cloned() else { continue };
            let value = values.remove(&key);
            let tags = value.as_ref().map_or_else(Vec::new, tags_from);
            lead.finish(&value, value.is_none(), micros, tags);
            found.extend(value.map(|value| (key, value)));
        }
        // Keys loaded without a flight; none the call did not ask for.
        for key in own {
            found.extend(values.remove(&key).map(|value| (key, value)));
        }
        Ok(())
    }
}

/// What a batch body's polls run as: the loads of all its flights (so that the body calling
/// its own function with one of its keys loads instead of waiting for itself), in the
/// caller's read mode.
struct Marks {
    flights: Vec<usize>,
    reads: Reads,
}

/// A batch body, polled under its [`Marks`].
struct Marked<'m, 'f, F> {
    marks: &'m Marks,
    inner: Pin<&'f mut F>,
}

impl Marks {
    /// Runs `f` as the batch's loads.
    fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        let _running = self.flights.iter().map(|&id| Running::enter(id)).collect::<Vec<_>>();
        let _reads = self.reads.enter();
        f()
    }
}

impl<F: Future> Future for Marked<'_, '_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let Marked { marks, inner } = &mut *self;
        marks.enter(|| inner.as_mut().poll(cx))
    }
}
