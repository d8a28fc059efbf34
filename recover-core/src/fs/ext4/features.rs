//! The ext2/3/4 superblock's feature flags this crate acts on, defined
//! once (Linux fs/ext4/ext4.h, EXT4_FEATURE_*; the superblock holds
//! s_feature_compat at 0x5C, s_feature_incompat at 0x60 and
//! s_feature_ro_compat at 0x64).

/// COMPAT: a journal (ext3/4).
pub(crate) const COMPAT_HAS_JOURNAL: u32 = 0x4;
/// INCOMPAT: compression (never merged into Linux; unreadable here).
pub(crate) const INCOMPAT_COMPRESSION: u32 = 0x1;
/// INCOMPAT: directory entries carry a file type.
pub(crate) const INCOMPAT_FILETYPE: u32 = 0x2;
/// INCOMPAT: the journal needs replaying.
pub(crate) const INCOMPAT_RECOVER: u32 = 0x4;
/// INCOMPAT: this is an external journal device, holding no files.
pub(crate) const INCOMPAT_JOURNAL_DEV: u32 = 0x8;
/// INCOMPAT: meta block groups.
pub(crate) const INCOMPAT_META_BG: u32 = 0x10;
/// INCOMPAT: 64-bit block numbers and 64-byte group descriptors.
pub(crate) const INCOMPAT_64BIT: u32 = 0x80;
/// INCOMPAT: data in directory entries (Lustre; unreadable here).
pub(crate) const INCOMPAT_DIRDATA: u32 = 0x1000;
/// INCOMPAT: the checksum seed is stored in the superblock.
pub(crate) const INCOMPAT_CSUM_SEED: u32 = 0x2000;
/// RO_COMPAT: superblock backups only in groups 0, 1 and powers of 3, 5, 7.
pub(crate) const RO_COMPAT_SPARSE_SUPER: u32 = 0x1;
/// RO_COMPAT: files over 2 GiB.
pub(crate) const RO_COMPAT_LARGE_FILE: u32 = 0x2;
/// RO_COMPAT: hashed directories (unused by Linux, set by old tools).
pub(crate) const RO_COMPAT_BTREE_DIR: u32 = 0x4;
/// RO_COMPAT: group descriptor checksums (crc16).
pub(crate) const RO_COMPAT_GDT_CSUM: u32 = 0x10;
/// RO_COMPAT: crc32c metadata checksums.
pub(crate) const RO_COMPAT_METADATA_CSUM: u32 = 0x400;
