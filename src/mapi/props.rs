//! Property tags the MAPI front-end serves (MS-OXPROPS names; MS-OXOABK for the address book, MS-OXCSTOR for
//! the store), and the ec* codes it answers with (MS-OXCDATA 2.4).

use mapi_codec::oxcdata::PropTag;

const fn t(v: u32) -> PropTag {
    PropTag(v)
}

// Address book (MS-OXOABK 2.2).
pub const ENTRY_ID: PropTag = t(0x0FFF_0102);
pub const INSTANCE_KEY: PropTag = t(0x0FF6_0102);
pub const RECORD_KEY: PropTag = t(0x0FF9_0102);
pub const OBJECT_TYPE: PropTag = t(0x0FFE_0003);
pub const DISPLAY_NAME: PropTag = t(0x3001_001F);
pub const ADDRESS_TYPE: PropTag = t(0x3002_001F);
pub const EMAIL_ADDRESS: PropTag = t(0x3003_001F);
pub const SEARCH_KEY: PropTag = t(0x300B_0102);
pub const DISPLAY_TYPE: PropTag = t(0x3900_0003);
pub const TEMPLATE_ID: PropTag = t(0x3902_0102);
pub const DISPLAY_TYPE_EX: PropTag = t(0x3905_0003);
pub const SMTP_ADDRESS: PropTag = t(0x39FE_001F);
pub const ACCOUNT: PropTag = t(0x3A00_001F);
pub const GIVEN_NAME: PropTag = t(0x3A06_001F);
pub const BUSINESS_TELEPHONE_NUMBER: PropTag = t(0x3A08_001F);
pub const SURNAME: PropTag = t(0x3A11_001F);
pub const TITLE: PropTag = t(0x3A17_001F);
pub const DEPARTMENT_NAME: PropTag = t(0x3A18_001F);
pub const OFFICE_LOCATION: PropTag = t(0x3A19_001F);
pub const MOBILE_TELEPHONE_NUMBER: PropTag = t(0x3A1C_001F);
pub const TRANSMITTABLE_DISPLAY_NAME: PropTag = t(0x3A20_001F);
pub const ADDRESS_BOOK_MANAGER_DISTINGUISHED_NAME: PropTag = t(0x8005_001F);
pub const ADDRESS_BOOK_HOME_MESSAGE_DATABASE: PropTag = t(0x8006_001F);
pub const ADDRESS_BOOK_PROXY_ADDRESSES: PropTag = t(0x800F_101F);
pub const ADDRESS_BOOK_MEMBER: PropTag = t(0x8009_000D);
pub const ADDRESS_BOOK_IS_MEMBER_OF_DL: PropTag = t(0x8008_000D);
pub const ADDRESS_BOOK_REPORTS: PropTag = t(0x800E_000D);
/// PidTagAnr: ambiguous name resolution, only in restrictions (MS-OXNSPI 3.1.4.7).
pub const ANR: PropTag = t(0x360C_001F);
// Containers (GetSpecialTable rows, MS-OXNSPI 3.1.4.1.3).
pub const CONTAINER_FLAGS: PropTag = t(0x3600_0003);
pub const DEPTH: PropTag = t(0x3005_0003);
pub const ADDRESS_BOOK_CONTAINER_ID: PropTag = t(0xFFFD_0003);
pub const ADDRESS_BOOK_IS_MASTER: PropTag = t(0xFFFB_000B);
pub const ADDRESS_BOOK_PARENT_ENTRY_ID: PropTag = t(0xFFFC_0102);

// Store (MS-OXCSTOR 2.2.2.1).
pub const STORE_RECORD_KEY: PropTag = t(0x0FFA_0102);
pub const STORE_SUPPORT_MASK: PropTag = t(0x340D_0003);
pub const STORE_STATE: PropTag = t(0x340E_0003);
pub const MDB_PROVIDER: PropTag = t(0x3414_0102);
pub const IPM_SUBTREE_ENTRY_ID: PropTag = t(0x35E0_0102);
pub const IPM_OUTBOX_ENTRY_ID: PropTag = t(0x35E2_0102);
pub const IPM_WASTEBASKET_ENTRY_ID: PropTag = t(0x35E3_0102);
pub const IPM_SENTMAIL_ENTRY_ID: PropTag = t(0x35E4_0102);
pub const VIEWS_ENTRY_ID: PropTag = t(0x35E5_0102);
pub const COMMON_VIEWS_ENTRY_ID: PropTag = t(0x35E6_0102);
pub const FINDER_ENTRY_ID: PropTag = t(0x35E7_0102);
pub const USER_ENTRY_ID: PropTag = t(0x6619_0102);
pub const MAILBOX_OWNER_ENTRY_ID: PropTag = t(0x661B_0102);
pub const MAILBOX_OWNER_NAME: PropTag = t(0x661C_001F);
pub const OUT_OF_OFFICE_STATE: PropTag = t(0x661D_000B);
pub const MAX_SUBMIT_MESSAGE_SIZE: PropTag = t(0x666D_0003);
pub const LOCALE_ID: PropTag = t(0x66A1_0003);
pub const CODE_PAGE_ID: PropTag = t(0x66C3_0003);
pub const MESSAGE_SIZE_EXTENDED: PropTag = t(0x0E08_0014);
pub const USER_GUID: PropTag = t(0x6A3B_0102); // not served yet; listed for coverage

// ec* codes (MS-OXCDATA 2.4).
pub const EC_SUCCESS: u32 = 0;
pub const EC_WARN_WITH_ERRORS: u32 = 0x0004_0380;
pub const EC_NOT_SUPPORTED: u32 = 0x8004_0102;
pub const EC_NOT_FOUND: u32 = 0x8004_010F;
pub const EC_INVALID_PARAM: u32 = 0x8007_0057;
pub const EC_ACCESS_DENIED: u32 = 0x8007_0005;
pub const EC_UNKNOWN_USER: u32 = 0x0000_03EB;
pub const EC_LOGIN_PERM: u32 = 0x0000_03F2;
pub const EC_NULL_OBJECT: u32 = 0x0000_04B9;
pub const EC_RPC_FORMAT: u32 = 0x0000_04B6;
pub const EC_TOO_COMPLEX: u32 = 0x8004_0117;
pub const EC_TABLE_TOO_BIG: u32 = 0x8004_0403;
pub const EC_GENERAL_FAILURE: u32 = 0x8000_4005;
pub const EC_NOT_ENOUGH_RESOURCES: u32 = 0x8004_010E;

// MAPI object and display types (MS-OXCPRPT 2.2.1.7, MS-OXOABK 2.2.3.11).
pub const MAPI_ABCONT: i32 = 4;
pub const MAPI_MAILUSER: i32 = 6;
pub const MAPI_DISTLIST: i32 = 8;
pub const DT_MAILUSER: u32 = 0x0000_0000;
pub const DT_DISTLIST: u32 = 0x0000_0001;
pub const DT_REMOTE_MAILUSER: u32 = 0x0000_0006;
pub const DT_CONTAINER: u32 = 0x0000_0100;
