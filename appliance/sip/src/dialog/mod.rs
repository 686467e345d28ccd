//! Dialogs.
