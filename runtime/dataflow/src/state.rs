//! Typed keyed state over the byte-level backend: [`ValueState`], [`ListState`] and
//! [`MapState`], with optional time-to-live.
//!
//! Values are encoded with `postcard` (compact and stable); with a TTL, each stored value also
//! carries its expiry time (see `freshet_state::ttl`), so both backends expire identically.
//! Handles are registered once (at `open`) and then used with the current key's
//! [`KeyScope`].

use crate::context::OperatorContext;
use freshet_core::{Error, KeyGroup, Result};
use freshet_state::ttl::{decode_with_expiry, encode_with_expiry, TtlConfig, TtlUpdate};
use freshet_state::StateId;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::marker::PhantomData;

/// The key (and namespace) that state calls address.
#[derive(Clone, Copy, Debug)]
pub struct KeyScope<'a> {
    /// Key group of the key.
    pub key_group: KeyGroup,
    /// Encoded key.
    pub key: &'a [u8],
    /// Namespace (empty for plain per-key state).
    pub namespace: &'a [u8],
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    postcard::to_stdvec(value).map_err(|e| Error::Serde(format!("encoding state: {e}")))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    postcard::from_bytes(bytes).map_err(|e| Error::Serde(format!("decoding state: {e}")))
}

fn wrap(ctx: &OperatorContext, ttl: Option<TtlConfig>, payload: Vec<u8>) -> Vec<u8> {
    match ttl {
        Some(t) => encode_with_expiry(&payload, ctx.now_ms().saturating_add(t.ttl_ms)),
        None => payload,
    }
}

fn unwrap_live(ctx: &OperatorContext, ttl: Option<TtlConfig>, stored: &[u8]) -> Option<Vec<u8>> {
    match ttl {
        Some(_) => decode_with_expiry(stored, ctx.now_ms()).map(<[u8]>::to_vec),
        None => Some(stored.to_vec()),
    }
}

/// A single value per key (and namespace).
#[derive(Debug)]
pub struct ValueState<T> {
    id: StateId,
    ttl: Option<TtlConfig>,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for ValueState<T> {
    fn clone(&self) -> Self {
        Self {
            id: self.id,
            ttl: self.ttl,
            _type: PhantomData,
        }
    }
}

impl<T: Serialize + DeserializeOwned> ValueState<T> {
    /// Registers the state `name` (optionally with a TTL).
    pub fn register(ctx: &mut OperatorContext, name: &str, ttl: Option<TtlConfig>) -> Result<Self> {
        let id = ctx.state()?.register_state(name)?;
        Ok(Self {
            id,
            ttl,
            _type: PhantomData,
        })
    }

    /// The current value; `None` if unset or expired.
    pub fn get(&self, ctx: &mut OperatorContext, scope: KeyScope<'_>) -> Result<Option<T>> {
        let stored = ctx
            .state_ref()?
            .get(self.id, scope.key_group, scope.key, scope.namespace)?
            .map(|c| c.into_owned());
        let Some(stored) = stored else { return Ok(None) };
        match unwrap_live(ctx, self.ttl, &stored) {
            Some(payload) => {
                let value = decode(&payload)?;
                if self.ttl.is_some_and(|t| t.update == TtlUpdate::OnReadAndWrite) {
                    let refreshed = wrap(ctx, self.ttl, payload);
                    ctx.state()?
                        .put(self.id, scope.key_group, scope.key, scope.namespace, &refreshed)?;
                }
                Ok(Some(value))
            }
            None => {
                ctx.state()?
                    .delete(self.id, scope.key_group, scope.key, scope.namespace)?;
                Ok(None)
            }
        }
    }

    /// Sets the value.
    pub fn set(&self, ctx: &mut OperatorContext, scope: KeyScope<'_>, value: &T) -> Result<()> {
        let bytes = wrap(ctx, self.ttl, encode(value)?);
        ctx.state()?
            .put(self.id, scope.key_group, scope.key, scope.namespace, &bytes)
    }

    /// Removes the value.
    pub fn clear(&self, ctx: &mut OperatorContext, scope: KeyScope<'_>) -> Result<()> {
        ctx.state()?
            .delete(self.id, scope.key_group, scope.key, scope.namespace)
    }
}

/// A list of values per key (and namespace).
#[derive(Debug)]
pub struct ListState<T> {
    inner: ValueState<Vec<T>>,
}

impl<T> Clone for ListState<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Serialize + DeserializeOwned> ListState<T> {
    /// Registers the state `name`.
    pub fn register(ctx: &mut OperatorContext, name: &str, ttl: Option<TtlConfig>) -> Result<Self> {
        Ok(Self {
            inner: ValueState::register(ctx, name, ttl)?,
        })
    }

    /// All values, in insertion order (empty if none or expired).
    pub fn get(&self, ctx: &mut OperatorContext, scope: KeyScope<'_>) -> Result<Vec<T>> {
        Ok(self.inner.get(ctx, scope)?.unwrap_or_default())
    }

    /// Appends a value.
    pub fn add(&self, ctx: &mut OperatorContext, scope: KeyScope<'_>, value: T) -> Result<()> {
        let mut list = self.get(ctx, scope)?;
        list.push(value);
        self.inner.set(ctx, scope, &list)
    }

    /// Replaces the list.
    pub fn update(&self, ctx: &mut OperatorContext, scope: KeyScope<'_>, values: &Vec<T>) -> Result<()> {
        self.inner.set(ctx, scope, values)
    }

    /// Removes the list.
    pub fn clear(&self, ctx: &mut OperatorContext, scope: KeyScope<'_>) -> Result<()> {
        self.inner.clear(ctx, scope)
    }
}

/// A map per key (and namespace); entries expire individually under a TTL.
#[derive(Debug)]
pub struct MapState<K, V> {
    id: StateId,
    ttl: Option<TtlConfig>,
    _type: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for MapState<K, V> {
    fn clone(&self) -> Self {
        Self {
            id: self.id,
            ttl: self.ttl,
            _type: PhantomData,
        }
    }
}

impl<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> MapState<K, V> {
    /// Registers the state `name`.
    pub fn register(ctx: &mut OperatorContext, name: &str, ttl: Option<TtlConfig>) -> Result<Self> {
        let id = ctx.state()?.register_state(name)?;
        Ok(Self {
            id,
            ttl,
            _type: PhantomData,
        })
    }

    /// The value for `key`.
    pub fn get(&self, ctx: &mut OperatorContext, scope: KeyScope<'_>, key: &K) -> Result<Option<V>> {
        let user_key = encode(key)?;
        let stored = ctx
            .state_ref()?
            .map_get(self.id, scope.key_group, scope.key, scope.namespace, &user_key)?
            .map(|c| c.into_owned());
        let Some(stored) = stored else { return Ok(None) };
        match unwrap_live(ctx, self.ttl, &stored) {
            Some(payload) => Ok(Some(decode(&payload)?)),
            None => {
                ctx.state()?
                    .map_delete(self.id, scope.key_group, scope.key, scope.namespace, &user_key)?;
                Ok(None)
            }
        }
    }

    /// Sets the value for `key`.
    pub fn put(&self, ctx: &mut OperatorContext, scope: KeyScope<'_>, key: &K, value: &V) -> Result<()> {
        let user_key = encode(key)?;
        let bytes = wrap(ctx, self.ttl, encode(value)?);
        ctx.state()?
            .map_put(self.id, scope.key_group, scope.key, scope.namespace, &user_key, &bytes)
    }

    /// Removes `key`.
    pub fn remove(&self, ctx: &mut OperatorContext, scope: KeyScope<'_>, key: &K) -> Result<()> {
        let user_key = encode(key)?;
        ctx.state()?
            .map_delete(self.id, scope.key_group, scope.key, scope.namespace, &user_key)
    }

    /// All live entries, ordered by encoded key.
    pub fn entries(&self, ctx: &mut OperatorContext, scope: KeyScope<'_>) -> Result<Vec<(K, V)>> {
        let raw = ctx
            .state_ref()?
            .map_entries(self.id, scope.key_group, scope.key, scope.namespace)?;
        let mut out = Vec::with_capacity(raw.len());
        for (k, v) in raw {
            match unwrap_live(ctx, self.ttl, &v) {
                Some(payload) => out.push((decode(&k)?, decode(&payload)?)),
                None => ctx
                    .state()?
                    .map_delete(self.id, scope.key_group, scope.key, scope.namespace, &k)?,
            }
        }
        Ok(out)
    }

    /// Removes every entry.
    pub fn clear(&self, ctx: &mut OperatorContext, scope: KeyScope<'_>) -> Result<()> {
        ctx.state()?
            .map_clear(self.id, scope.key_group, scope.key, scope.namespace)
    }
}
