//! EMSMDB endpoint bodies (MS-OXCMAPIHTTP 2.2.4).

use super::{request_body, response_fields};

request_body! {
    /// Connect request body (MS-OXCMAPIHTTP 2.2.4.1.1).
    ConnectRequest {
        user_dn: String => asciiz, flags: u32 => u32, default_code_page: u32 => u32,
        lcid_sort: u32 => u32, lcid_string: u32 => u32,
    }
}
response_fields! {
    /// Connect success response fields (MS-OXCMAPIHTTP 2.2.4.1.2).
    ConnectResponse {
        max_polling_interval: u32 => u32, retry_count: u32 => u32, retry_delay: u32 => u32,
        dn_prefix: String => asciiz, display_name: String => utf16z,
    }
}
request_body! {
    /// Execute request body (MS-OXCMAPIHTTP 2.2.4.2.1). `rop_buffer` is an
    /// extended buffer (RPC_HEADER_EXT chain, see [`crate::rpc`]).
    ExecuteRequest { flags: u32 => u32, rop_buffer: Vec<u8> => bytes32, max_rop_out: u32 => u32 }
}
response_fields! {
    /// Execute success response fields (MS-OXCMAPIHTTP 2.2.4.2.2).
    ExecuteResponse { flags: u32 => u32, rop_buffer: Vec<u8> => bytes32 }
}
request_body! {
    /// Disconnect request body (MS-OXCMAPIHTTP 2.2.4.3.1).
    DisconnectRequest {}
}
response_fields! {
    /// Disconnect success response fields (MS-OXCMAPIHTTP 2.2.4.3.2): none.
    DisconnectResponse {}
}
request_body! {
    /// NotificationWait request body (MS-OXCMAPIHTTP 2.2.4.4.1).
    NotificationWaitRequest { flags: u32 => u32 }
}
response_fields! {
    /// NotificationWait success response fields (MS-OXCMAPIHTTP 2.2.4.4.2).
    NotificationWaitResponse { event_pending: u32 => u32 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapihttp::Response;

    #[test]
    fn connect_round_trip() {
        let req = ConnectRequest {
            user_dn: "/o=Viaduc/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=alice".into(),
            flags: 0,
            default_code_page: 1252,
            lcid_sort: 0x409,
            lcid_string: 0x409,
            aux: vec![],
        };
        let b = req.to_bytes().unwrap();
        assert_eq!(ConnectRequest::from_bytes(&b).unwrap(), req);
        let resp = Response::Success {
            error_code: 0,
            fields: ConnectResponse {
                max_polling_interval: 60000,
                retry_count: 6,
                retry_delay: 10000,
                dn_prefix: "/o=Viaduc".into(),
                display_name: "Alice".into(),
            },
            aux: vec![],
        };
        let b = resp.encode().unwrap();
        assert_eq!(Response::<ConnectResponse>::decode(&b).unwrap(), resp);
        let fail: Response<ConnectResponse> = Response::Failure { status_code: 5, aux: vec![] };
        assert_eq!(fail.encode().unwrap(), [5, 0, 0, 0, 0, 0, 0, 0]);
    }
}
