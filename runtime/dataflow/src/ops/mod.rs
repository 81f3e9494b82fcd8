//! Built-in stateless and keyed operators (windows live in [`crate::window`]).

pub mod batch_fn;
pub mod process;
pub mod troublemaker;
pub mod typed_fn;
