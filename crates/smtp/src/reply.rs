//! SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 2034, RFC 3463).

/// One reply: a code, an enhanced status code and text (several lines for EHLO).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// "x.y.z", or empty (greeting, EHLO).
    pub status: &'static str,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn new(code: u16, status: &'static str, text: impl Into<String>) -> Reply {
        Reply {
            code,
            status,
            lines: vec![text.into()],
        }
    }

    /// A positive or intermediate reply.
    pub fn is_error(&self) -> bool {
        self.code >= 400
    }

    /// The bytes on the wire: `code-text` for all but the last line, `code text` for it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            // No control characters from data (an address echoed back) reach the wire.
            let clean: String = line.chars().filter(|c| !c.is_control()).collect();
            if self.status.is_empty() {
                out.extend_from_slice(format!("{}{sep}{clean}\r\n", self.code).as_bytes());
            } else {
                out.extend_from_slice(
                    format!("{}{sep}{} {clean}\r\n", self.code, self.status).as_bytes(),
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_and_enhanced_codes() {
        let r = Reply {
            code: 250,
            status: "",
            lines: vec!["mx.test".into(), "PIPELINING".into()],
        };
        assert_eq!(r.to_bytes(), b"250-mx.test\r\n250 PIPELINING\r\n".to_vec());
        let r = Reply::new(550, "5.1.1", "no\r\nsuch user");
        assert_eq!(r.to_bytes(), b"550 5.1.1 nosuch user\r\n".to_vec());
    }
}
