//! placeholder, being written
mod content;
mod ser;
