//! CREATE (RFC 9051 §6.3.4) with CREATE-SPECIAL-USE (RFC 6154 §5.3):
//!
//! ```text
//! create = "CREATE" SP mailbox [create-params]
//! create-params = SP "(" create-param *( SP create-param) ")"       ; RFC 4466 §2.2
//! create-param = "USE" SP "(" [use-attr *(SP use-attr)] ")"         ; RFC 6154 §6
//! ```

use super::Cursor;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateCommand {
    /// As the client wrote it (modified UTF-7 or UTF-8).
    pub mailbox: Vec<u8>,
    /// The special-use attributes asked for, as written (`\Sent`).
    pub uses: Vec<String>,
}

/// The arguments after `CREATE`. Err is the text for `BAD`.
pub fn parse(cursor: &mut Cursor<'_>) -> Result<CreateCommand, &'static str> {
    let mailbox = cursor
        .astring()
        .ok_or("CREATE needs a mailbox name")?
        .into_owned();
    let mut uses = Vec::new();
    if cursor.open() {
        while !cursor.close() {
            if !cursor.keyword("USE") {
                return Err("Unknown CREATE parameter");
            }
            if !cursor.open() {
                return Err("USE needs a parenthesized list");
            }
            uses.extend(cursor.atoms_to_close("Unterminated USE list")?);
        }
    }
    if !cursor.at_end() {
        return Err("Unexpected text after the CREATE arguments");
    }
    Ok(CreateCommand { mailbox, uses })
}

#[cfg(test)]
mod tests {
    use super::super::{Typed, typed};
    use super::*;

    fn create(command: &str) -> Result<CreateCommand, &'static str> {
        match typed(command.as_bytes())? {
            Typed::Create(command) => Ok(command),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plain_and_special_use() {
        let plain = create("a CREATE \"My Box\"\r\n").unwrap();
        assert_eq!(plain.mailbox, b"My Box");
        assert!(plain.uses.is_empty());
        let sent = create("a create MySent (use (\\Sent))\r\n").unwrap();
        assert_eq!(sent.uses, ["\\Sent"]);
        // A name that looks like the parameter is still a name.
        assert_eq!(
            create("a CREATE \"(USE x)\"\r\n").unwrap().mailbox,
            b"(USE x)"
        );
        assert!(create("a CREATE x (FOO (\\Sent))\r\n").is_err());
        assert!(create("a CREATE x (USE (\\Sent)\r\n").is_err());
        assert!(create("a CREATE\r\n").is_err());
    }
}
