//! The production [`MailStore`]: the user's mailbox on the IMAP server, through the shared session pool.

use std::sync::OnceLock;

use super::store::{Changes, FolderInfo, ListQuery, MailStore, MsgSummary};
use crate::auth::Principal;
use crate::error::{Backend, Error, Result};
use crate::server::Gateway;

/// The IMAP session pool EWS uses. Gateway has no field for it (one Gateway per process), so it lives here.
static POOL: OnceLock<()> = OnceLock::new();

pub struct ImapStore {}

impl ImapStore {
    pub async fn open(_gw: &Gateway, _principal: &Principal) -> Result<ImapStore> {
        let _ = POOL.get();
        Err(Error::unavailable(Backend::Imap, "the IMAP store is not wired yet"))
    }

    /// Returns the session to the pool.
    pub fn release(self) {}
}

fn unwired<T>() -> Result<T> {
    Err(Error::unavailable(Backend::Imap, "the IMAP store is not wired yet"))
}

impl MailStore for ImapStore {
    async fn list_folders(&mut self) -> Result<Vec<FolderInfo>> {
        unwired()
    }
    async fn create_folder(&mut self, _name: &str) -> Result<()> {
        unwired()
    }
    async fn rename_folder(&mut self, _from: &str, _to: &str) -> Result<()> {
        unwired()
    }
    async fn delete_folder(&mut self, _name: &str) -> Result<()> {
        unwired()
    }
    async fn list_messages(&mut self, _folder: &str, _query: &ListQuery) -> Result<(u32, Vec<MsgSummary>)> {
        unwired()
    }
    async fn summaries(&mut self, _folder: &str, _uids: &[u32]) -> Result<Vec<MsgSummary>> {
        unwired()
    }
    async fn fetch_raw(&mut self, _folder: &str, _uid: u32) -> Result<Option<Vec<u8>>> {
        unwired()
    }
    async fn set_flags(&mut self, _f: &str, _u: &[u32], _a: &[String], _r: &[String], _s: Option<u64>) -> Result<Vec<u32>> {
        unwired()
    }
    async fn append(&mut self, _folder: &str, _raw: &[u8], _flags: &[String]) -> Result<(u32, u32)> {
        unwired()
    }
    async fn move_messages(&mut self, _from: &str, _uids: &[u32], _to: &str) -> Result<(u32, Vec<(u32, u32)>)> {
        unwired()
    }
    async fn copy_messages(&mut self, _from: &str, _uids: &[u32], _to: &str) -> Result<(u32, Vec<(u32, u32)>)> {
        unwired()
    }
    async fn delete_messages(&mut self, _folder: &str, _uids: &[u32]) -> Result<()> {
        unwired()
    }
    async fn changes_since(&mut self, _folder: &str, _modseq: u64) -> Result<Changes> {
        unwired()
    }
    async fn uids(&mut self, _folder: &str) -> Result<Vec<u32>> {
        unwired()
    }
}
