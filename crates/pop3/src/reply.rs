//! Status lines: `+OK` / `-ERR`, with the extended response codes of RFC 2449 §8 and
//! RFC 3206 where they apply.

/// A response code in brackets after `-ERR` (RFC 2449 §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// RFC 2449 §8.1.1: the maildrop is locked by another session.
    InUse,
    /// RFC 2449 §8.1.2: logged in too soon after the previous login.
    LoginDelay,
    /// RFC 3206 §4: a temporary system problem; retrying later may work.
    SysTemp,
    /// RFC 3206 §4: a permanent system problem.
    SysPerm,
    /// RFC 3206 §5: the credentials (or how they were sent) were refused.
    Auth,
}

impl Code {
    fn as_str(self) -> &'static str {
        match self {
            Code::InUse => "IN-USE",
            Code::LoginDelay => "LOGIN-DELAY",
            Code::SysTemp => "SYS/TEMP",
            Code::SysPerm => "SYS/PERM",
            Code::Auth => "AUTH",
        }
    }
}

pub fn ok(text: &str) -> String {
    if text.is_empty() {
        "+OK\r\n".to_owned()
    } else {
        format!("+OK {text}\r\n")
    }
}

pub fn err(text: &str) -> String {
    format!("-ERR {text}\r\n")
}

pub fn err_code(code: Code, text: &str) -> String {
    format!("-ERR [{}] {text}\r\n", code.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(ok(""), "+OK\r\n");
        assert_eq!(ok("2 320"), "+OK 2 320\r\n");
        assert_eq!(err("no such message"), "-ERR no such message\r\n");
        assert_eq!(err_code(Code::InUse, "locked"), "-ERR [IN-USE] locked\r\n");
        assert_eq!(err_code(Code::SysTemp, "x"), "-ERR [SYS/TEMP] x\r\n");
        assert_eq!(err_code(Code::SysPerm, "x"), "-ERR [SYS/PERM] x\r\n");
        assert_eq!(err_code(Code::Auth, "x"), "-ERR [AUTH] x\r\n");
        assert_eq!(err_code(Code::LoginDelay, "x"), "-ERR [LOGIN-DELAY] x\r\n");
    }
}
