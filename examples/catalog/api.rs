//! The catalog's cached reads, its write, and the HTTP routes over them.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use memo_runtime::{RequestMemoLayer, cached, invalidate, request_memo};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::{Deserialize, Serialize};

use crate::db::{Db, DbError, Product, User};

/// Products by id, for many ids at once (the ids of a user's purchases) and one at a time
/// (`products::one(id, db)`, a product page). Cached id by id: a call loads only the ids that
/// missed, in one query; hot products stay in memory; a missing id is remembered for 30 s so
/// that probing unknown ids does not reach the database; after five minutes (plus up to one of
/// jitter, so that products loaded together do not expire together) the old values are still
/// served for a minute while one reload of them runs.
#[cached(
    batch,
    ttl = "5m",
    jitter = "1m",
    negative_ttl = "30s",
    stale = "1m",
    capacity = 100_000,
    tags_from = |p: &Product| [format!("product:{}", p.id)],
    distributed
)]
pub async fn products(ids: Vec<i64>, db: Db) -> Result<HashMap<i64, Product>, DbError> {
    db.products(&ids).await
}

/// One page of a category. Tagged with the category and with every product on the page, so a
/// price change drops exactly the pages that show that product.
#[cached(
    ttl = "1m",
    jitter = "10s",
    negative_ttl = "1m",
    capacity = 20_000,
    tags = [format!("category:{category}")],
    tags_from = |page: &Option<Vec<Product>>| page.iter().flatten().map(|p| format!("product:{}", p.id)),
    skip(db),
    distributed
)]
pub async fn category_page(db: Db, category: i64, page: i64) -> Result<Option<Vec<Product>>, DbError> {
    db.category_page(category, page).await
}

/// A name search: a full scan in the database, so worth caching even for 30 s.
#[cached(
    ttl = "30s",
    jitter = "5s",
    capacity = 10_000,
    tags_from = |found: &Vec<Product>| found.iter().map(|p| format!("product:{}", p.id)),
    skip(db),
    distributed
)]
pub async fn search(db: Db, term: String) -> Result<Vec<Product>, DbError> {
    db.search(&term).await
}

/// The cheapest products of a category, for recommendations.
#[cached(
    ttl = "2m",
    jitter = "20s",
    capacity = 1_000,
    tags_from = |top: &Vec<Product>| top.iter().map(|p| format!("product:{}", p.id)),
    skip(db)
)]
pub async fn top_in_category(db: Db, category: i64) -> Result<Vec<Product>, DbError> {
    db.top_in_category(category).await
}

/// A user, as several parts of one recommendations request ask for it: the request memo
/// answers every call after the first in a request, and the cache below it serves requests
/// that come later.
#[request_memo(skip(db))]
pub async fn user(db: &Db, id: i64) -> Result<Option<User>, DbError> {
    user_profile(db.clone(), id).await
}

#[cached(ttl = "5m", jitter = "1m", negative_ttl = "1m", capacity = 20_000, tags = [format!("user:{id}")], skip(db))]
pub async fn user_profile(db: Db, id: i64) -> Result<Option<User>, DbError> {
    db.user(id).await
}

/// What a user bought. `request_consistent`: one request sees one answer even if the entry
/// expires or is invalidated while it runs.
#[cached(ttl = "1m", jitter = "10s", capacity = 20_000, request_consistent, tags = [format!("purchases:{user}")], skip(db))]
pub async fn purchases(db: Db, user: i64) -> Result<Vec<i64>, DbError> {
    db.purchases(user).await
}

/// Sets a price; on success everything tagged with the product is stale: its entry, the
/// category pages, searches and top lists that showed it, in every instance.
#[invalidate(tags = [format!("product:{id}")])]
pub async fn set_price(db: &Db, id: i64, price_cents: i64) -> Result<bool, DbError> {
    db.set_price(id, price_cents).await
}

#[derive(Debug, Serialize)]
pub struct Recommendations {
    pub user: String,
    pub because_you_like: Vec<Product>,
    pub because_you_bought: Vec<Product>,
}

/// Recommendations: several dependent lookups. `user` and `purchases` are asked for by three
/// helpers each; the request memo answers all but the first.
pub async fn recommendations(db: &Db, user_id: i64) -> Result<Option<Recommendations>, DbError> {
    let Some(person) = user(db, user_id).await? else { return Ok(None) };
    let because_you_like = fresh_for(db, user_id, top_in_category(db.clone(), person.favorite_category).await?).await?;
    let mut because_you_bought = Vec::new();
    for category in bought_categories(db, user_id).await? {
        because_you_bought.extend(fresh_for(db, user_id, top_in_category(db.clone(), category).await?).await?);
    }
    because_you_bought.truncate(10);
    let greeting = match user(db, user_id).await? {
        Some(u) => format!("{} (favourite category {})", u.name, u.favorite_category),
        None => person.name,
    };
    Ok(Some(Recommendations { user: greeting, because_you_like, because_you_bought }))
}

/// The categories of what a user bought: its products in one batch.
async fn bought_categories(db: &Db, user_id: i64) -> Result<Vec<i64>, DbError> {
    let ids = purchases(db.clone(), user_id).await?;
    let bought = products(ids.clone(), db.clone()).await?;
    let mut categories = Vec::new();
    for p in ids.iter().filter_map(|id| bought.get(id)) {
        if !categories.contains(&p.category_id) {
            categories.push(p.category_id);
        }
    }
    Ok(categories)
}

/// `candidates` without what the user already bought.
async fn fresh_for(db: &Db, user_id: i64, candidates: Vec<Product>) -> Result<Vec<Product>, DbError> {
    let bought = purchases(db.clone(), user_id).await?;
    Ok(candidates.into_iter().filter(|p| !bought.contains(&p.id)).collect())
}

#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub metrics: PrometheusHandle,
}

pub fn router(app: App) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/products/{id}", get(get_product).put(put_product))
        .route("/categories/{id}/products", get(get_category))
        .route("/search", get(get_search))
        .route("/users/{id}/recommendations", get(get_recommendations))
        .route("/metrics", get(get_metrics))
        .layer(RequestMemoLayer::new().max_entries(1_000))
        .with_state(app)
}

async fn index() -> &'static str {
    "memo catalog: GET /products/{id}, PUT /products/{id} {\"price_cents\": n}, \
     GET /categories/{id}/products?page=n, GET /search?q=term, GET /users/{id}/recommendations, GET /metrics\n"
}

async fn get_product(State(app): State<App>, Path(id): Path<i64>) -> Response {
    found(products::one(id, app.db).await)
}

#[derive(Debug, Deserialize)]
struct PriceChange {
    price_cents: i64,
}

async fn put_product(State(app): State<App>, Path(id): Path<i64>, Json(change): Json<PriceChange>) -> Response {
    match set_price(&app.db, id, change.price_cents).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => failed(&error),
    }
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    #[serde(default)]
    page: i64,
}

async fn get_category(State(app): State<App>, Path(id): Path<i64>, Query(q): Query<PageQuery>) -> Response {
    found(category_page(app.db, id, q.page.clamp(0, 1_000)).await)
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    q: String,
}

async fn get_search(State(app): State<App>, Query(q): Query<SearchQuery>) -> Response {
    let term = q.q.trim().to_lowercase();
    if term.len() < 2 || term.len() > 64 {
        return (StatusCode::BAD_REQUEST, "q: 2 to 64 characters\n").into_response();
    }
    match search(app.db, term).await {
        Ok(found) => Json(found).into_response(),
        Err(error) => failed(&error),
    }
}

async fn get_recommendations(State(app): State<App>, Path(id): Path<i64>) -> Response {
    found(recommendations(&app.db, id).await)
}

async fn get_metrics(State(app): State<App>) -> String {
    memo_runtime::metrics::record();
    app.metrics.render()
}

fn found<T: Serialize>(result: Result<Option<T>, DbError>) -> Response {
    match result {
        Ok(Some(value)) => Json(value).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => failed(&error),
    }
}

fn failed(error: &DbError) -> Response {
    tracing::error!(%error, "request failed");
    (StatusCode::SERVICE_UNAVAILABLE, format!("{error}\n")).into_response()
}
