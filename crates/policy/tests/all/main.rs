//! Integration tests of warden-policy.

mod corpus_commands;
