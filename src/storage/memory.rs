//! In-memory storage: the documented default. Everything is lost when the process restarts.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{Storage, StorageError};

#[derive(Debug)]
enum Value {
    Bytes(Vec<u8>),
    Hash(BTreeMap<String, Vec<u8>>),
}

#[derive(Debug)]
struct Entry {
    value: Value,
    expires_at: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|t| t > now)
    }
}

/// A process-local map with per-key expiry. Expired entries are dropped lazily on access and
/// swept whenever the map has grown by a further 1,024 entries.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    entries: Mutex<HashMap<String, Entry>>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Entry>, Instant) -> R) -> R {
        // A poisoned lock only means another task panicked mid-update of an independent key.
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if map.len() % 1024 == 1023 {
            map.retain(|_, e| e.live(now));
        }
        f(&mut map, now)
    }
}

fn deadline(ttl: Option<Duration>) -> Option<Instant> {
    ttl.map(|t| Instant::now() + t)
}

#[async_trait]
impl Storage for MemoryStorage {
    async fn put(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), StorageError> {
        self.with(|m, _| {
            m.insert(key.to_owned(), Entry { value: Value::Bytes(value.to_vec()), expires_at: deadline(ttl) });
        });
        Ok(())
    }

    async fn put_if_absent(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<bool, StorageError> {
        Ok(self.with(|m, now| {
            if m.get(key).is_some_and(|e| e.live(now)) {
                return false;
            }
            m.insert(key.to_owned(), Entry { value: Value::Bytes(value.to_vec()), expires_at: deadline(ttl) });
            true
        }))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.with(|m, now| match m.get(key) {
            Some(Entry { value: Value::Bytes(b), expires_at }) if expires_at.is_none_or(|t| t > now) => Some(b.clone()),
            _ => None,
        }))
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.with(|m, now| match m.remove(key) {
            Some(e) if e.live(now) => match e.value {
                Value::Bytes(b) => Some(b),
                Value::Hash(_) => None,
            },
            _ => None,
        }))
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.with(|m, _| m.remove(key));
        Ok(())
    }

    async fn put_field(&self, key: &str, field: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), StorageError> {
        self.with(|m, now| {
            let entry = m
                .entry(key.to_owned())
                .or_insert_with(|| Entry { value: Value::Hash(BTreeMap::new()), expires_at: None });
            if !entry.live(now) || !matches!(entry.value, Value::Hash(_)) {
                entry.value = Value::Hash(BTreeMap::new());
            }
            if let Value::Hash(h) = &mut entry.value {
                h.insert(field.to_owned(), value.to_vec());
            }
            entry.expires_at = deadline(ttl);
        });
        Ok(())
    }

    async fn fields(&self, key: &str) -> Result<BTreeMap<String, Vec<u8>>, StorageError> {
        Ok(self.with(|m, now| match m.get(key) {
            Some(e @ Entry { value: Value::Hash(h), .. }) if e.live(now) => h.clone(),
            _ => BTreeMap::new(),
        }))
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn take_is_single_use() {
        let s = MemoryStorage::new();
        s.put("code", b"x", None).await.unwrap();
        assert_eq!(s.take("code").await.unwrap().as_deref(), Some(&b"x"[..]));
        assert_eq!(s.take("code").await.unwrap(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn entries_expire() {
        let s = MemoryStorage::new();
        s.put("k", b"v", Some(Duration::from_secs(5))).await.unwrap();
        s.put_field("h", "github", b"t", Some(Duration::from_secs(5))).await.unwrap();
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(s.get("k").await.unwrap(), None);
        assert!(s.fields("h").await.unwrap().is_empty());
        assert!(s.put_if_absent("k", b"w", None).await.unwrap());
    }

    #[tokio::test]
    async fn hash_fields_accumulate() {
        let s = MemoryStorage::new();
        s.put_field("upstream:abc", "github", b"1", None).await.unwrap();
        s.put_field("upstream:abc", "google", b"2", None).await.unwrap();
        let f = s.fields("upstream:abc").await.unwrap();
        assert_eq!(f.len(), 2);
    }
}
