//! Uploaded files' records (their bytes are in the files dir) and who may download them.

use async_trait::async_trait;
use natter_protocol::FileInfo;

use super::StoreResult;

/// An uploaded file's record (its bytes are in the files dir).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub info: FileInfo,
    pub uploader: String,
}

/// Files and the conversations they were sent to.
#[async_trait]
pub trait Files: Send + Sync {
    /// Records an uploaded file (its bytes are already in place).
    async fn insert_file(&self, file: FileRecord) -> StoreResult<()>;

    /// The file with this id.
    async fn file(&self, file_id: &str) -> StoreResult<Option<FileRecord>>;

    /// Whether the file was sent to `user_id`: in a private message to them, or to a group they
    /// are a member of now. (Its uploader, the only one who can send it, has it anyway.)
    async fn file_sent_to(&self, file_id: &str, user_id: &str) -> StoreResult<bool>;

    /// The bytes of every file `user_id` uploaded (for `--files-quota-bytes`).
    async fn uploaded_bytes(&self, user_id: &str) -> StoreResult<u64>;

    /// Forgets the files `user_id` uploaded, once their messages are gone (a removed user: only
    /// an uploader can send a file); their ids (the caller removes their bytes).
    async fn forget_files_of(&self, user_id: &str) -> StoreResult<Vec<String>>;
}
