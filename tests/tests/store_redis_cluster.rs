#![cfg(feature = "redis-cluster")]
