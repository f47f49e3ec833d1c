//! The Lua scripts that make the L2's writes order-safe: a late or replayed write never
//! replaces newer data. Each reads no more than an envelope's first 12 bytes (a huge value
//! planted at a memo key costs nothing), with `redis.pcall`, so that a key of another Redis
//! type (a hash someone put at a memo key) is overwritten or removed instead of failing for
//! ever.
//!
//! An envelope starts with `me` and holds its created-at time in bytes 5 to 12, little endian
//! (see [`envelope`](super::envelope)).

/// Deletes the lock `KEYS[1]` if it still holds the token `ARGV[1]` (a lock that expired and
/// was taken by another instance is left to it). Returns 1 if deleted.
pub(crate) const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// `KEYS[1]` = envelope `ARGV[1]` for `ARGV[3]` ms, unless the stored envelope was created
/// later than `ARGV[2]`. Returns 1 if written.
pub(crate) const SET_IF_NEWER: &str = r"
local current = redis.pcall('GETRANGE', KEYS[1], 0, 11)
if type(current) == 'string' and #current >= 12 and string.sub(current, 1, 2) == 'me' then
  local created = 0
  for i = 12, 5, -1 do created = created * 256 + string.byte(current, i) end
  if created > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
";

/// Replaces `KEYS[1]` with the tombstone `ARGV[2]` (created at `ARGV[1]`) for `ARGV[3]` ms,
/// unless it holds an envelope created at or after `ARGV[1]`: copies made before are gone,
/// and a late write of one is refused by [`SET_IF_NEWER`]. Returns 1 if replaced.
pub(crate) const BURY_IF_OLDER: &str = r"
local current = redis.pcall('GETRANGE', KEYS[1], 0, 11)
if type(current) == 'string' and #current >= 12 and string.sub(current, 1, 2) == 'me' then
  local created = 0
  for i = 12, 5, -1 do created = created * 256 + string.byte(current, i) end
  if created >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
";

/// `KEYS[1]` = the time `ARGV[1]` for `ARGV[2]` ms, unless it holds a later time already: a
/// replayed invalidation never moves a tag's or a cache's invalidation time back.
pub(crate) const SET_MAX: &str = r"
local current = tonumber(redis.pcall('GET', KEYS[1])) or 0
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";
