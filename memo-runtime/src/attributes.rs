//! The attribute macros, re-exported from `memo-macros` with their documentation.

/// Caches a function's results in memory: time to live with jitter, single-flight, negative
/// caching, bounded size, and a typed handle for invalidation and statistics.
///
/// ```
/// use memo_runtime::cached;
///
/// # #[derive(Clone, Debug, PartialEq)] pub struct Product { id: u64 }
/// # #[derive(Debug)] pub struct DbError;
/// # pub struct Db;
/// # impl Db { async fn find(&self, id: u64) -> Result<Option<Product>, DbError> { Ok(Some(Product { id })) } }
/// #[cached(ttl = 300, jitter = 60, negative_ttl = 10, capacity = 50_000, skip(db))]
/// async fn load_product(db: &Db, id: u64) -> Result<Option<Product>, DbError> {
///     db.find(id).await
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), DbError> {
/// let db = Db;
/// let product = load_product(&db, 42).await?;
/// assert_eq!(load_product(&db, 42).await?, product); // a hit: the body did not run
///
/// load_product::invalidate(&42); // after product 42 changed
/// load_product::put(&42, Ok(Some(Product { id: 42 }))); // or write the new value through
/// assert_eq!(load_product::stats().loads, 1);
/// # Ok(()) }
/// ```
///
/// # Arguments
///
/// | argument | meaning | default |
/// |---|---|---|
/// | `ttl = 300` / `ttl = "250ms"` | how long a value stays fresh: integer seconds, or a string with a unit (`ms`, `s`, `m`, `h`, `d`, combinable as `"1h30m"`), checked at compile time | no expiry |
/// | `jitter = 60` | adds a uniform random `[0, jitter]` to each entry's time to live, so keys loaded together do not expire together | none |
/// | `negative_ttl = 10` | keep negative results (`None`, `Ok(None)`) this long | not kept |
/// | `capacity = 50_000` | most entries kept; S3-FIFO eviction keeps keys hit more than once | 10,000 |
/// | `max_bytes = "64MiB"` | a bound in bytes besides `capacity` (integer bytes, or a string with `B`, `KB`, `MB`, `GB`, `KiB`, `MiB`, `GiB`); an entry weighs what `weigher` says, or else its key's and value's inline size (`size_of`), which leaves out what they own on the heap | none |
/// | `weigher = \|page: &Page\| page.html.len()` | with `max_bytes`, what a stored value (the `Ok` value for a `Result`) weighs in bytes: a function or a closure that captures nothing | inline size |
/// | `skip(db, self)` | leave parameters out of the key (pools, clients, `self`) | none |
/// | `key = expr` | the key, as an expression over the parameters (by-value ones are seen as clones) | the parameters not skipped |
/// | `name = "products"` | the cache's name in statistics | `module::path::function` |
/// | `version = 2` | bump when the value's shape changes | 0 |
/// | `stale = "30s"` | stale-while-revalidate: for this long after `ttl`, a call answers at once with the old value while one background reload runs | off |
/// | `stale_if_error = "1h"` | stale-if-error: a load that fails, panics or times out is answered with the last good value if it is younger than this; counted and logged | off |
/// | `retry_after = "5s"` | with `stale_if_error`, the source is tried at most once per key per period while it fails | 1 s |
/// | `early_refresh = 1.0` | XFetch: a hit reloads in the background when `now - load_time * beta * ln(rand()) >= fresh_until` | off |
/// | `timeout = "250ms"` | a call waits this long for a load, then answers with a stale or stale-if-error value, or a [`LoadTimeout`](crate::LoadTimeout) error; the load finishes in the background | none |
/// | `tags = ["products", format!("product:{id}")]` | tags the entry carries, expressions over the arguments; [`invalidate_tag`](crate::invalidate_tag) drops every entry with the tag | none |
/// | `tags_from = \|v: &Vec<Product>\| ...` | a closure over the stored value (the `Ok` value for a `Result`) giving more tags, such as every product in a search result | none |
/// | `distributed` | an `async fn` whose entries are also kept in the Redis L2 and whose changes reach the other instances (feature `redis`; see [`Memo`](crate::Memo)) | off |
/// | `fleet_single_flight` | with `distributed`, one load per key across every instance: a miss takes a short lock on the key in Redis, and the other instances' callers wait for its value (see [`CacheBuilder::fleet_single_flight`](crate::cache::CacheBuilder::fleet_single_flight)) | per process |
/// | `lock_ttl = "5s"` | with `fleet_single_flight`, how long the lock lasts: the longest other instances wait for a holder that died | `timeout`, else 5 s |
/// | `request_consistent` | inside a [request scope](mod@crate::scope), the first answer for a key is the answer for the rest of the request, even if the entry expires or is invalidated meanwhile | off |
/// | `batch` | a free function whose first parameter holds many keys (`Vec<K>` or `&[K]`) and which returns `HashMap<K, V>` or `Result<HashMap<K, V>, E>` (written so, or through a type alias): cached per key, a call runs the body once with only the keys that missed (see [`Cache::get_many_or_load`](crate::Cache::get_many_or_load)); the handle's `one(key, ..)` asks for one key, gathered with the `one` calls of its request scope into one batch; with `ttl`, `jitter`, `negative_ttl` (for keys the body leaves out), `capacity`, `max_bytes`, `name`, `tags_from` (over each value), `stale`, `early_refresh`, `stale_if_error`, `retry_after` and, for an `async fn`, `distributed` | off |
/// | `in_impl` | an associated function without `self`, in an `impl` block | — |
/// | `crate = path` | where to find `memo_runtime` when it is renamed or re-exported | `::memo_runtime` |
///
/// # What is stored
///
/// The return type decides, as the compiler resolves it (type aliases such as
/// `anyhow::Result<T>` included): `Ok` and `Some` values are stored for `ttl`, `None` and
/// `Ok(None)` for `negative_ttl` (if given), errors never. See [`outcome`](crate::outcome).
///
/// # Keys
///
/// The key is the tuple of the parameters that are not skipped, in their owned form: `&str` is
/// keyed as `String`, `&[T]` as `Vec<T>`, `&T` as `T`, and a `Cow<'a, T>` (borrowed or owned
/// alike) as `T`'s owned form (`Cow<'a, str>` as `String`; the handle takes `&str`). Key parts
/// must be `Clone + Eq + Hash + Send + Sync + 'static`; the cached value `Clone + Send + Sync + 'static`
/// (wrap large values in `Arc` to make hits cheap). Floats are neither `Eq` nor `Hash`: key a
/// float argument by its bits, as in `key = (weight.to_bits(), zone)`. A parameter bound to
/// a pattern, such as `(width, height): (u32, u32)`, is keyed by its whole value, which the
/// handle takes (`area::invalidate(&(2, 3))`); `key = ...` and `tags` may name its bindings.
///
/// # Single-flight
///
/// Concurrent calls that miss on the same key run the body once; the others wait for its
/// value (blocking for a sync function, awaiting for an async one). Different keys never wait
/// on each other. If the leading call returns an error, panics or is cancelled, a waiting call
/// runs the body instead: nobody hangs. A sync function that calls itself with the same key
/// from inside its body runs again rather than waiting on itself.
///
/// # The handle
///
/// A free function `f` gets a handle named `f` (a type, so it does not clash with the
/// function): `f::invalidate(&args..) -> bool`, `f::invalidate_all()`,
/// `f::put(&args.., value)` and `f::stats()`, whose parameters are the key's parameters, taken
/// by reference, and `f::refresh(args..)`, which takes the function's own arguments. Invalidation
/// also stops a load of that key running at that moment from being stored, so it cannot put
/// back the value the invalidation meant to remove. `refresh` reloads now: it reads no cache,
/// runs the body (misses on the key meanwhile wait for it; a load already running is not
/// stored), stores and publishes the value like any load, and returns it.
///
/// A method `m` in an `impl` block gets associated functions `Self::m_invalidate`,
/// `Self::m_invalidate_all`, `Self::m_put`, `Self::m_stats` and the method `m_refresh`; when
/// `key = ...` reads `self` they take `&self`.
///
/// ```
/// use memo_runtime::cached;
///
/// struct Catalog {
///     tenant: u32,
/// }
///
/// impl Catalog {
///     /// One cache for all catalogs: `self` is not part of the key.
///     #[cached(ttl = 60, skip(self))]
///     fn currency(&self, country: &str) -> String {
///         if country == "JP" { "JPY".into() } else { "EUR".into() }
///     }
///
///     /// Keyed by tenant and id.
///     #[cached(ttl = 60, key = (self.tenant, id))]
///     async fn price(&self, id: u64) -> u64 {
///         id * 100 + u64::from(self.tenant)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let catalog = Catalog { tenant: 7 };
/// assert_eq!(catalog.currency("JP"), "JPY");
/// assert_eq!(catalog.price(1).await, 107);
/// assert!(catalog.price_invalidate(&1));
/// assert!(Catalog::currency_invalidate("JP"));
/// assert_eq!(Catalog::price_stats().loads, 1);
/// # }
/// ```
///
/// In a trait impl (`impl Repo for PgRepo`), which may hold only the trait's methods, the
/// handle goes in an inherent `impl PgRepo` that [`cached_impl`] on the impl block writes:
/// `PgRepo::find_invalidate(&id)` and so on, public as the trait's methods are. Without it
/// rustc reports that `find_invalidate` and its companions are not members of the trait.
///
/// # Loads that outlive the call
///
/// With `stale`, `early_refresh` or `timeout`, a load may go on after the call that started it
/// returns: background reloads, and loads a caller stopped waiting for, run as a tokio task
/// (async functions in a tokio runtime) or on a pool of at most
/// [`background::THREADS`](crate::background::THREADS) threads shared by every cache (sync
/// functions, and async ones called outside a tokio runtime, whose reloads then run to
/// completion on a pool thread). However many keys go stale at once, no more threads start:
/// when every pool thread is busy, a reload waits for a later call, and a call with a `timeout`
/// runs its load itself. `timeout` needs a tokio runtime to time the wait: outside one, an
/// async function's calls wait for their loads (said once, as a warning). Such functions must own
/// their arguments (`Arc<Db>` or a cloneable pool rather than `&Db`, `self: Arc<Self>` rather
/// than `&self`); a compile error says so. With `timeout`, the return type must be
/// `Result<T, E>` with `E: From<LoadTimeout>` so that a timed-out call without a fallback can
/// say so. Because those loads run as their own tasks, a leading call that is dropped or never
/// polled again does not hold the others up.
///
/// ```
/// use std::sync::Arc;
/// use memo_runtime::{cached, LoadTimeout};
///
/// # pub struct Db;
/// # impl Db { async fn rate(&self, _: &str) -> Result<f64, DbError> { Ok(1.1) } }
/// #[derive(Debug)]
/// pub enum DbError { Timeout(LoadTimeout) }
/// impl From<LoadTimeout> for DbError {
///     fn from(t: LoadTimeout) -> Self { DbError::Timeout(t) }
/// }
///
/// #[cached(ttl = "1m", stale = "30s", stale_if_error = "1h", timeout = "200ms", skip(db))]
/// async fn exchange_rate(db: Arc<Db>, currency: String) -> Result<f64, DbError> {
///     db.rate(&currency).await
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let rate = exchange_rate(Arc::new(Db), "EUR".into()).await.unwrap();
/// assert_eq!(rate, 1.1);
/// # }
/// ```
///
/// # Generic functions
///
/// A generic free function keeps one cache per instantiation, found by its type parameters
/// (each made `'static`), and named after them (`app::load<app::User>`, also in the L2's keys).
/// Its handle is generic over the same parameters. An `impl Trait` argument left out of the
/// key, such as a database handle, needs nothing more: it does not change what is cached.
///
/// ```
/// use memo_runtime::cached;
///
/// trait FromRow: Sized { fn from_row(id: u64) -> Self; }
/// trait Db { fn query(&self, id: u64) -> u64; }
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct User(u64);
/// impl FromRow for User { fn from_row(id: u64) -> Self { User(id) } }
///
/// struct Pg;
/// impl Db for Pg { fn query(&self, id: u64) -> u64 { id } }
///
/// #[cached(ttl = "5m", skip(db))]
/// fn load<T: FromRow + Clone + Send + Sync>(db: &impl Db, id: u64) -> T {
///     T::from_row(db.query(id))
/// }
///
/// assert_eq!(load::<User>(&Pg, 1), User(1));
/// assert!(load::<User>::invalidate(&1));
/// assert_eq!(load::<User>::stats().loads, 1);
/// ```
///
/// Generic methods, const parameters and `request_consistent` on a generic function are
/// compile errors: call a generic free function from the method.
///
/// # Compile errors
///
/// Misuse is a compile error on the offending token that says what to write instead: unknown
/// or repeated arguments, malformed durations, a method without `skip(self)` or `key`, generic
/// methods, `impl Trait` or `&mut` arguments in the key, borrowed or `()` return values, and
/// key or value types that lack the traits caching needs.
#[doc(inline)]
pub use memo_macros::cached;
/// On an `impl Trait for Type` block whose methods carry [`#[cached]`](cached): gives each
/// such method its handle, in an inherent `impl Type` block (a trait impl may hold only the
/// trait's items). The handle is as for a method in an inherent impl: `Type::m_invalidate`,
/// `Type::m_invalidate_all`, `Type::m_put`, `Type::m_stats` and `m_refresh`, `pub` since the trait's
/// methods are as visible as the trait. The cache is one for the method, shared by every value
/// of the type (and by every instantiation of a generic one).
///
/// Native `async fn` in traits, sync methods and [`async_trait`](https://docs.rs/async-trait)
/// methods work alike; `#[async_trait]` may come before or after `#[cached_impl]`.
/// [`#[request_memo]`](request_memo) has no handle and needs no `#[cached_impl]`.
///
/// ```
/// use std::sync::Arc;
/// use memo_runtime::{cached, cached_impl};
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct User { id: u64 }
///
/// #[async_trait::async_trait]
/// trait Users: Send + Sync {
///     async fn find(&self, id: u64) -> Option<User>;
/// }
///
/// struct PgUsers;
///
/// #[cached_impl]
/// #[async_trait::async_trait]
/// impl Users for PgUsers {
///     #[cached(ttl = "5m", skip(self), tags = [format!("user:{id}")])]
///     async fn find(&self, id: u64) -> Option<User> {
///         Some(User { id }) // a query
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let users: Arc<dyn Users> = Arc::new(PgUsers);
/// assert_eq!(users.find(1).await, Some(User { id: 1 }));
/// assert_eq!(users.find(1).await, Some(User { id: 1 })); // a hit
/// assert_eq!(PgUsers::find_stats().loads, 1);
/// assert!(PgUsers::find_invalidate(&1)); // after user 1 changed
/// # }
/// ```
///
/// Two trait impls for one type that both cache a method of the same name would give the
/// type two handles of one name: rename one with a method of the type that the trait method
/// calls.
#[doc(inline)]
pub use memo_macros::cached_impl;

/// Memoizes a function within one request: inside a [request scope](mod@crate::scope), calls with equal
/// arguments run the body once and return clones of the first result; outside any scope the
/// function simply runs.
///
/// Concurrent equal calls in one scope share one run; different arguments never wait on each
/// other; errors are not memoized (the next call runs again). `None` and `Ok(None)` are results
/// like any other. The key is formed as for [`cached`]: `skip(..)`, `key = ...`, and methods
/// need `skip(self)` or `key = ...`.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use memo_runtime::request_memo;
///
/// static QUERIES: AtomicU32 = AtomicU32::new(0);
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct User { id: u64, name: String }
///
/// #[request_memo]
/// async fn load_user(id: u64) -> Result<User, String> {
///     QUERIES.fetch_add(1, Ordering::SeqCst);
///     Ok(User { id, name: format!("user {id}") })
/// }
///
/// /// Two layers of a handler that each need the user.
/// async fn greeting(id: u64) -> Result<String, String> {
///     Ok(format!("hello {}", load_user(id).await?.name))
/// }
/// async fn permissions(id: u64) -> Result<Vec<String>, String> {
///     let user = load_user(id).await?;
///     Ok(vec![format!("read:{}", user.id)])
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), String> {
/// memo_runtime::scope(async {
///     greeting(7).await?;
///     permissions(7).await?;
///     Ok::<_, String>(())
/// })
/// .await?;
/// assert_eq!(QUERIES.load(Ordering::SeqCst), 1, "one query for the whole request");
/// # Ok(()) }
/// ```
///
/// Arguments: `skip(a, b)`, `key = expr`, `crate = path`. Time-based arguments (`ttl` and the
/// like) belong to [`cached`]: a request memo lives as long as its request. To make a
/// `#[cached]` function answer one value per key for a whole request, even if its entry expires
/// or is invalidated meanwhile, give it `request_consistent`.
#[doc(inline)]
pub use memo_macros::request_memo;

/// Invalidates cached values after a function that changes data succeeds (returns anything
/// but `Err`); on `Err` nothing is invalidated.
///
/// | argument | invalidates |
/// |---|---|
/// | `tags = [expr, ..]` | every entry carrying one of these tags, in every cached function ([`invalidate_tag`](crate::invalidate_tag)) |
/// | `entries = [f(args), ..]` | the entry of cached function `f` for those arguments, given as `f` takes them or by reference: `f(id)` and `f(&id)` alike (`f::invalidate(&id)`); for a method, `Type::m(id)` or `Self::m(id)` (`Type::m_invalidate(&id)`) |
/// | `all = [f, ..]` | every entry of cached function `f` (`f::invalidate_all()`), or of method `Type::m` |
/// | `crate = path` | — (where to find `memo_runtime`) |
///
/// Tag expressions and entry arguments are evaluated before the body runs, so they can use
/// arguments the body takes by value.
///
/// ```
/// use memo_runtime::{cached, invalidate};
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct Product { id: u64, price: u32 }
///
/// #[cached(ttl = 300, tags = [format!("product:{id}")])]
/// fn load_product(id: u64) -> Option<Product> {
///     Some(Product { id, price: 100 })
/// }
///
/// #[cached(ttl = 300, tags_from = |found: &Vec<Product>| found.iter().map(|p| format!("product:{}", p.id)))]
/// fn cheapest() -> Vec<Product> {
///     vec![Product { id: 1, price: 100 }]
/// }
///
/// #[invalidate(tags = [format!("product:{id}")])]
/// fn set_price(id: u64, price: u32) -> Result<(), String> {
///     let _ = price; // UPDATE products SET price = ... WHERE id = ...
///     Ok(())
/// }
///
/// fn main() {
///     load_product(1);
///     cheapest();
///     set_price(1, 90).unwrap();
///     load_product(1); // reloaded
///     cheapest();      // reloaded: it contained product 1
///     assert_eq!(load_product::stats().loads, 2);
///     assert_eq!(cheapest::stats().loads, 2);
/// }
/// ```
#[doc(inline)]
pub use memo_macros::invalidate;
