//! Typed mail store operations over the IMAP pool (in progress).
