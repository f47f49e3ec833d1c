//! Gathering (DataLoader): single-key calls of a batch function made together within one
//! request scope go to the cache as one batch.
//!
//! A call whose key is cached answers at once. The first call of a round that misses
//! registers its key and yields its task once; the calls that come
//! meanwhile in the same scope (the other futures of a `join_all` over items, or of `join!`
//! over a handler's parts, polled in that turn; other tasks of the scope that run before it)
//! add their keys and wait. Back from its yield, the first call closes the round: it takes the
//! keys, runs one batch (see the `batch` module) and hands the values to the waiting calls. The
//! window is one turn of the first call's task; what it costs is that yield. A waiting call
//! whose round failed or was cancelled loads its own key, alone. Outside a scope a call is a
//! batch of one.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::watch;

use super::Cache;
use super::call::no_tags;
use super::runner::Tokio;
use crate::outcome::{CacheKey, CacheValue};
use crate::tags::Tag;

/// A round's outcome: pending (`None`), failed (`Some(None)`), or the values found.
type Outcome<K, T> = Option<Option<Arc<HashMap<K, T>>>>;

/// A scope's round of gathered calls for one cache: the keys asked so far, and the outcome the
/// waiting calls watch (none between rounds).
struct Gather<K, T> {
    keys: Vec<K>,
    round: Option<watch::Receiver<Outcome<K, T>>>,
}

impl<K, T> Default for Gather<K, T> {
    fn default() -> Self {
        Self { keys: Vec::new(), round: None }
    }
}

/// What a gathered call does in its round.
enum Role<K, T> {
    /// Closes the round and loads its keys.
    Lead(watch::Sender<Outcome<K, T>>),
    /// Waits for the round's outcome.
    Wait(watch::Receiver<Outcome<K, T>>),
}

impl<K: CacheKey, T: CacheValue> Cache<K, Option<T>> {
    /// The value for `key`, loaded with the other calls of this request scope made at the same
    /// time: they go to the cache as one batch (see
    /// [`get_many_or_load_async`](Self::get_many_or_load_async)), so that a `join_all` of
    /// single-key calls makes one load of the keys that miss. The round closes when the first
    /// call's task has turned once. Outside a scope, a batch of one.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::collections::HashMap;
    /// use std::sync::atomic::{AtomicU32, Ordering};
    ///
    /// static LOADS: AtomicU32 = AtomicU32::new(0);
    /// static CACHE: std::sync::LazyLock<memo_runtime::Cache<u32, Option<u32>>> =
    ///     std::sync::LazyLock::new(|| memo_runtime::Cache::builder().build());
    ///
    /// async fn square(id: u32) -> Option<u32> {
    ///     let load = |ids: Vec<u32>| async move {
    ///         LOADS.fetch_add(1, Ordering::SeqCst);
    ///         Ok::<_, String>(ids.into_iter().map(|id| (id, id * id)).collect::<HashMap<_, _>>())
    ///     };
    ///     CACHE.get_gathered(id, load).await.unwrap()
    /// }
    ///
    /// let squares = memo_runtime::scope(async {
    ///     let (a, b, c) = tokio::join!(square(1), square(2), square(3));
    ///     [a, b, c]
    /// })
    /// .await;
    /// assert_eq!(squares, [Some(1), Some(4), Some(9)]);
    /// assert_eq!(LOADS.load(Ordering::SeqCst), 1, "one batch for the three calls");
    /// # }
    /// ```
    pub async fn get_gathered<E, Fut>(&self, key: K, load: impl FnMut(Vec<K>) -> Fut) -> Result<Option<T>, E>
    where
        Fut: Future<Output = Result<HashMap<K, T>, E>>,
    {
        self.get_gathered_tagged(key, no_tags, load).await
    }

    /// [`get_gathered_tagged`](Self::get_gathered_tagged) on a cache with stale values: a
    /// stale key answers at once and reloads on a task of its own; a missing one joins the
    /// round. What `one` of `#[cached(batch, stale = ...)]` generates.
    #[doc(hidden)]
    pub async fn get_gathered_or_reload_tagged<E, Fut, L, G>(
        &'static self,
        key: K,
        tags_from: G,
        load: L,
    ) -> Result<Option<T>, E>
    where
        L: FnMut(Vec<K>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<HashMap<K, T>, E>> + Send + 'static,
        E: Send + 'static,
        G: Fn(&T) -> Vec<Tag> + Clone + Send + Sync + 'static,
    {
        let (found, missing) = self.serve_many::<Tokio, _, _, _>([key], tags_from.clone(), load.clone());
        match missing.into_iter().next() {
            Some(key) => self.get_gathered_tagged(key, tags_from, load).await,
            // Served: the value, or absent.
            None => Ok(found.into_values().next()),
        }
    }

    /// [`get_gathered`](Self::get_gathered) with tags from each value: what
    /// `#[cached(batch)]`'s `one` generates.
    #[doc(hidden)]
    pub async fn get_gathered_tagged<E, Fut>(
        &self,
        key: K,
        tags_from: impl Fn(&T) -> Vec<Tag>,
        mut load: impl FnMut(Vec<K>) -> Fut,
    ) -> Result<Option<T>, E>
    where
        Fut: Future<Output = Result<HashMap<K, T>, E>>,
    {
        // A hit answers at once; only misses join a round.
        if let Some((value, _)) = self.lookup(&key) {
            return Ok(value);
        }
        let Some(scope) = crate::scope::current() else { return self.alone(key, tags_from, load).await };
        let site = std::ptr::from_ref(self) as usize;
        let role = scope.with_state(site, |gather: &mut Gather<K, T>| {
            // A round whose first call was dropped before closing it is over.
            let open = gather.round.as_ref().filter(|round| round.has_changed().is_ok()).cloned();
            if open.is_none() {
                gather.keys.clear();
            }
            gather.keys.push(key.clone());
            match open {
                Some(round) => Role::Wait(round),
                None => {
                    let (close, round) = watch::channel(None);
                    gather.round = Some(round);
                    Role::Lead(close)
                }
            }
        });
        match role {
            Role::Lead(close) => {
                tokio::task::yield_now().await;
                let keys = scope.with_state(site, |gather: &mut Gather<K, T>| {
                    gather.round = None;
                    std::mem::take(&mut gather.keys)
                });
                match self.get_many_or_load_tagged_async(keys, &tags_from, &mut load).await {
                    Ok(found) => {
                        let mine = found.get(&key).cloned();
                        close.send_replace(Some(Some(Arc::new(found))));
                        Ok(mine)
                    }
                    Err(error) => {
                        close.send_replace(Some(None));
                        Err(error)
                    }
                }
            }
            Role::Wait(mut round) => {
                let outcome = round.wait_for(Option::is_some).await.ok().and_then(|outcome| outcome.clone()).flatten();
                match outcome {
                    Some(found) => Ok(found.get(&key).cloned()),
                    // The round failed or was dropped: this call's own turn.
                    None => self.alone(key, &tags_from, &mut load).await,
                }
            }
        }
    }

    /// `key` in a batch of its own.
    async fn alone<E, Fut>(
        &self,
        key: K,
        tags_from: impl Fn(&T) -> Vec<Tag>,
        load: impl FnMut(Vec<K>) -> Fut,
    ) -> Result<Option<T>, E>
    where
        Fut: Future<Output = Result<HashMap<K, T>, E>>,
    {
        let mut found = self.get_many_or_load_tagged_async([key.clone()], tags_from, load).await?;
        Ok(found.remove(&key))
    }
}
