//! The catalog's database: SQLite (a file, created and seeded on first run) or PostgreSQL (when
//! `DATABASE_URL` is set), through one sqlx `AnyPool` and one set of SQL statements.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Connection, Row};

use crate::zipf::{Rng, Zipf};

/// Categories in the seeded catalog.
pub const CATEGORIES: i64 = 200;
/// Users in the seeded catalog; each bought a few products.
pub const USERS: i64 = 10_000;
/// Products per category page.
pub const PAGE_SIZE: i64 = 20;

/// Words product names are made of; search terms are drawn from them too.
pub const ADJECTIVES: [&str; 16] = [
    "ergonomic",
    "rustic",
    "sleek",
    "handmade",
    "refined",
    "small",
    "large",
    "practical",
    "durable",
    "elegant",
    "modern",
    "vintage",
    "compact",
    "heavy",
    "light",
    "smart",
];
pub const MATERIALS: [&str; 12] = [
    "steel", "wooden", "cotton", "granite", "rubber", "plastic", "bronze", "leather", "glass", "wool", "silk",
    "concrete",
];
pub const NOUNS: [&str; 16] = [
    "chair", "table", "lamp", "shirt", "shoes", "keyboard", "bottle", "watch", "bag", "wallet", "gloves", "hat",
    "clock", "knife", "mug", "pillow",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub id: i64,
    pub category_id: i64,
    pub name: String,
    pub price_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub favorite_category: i64,
}

/// A database failure, as one line.
#[derive(Debug, Clone, thiserror::Error)]
#[error("database: {0}")]
pub struct DbError(String);

impl From<sqlx::Error> for DbError {
    fn from(error: sqlx::Error) -> Self {
        Self(error.to_string())
    }
}

/// A pool of connections; cheap to clone. Every statement it runs is counted in the
/// `catalog_db_queries_total` counter.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
}

impl Db {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://...`) and creates the tables.
    pub async fn connect(url: &str) -> Result<Self, String> {
        sqlx::any::install_default_drivers();
        let shown = redact(url);
        let sqlite = url.starts_with("sqlite:");
        // One connection first: the pool would report a refused connection as a timeout.
        let cannot_open = |e: sqlx::Error| format!("cannot open the database at {shown}: {}", one_line(&e.to_string()));
        sqlx::AnyConnection::connect(url).await.map_err(cannot_open)?.close().await.map_err(cannot_open)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 8 } else { 16 })
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(cannot_open)?;
        let db = Self { pool };
        if sqlite {
            // Readers do not wait for the writer.
            sqlx::query("PRAGMA journal_mode = WAL").execute(&db.pool).await.map_err(|e| e.to_string())?;
        }
        for statement in SCHEMA {
            sqlx::query(statement)
                .execute(&db.pool)
                .await
                .map_err(|e| format!("cannot create the tables in {shown}: {}", one_line(&e.to_string())))?;
        }
        Ok(db)
    }

    /// The SQLite URL for a file, creating its directory.
    pub fn sqlite_url(path: &Path) -> Result<String, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        Ok(format!("sqlite://{}?mode=rwc", path.display()))
    }

    fn counted(&self) -> &AnyPool {
        metrics::counter!("catalog_db_queries_total").increment(1);
        &self.pool
    }

    /// The products of `ids` that exist, in one query.
    pub async fn products(&self, ids: &[i64]) -> Result<HashMap<i64, Product>, DbError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let placeholders = (1..=ids.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ");
        let sql = format!("SELECT id, category_id, name, price_cents FROM products WHERE id IN ({placeholders})");
        let rows = ids.iter().fold(sqlx::query(&sql), |query, id| query.bind(*id)).fetch_all(self.counted()).await?;
        rows.iter().map(|row| product(row).map(|p| (p.id, p))).collect()
    }

    /// One page of a category, by id; `None` for an unknown category.
    pub async fn category_page(&self, category: i64, page: i64) -> Result<Option<Vec<Product>>, DbError> {
        if !(1..=CATEGORIES).contains(&category) {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT id, category_id, name, price_cents FROM products WHERE category_id = $1 ORDER BY id LIMIT $2 OFFSET $3",
        )
        .bind(category)
        .bind(PAGE_SIZE)
        .bind(page * PAGE_SIZE)
        .fetch_all(self.counted())
        .await?;
        rows.iter().map(product).collect::<Result<_, _>>().map(Some)
    }

    /// Products whose name contains `term` (lowercase), cheapest first: a full scan.
    pub async fn search(&self, term: &str) -> Result<Vec<Product>, DbError> {
        let rows = sqlx::query(
            "SELECT id, category_id, name, price_cents FROM products WHERE name LIKE $1 ORDER BY price_cents, id LIMIT 20",
        )
        .bind(format!("%{}%", term.to_lowercase().replace(['%', '_'], "")))
        .fetch_all(self.counted())
        .await?;
        rows.iter().map(product).collect()
    }

    /// The cheapest products of a category.
    pub async fn top_in_category(&self, category: i64) -> Result<Vec<Product>, DbError> {
        let rows = sqlx::query(
            "SELECT id, category_id, name, price_cents FROM products WHERE category_id = $1 ORDER BY price_cents, id LIMIT 5",
        )
        .bind(category)
        .fetch_all(self.counted())
        .await?;
        rows.iter().map(product).collect()
    }

    pub async fn user(&self, id: i64) -> Result<Option<User>, DbError> {
        let row = sqlx::query("SELECT id, name, favorite_category FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.counted())
            .await?;
        row.map(|r| Ok(User { id: r.try_get(0)?, name: r.try_get(1)?, favorite_category: r.try_get(2)? })).transpose()
    }

    /// Ids of the products a user bought.
    pub async fn purchases(&self, user: i64) -> Result<Vec<i64>, DbError> {
        let rows = sqlx::query("SELECT product_id FROM purchases WHERE user_id = $1 ORDER BY product_id")
            .bind(user)
            .fetch_all(self.counted())
            .await?;
        rows.iter().map(|r| r.try_get(0).map_err(DbError::from)).collect()
    }

    /// Sets a product's price; false if there is no such product.
    pub async fn set_price(&self, id: i64, price_cents: i64) -> Result<bool, DbError> {
        let done = sqlx::query("UPDATE products SET price_cents = $1 WHERE id = $2")
            .bind(price_cents)
            .bind(id)
            .execute(self.counted())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// How many products the catalog holds (not counted: used at startup).
    pub async fn product_count(&self) -> Result<i64, DbError> {
        Ok(sqlx::query("SELECT COUNT(*) FROM products").fetch_one(&self.pool).await?.try_get(0)?)
    }

    /// Fills an empty catalog with `products` products, the categories, users and their
    /// purchases, showing progress on stderr. Does nothing if products exist.
    pub async fn seed(&self, products: i64) -> Result<(), String> {
        let have = self.product_count().await.map_err(|e| e.to_string())?;
        if have > 0 {
            return Ok(());
        }
        let started = Instant::now();
        let mut progress = Progress::new(products + USERS);
        let mut tx = self.pool.begin().await.map_err(|e| e.to_string())?;
        let categories: Vec<_> = (1..=CATEGORIES).map(|id| vec![id.to_string(), format!("'category {id}'")]).collect();
        insert(&mut tx, "categories (id, name)", &categories).await?;
        for start in (1..=products).step_by(1_000) {
            let rows: Vec<_> = (start..(start + 1_000).min(products + 1)).map(product_row).collect();
            insert(&mut tx, "products (id, category_id, name, price_cents)", &rows).await?;
            progress.advance(rows.len() as i64, "products");
        }
        // Popular products are bought more: purchases follow the same Zipf law as traffic.
        let popular = Zipf::new(products as u64, 1.0);
        for start in (1..=USERS).step_by(1_000) {
            let users: Vec<_> = (start..start + 1_000).map(user_row).collect();
            insert(&mut tx, "users (id, name, favorite_category)", &users).await?;
            let bought: Vec<_> = (start..start + 1_000)
                .flat_map(|user| {
                    purchases_of(user, &popular).into_iter().map(move |p| vec![user.to_string(), p.to_string()])
                })
                .collect();
            insert(&mut tx, "purchases (user_id, product_id)", &bought).await?;
            progress.advance(1_000, "users");
        }
        tx.commit().await.map_err(|e| e.to_string())?;
        progress.finish(started);
        Ok(())
    }
}

const SCHEMA: [&str; 5] = [
    "CREATE TABLE IF NOT EXISTS categories (id BIGINT PRIMARY KEY, name TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS products (id BIGINT PRIMARY KEY, category_id BIGINT NOT NULL, name TEXT NOT NULL, \
     price_cents BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS products_by_category ON products (category_id, price_cents)",
    "CREATE TABLE IF NOT EXISTS users (id BIGINT PRIMARY KEY, name TEXT NOT NULL, favorite_category BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS purchases (user_id BIGINT NOT NULL, product_id BIGINT NOT NULL, \
     PRIMARY KEY (user_id, product_id))",
];

fn product(row: &AnyRow) -> Result<Product, DbError> {
    Ok(Product {
        id: row.try_get(0)?,
        category_id: row.try_get(1)?,
        name: row.try_get(2)?,
        price_cents: row.try_get(3)?,
    })
}

/// A deterministic pseudo-random number for seeding.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn product_row(id: i64) -> Vec<String> {
    let r = mix(id as u64);
    let name = format!(
        "'{} {} {} {id}'",
        ADJECTIVES[(r % 16) as usize],
        MATERIALS[((r >> 8) % 12) as usize],
        NOUNS[((r >> 16) % 16) as usize]
    );
    let category = (r >> 24) % CATEGORIES as u64 + 1;
    vec![id.to_string(), category.to_string(), name, (100 + (r >> 32) % 50_000).to_string()]
}

fn user_row(id: i64) -> Vec<String> {
    vec![id.to_string(), format!("'user {id}'"), (mix(!(id as u64)) % CATEGORIES as u64 + 1).to_string()]
}

/// The products a user bought: up to seven distinct ones, at least three draws.
fn purchases_of(user: i64, popular: &Zipf) -> Vec<i64> {
    let mut rng = Rng::new(mix(user as u64 ^ 0xABCD));
    let draws = 3 + rng.below(5);
    let mut bought: Vec<i64> = (0..draws).map(|_| popular.sample(&mut rng)).collect();
    bought.sort_unstable();
    bought.dedup();
    bought
}

/// One multi-row INSERT of literal values (generated here, never user input).
async fn insert(tx: &mut sqlx::Transaction<'_, sqlx::Any>, into: &str, rows: &[Vec<String>]) -> Result<(), String> {
    let mut sql = format!("INSERT INTO {into} VALUES ");
    for (i, row) in rows.iter().enumerate() {
        let _ = write!(sql, "{}({})", if i == 0 { "" } else { ", " }, row.join(", "));
    }
    sqlx::query(&sql)
        .execute(&mut **tx)
        .await
        .map(drop)
        .map_err(|e| format!("seeding failed: {}", one_line(&e.to_string())))
}

/// Seeding progress on stderr: one updating line on a terminal, a line per tenth otherwise.
struct Progress {
    total: i64,
    done: i64,
    shown: i64,
    terminal: bool,
}

impl Progress {
    fn new(total: i64) -> Self {
        eprintln!("seeding the catalog (first run): {total} rows");
        Self { total, done: 0, shown: 0, terminal: std::io::stderr().is_terminal() }
    }

    fn advance(&mut self, n: i64, what: &str) {
        self.done += n;
        let percent = self.done * 100 / self.total.max(1);
        if self.terminal {
            eprint!("\r  {what}: {percent:>3}% ({}/{})", self.done, self.total);
            let _ = std::io::stderr().flush();
        } else if percent / 10 > self.shown / 10 {
            eprintln!("  {percent}% ({what})");
        }
        self.shown = percent;
    }

    fn finish(&self, started: Instant) {
        if self.terminal {
            eprintln!();
        }
        eprintln!("seeded in {:.1} s", started.elapsed().as_secs_f64());
    }
}

/// A URL with its password replaced, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The first line of an error message.
pub fn one_line(message: &str) -> String {
    message.lines().next().unwrap_or_default().trim().to_owned()
}
