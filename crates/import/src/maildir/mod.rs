pub struct MaildirReader;
pub fn maildir_folders() {}
