//! Status codes: an open newtype with named constants and reason phrases
//! generated from one table.

use std::fmt;

/// A SIP status code, 100..=699 (RFC 3261 section 7.2). Codes without a named
/// constant are still representable.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(u16);

/// The number is outside 100..=699 or not three digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid SIP status code")]
pub struct InvalidStatusCode;

macro_rules! status_codes {
    ($($code:literal $name:ident $reason:literal;)*) => {
        impl StatusCode {
            $(
                #[doc = concat!("`", stringify!($code), " ", $reason, "`.")]
                pub const $name: StatusCode = StatusCode($code);
            )*

            /// The default reason phrase for codes in the table.
            pub fn canonical_reason(self) -> Option<&'static str> {
                match self.0 {
                    $($code => Some($reason),)*
                    _ => None,
                }
            }
        }
    };
}

status_codes! {
    100 TRYING "Trying";
    180 RINGING "Ringing";
    181 CALL_IS_BEING_FORWARDED "Call Is Being Forwarded";
    182 QUEUED "Queued";
    183 SESSION_PROGRESS "Session Progress";
    199 EARLY_DIALOG_TERMINATED "Early Dialog Terminated";
    200 OK "OK";
    202 ACCEPTED "Accepted";
    204 NO_NOTIFICATION "No Notification";
    300 MULTIPLE_CHOICES "Multiple Choices";
    301 MOVED_PERMANENTLY "Moved Permanently";
    302 MOVED_TEMPORARILY "Moved Temporarily";
    305 USE_PROXY "Use Proxy";
    380 ALTERNATIVE_SERVICE "Alternative Service";
    400 BAD_REQUEST "Bad Request";
    401 UNAUTHORIZED "Unauthorized";
    402 PAYMENT_REQUIRED "Payment Required";
    403 FORBIDDEN "Forbidden";
    404 NOT_FOUND "Not Found";
    405 METHOD_NOT_ALLOWED "Method Not Allowed";
    406 NOT_ACCEPTABLE "Not Acceptable";
    407 PROXY_AUTHENTICATION_REQUIRED "Proxy Authentication Required";
    408 REQUEST_TIMEOUT "Request Timeout";
    410 GONE "Gone";
    412 CONDITIONAL_REQUEST_FAILED "Conditional Request Failed";
    413 REQUEST_ENTITY_TOO_LARGE "Request Entity Too Large";
    414 REQUEST_URI_TOO_LONG "Request-URI Too Long";
    415 UNSUPPORTED_MEDIA_TYPE "Unsupported Media Type";
    416 UNSUPPORTED_URI_SCHEME "Unsupported URI Scheme";
    417 UNKNOWN_RESOURCE_PRIORITY "Unknown Resource-Priority";
    420 BAD_EXTENSION "Bad Extension";
    421 EXTENSION_REQUIRED "Extension Required";
    422 SESSION_INTERVAL_TOO_SMALL "Session Interval Too Small";
    423 INTERVAL_TOO_BRIEF "Interval Too Brief";
    428 USE_IDENTITY_HEADER "Use Identity Header";
    429 PROVIDE_REFERRER_IDENTITY "Provide Referrer Identity";
    430 FLOW_FAILED "Flow Failed";
    433 ANONYMITY_DISALLOWED "Anonymity Disallowed";
    436 BAD_IDENTITY_INFO "Bad Identity-Info";
    437 UNSUPPORTED_CERTIFICATE "Unsupported Certificate";
    438 INVALID_IDENTITY_HEADER "Invalid Identity Header";
    439 FIRST_HOP_LACKS_OUTBOUND_SUPPORT "First Hop Lacks Outbound Support";
    440 MAX_BREADTH_EXCEEDED "Max-Breadth Exceeded";
    469 BAD_INFO_PACKAGE "Bad Info Package";
    470 CONSENT_NEEDED "Consent Needed";
    480 TEMPORARILY_UNAVAILABLE "Temporarily Unavailable";
    481 CALL_OR_TRANSACTION_DOES_NOT_EXIST "Call/Transaction Does Not Exist";
    482 LOOP_DETECTED "Loop Detected";
    483 TOO_MANY_HOPS "Too Many Hops";
    484 ADDRESS_INCOMPLETE "Address Incomplete";
    485 AMBIGUOUS "Ambiguous";
    486 BUSY_HERE "Busy Here";
    487 REQUEST_TERMINATED "Request Terminated";
    488 NOT_ACCEPTABLE_HERE "Not Acceptable Here";
    489 BAD_EVENT "Bad Event";
    491 REQUEST_PENDING "Request Pending";
    493 UNDECIPHERABLE "Undecipherable";
    494 SECURITY_AGREEMENT_REQUIRED "Security Agreement Required";
    500 SERVER_INTERNAL_ERROR "Server Internal Error";
    501 NOT_IMPLEMENTED "Not Implemented";
    502 BAD_GATEWAY "Bad Gateway";
    503 SERVICE_UNAVAILABLE "Service Unavailable";
    504 SERVER_TIMEOUT "Server Time-out";
    505 VERSION_NOT_SUPPORTED "Version Not Supported";
    513 MESSAGE_TOO_LARGE "Message Too Large";
    555 PUSH_NOTIFICATION_SERVICE_NOT_SUPPORTED "Push Notification Service Not Supported";
    580 PRECONDITION_FAILURE "Precondition Failure";
    600 BUSY_EVERYWHERE "Busy Everywhere";
    603 DECLINE "Decline";
    604 DOES_NOT_EXIST_ANYWHERE "Does Not Exist Anywhere";
    606 NOT_ACCEPTABLE_ANYWHERE "Not Acceptable";
    607 UNWANTED "Unwanted";
    608 REJECTED "Rejected";
}

impl StatusCode {
    /// Builds a status code from a number in 100..=699.
    pub const fn new(code: u16) -> Result<StatusCode, InvalidStatusCode> {
        if code >= 100 && code <= 699 {
            Ok(StatusCode(code))
        } else {
            Err(InvalidStatusCode)
        }
    }

    /// Parses exactly three ASCII digits (the Status-Code of a Status-Line).
    pub fn parse(s: &[u8]) -> Result<StatusCode, InvalidStatusCode> {
        match s {
            [a, b, c] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
                StatusCode::new(
                    u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'),
                )
            }
            _ => Err(InvalidStatusCode),
        }
    }

    /// The numeric value.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// 1xx.
    pub const fn is_provisional(self) -> bool {
        self.0 < 200
    }

    /// 2xx.
    pub const fn is_success(self) -> bool {
        self.0 >= 200 && self.0 < 300
    }

    /// 2xx..6xx.
    pub const fn is_final(self) -> bool {
        self.0 >= 200
    }

    /// The reason phrase to send: the table's phrase, or a class phrase for codes outside it.
    pub fn default_reason(self) -> &'static str {
        self.canonical_reason().unwrap_or(match self.0 / 100 {
            1 => "Session Progress",
            2 => "OK",
            3 => "Redirection",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        })
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusCode({} {})", self.0, self.default_reason())
    }
}

impl From<StatusCode> for u16 {
    fn from(c: StatusCode) -> u16 {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_takes_exactly_three_digits_in_range() {
        assert_eq!(StatusCode::parse(b"200"), Ok(StatusCode::OK));
        assert_eq!(StatusCode::parse(b"699").map(StatusCode::as_u16), Ok(699));
        assert_eq!(StatusCode::parse(b"700"), Err(InvalidStatusCode));
        assert_eq!(StatusCode::parse(b"099"), Err(InvalidStatusCode));
        assert_eq!(StatusCode::parse(b"4294967301"), Err(InvalidStatusCode));
        assert_eq!(StatusCode::parse(b"20"), Err(InvalidStatusCode));
    }

    #[test]
    fn unnamed_codes_get_a_class_reason() {
        assert_eq!(StatusCode::BAD_EXTENSION.default_reason(), "Bad Extension");
        assert_eq!(
            StatusCode::new(499).unwrap().default_reason(),
            "Client Error"
        );
    }
}
