"""curl's IMAP client over IMAPS with the test certificate: LIST, EXAMINE, SEARCH, FETCH and
APPEND."""
import subprocess

from imap_helpers import PASSWORD, USER, login


def curl(tern, path="", *args):
    url = f"imaps://localhost:{tern.port('imaps')}/{path}"
    proc = subprocess.run(
        ["curl", "--silent", "--show-error", "--cacert", tern.cert,
         "--user", f"{USER}:{PASSWORD}", url, *args],
        capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def test_curl_list_examine_search_fetch_append(tern, tmp_path):
    imap = login(tern)
    imap.append("INBOX", None, None, b"Subject: curl one\r\n\r\nfirst body\r\n")
    imap.append("INBOX", "(\\Seen)", None, b"Subject: curl two\r\n\r\nsecond body\r\n")
    listing = curl(tern)
    assert b'"/" INBOX' in listing and b'"/" Sent' in listing
    examine = curl(tern, "INBOX", "--request", "EXAMINE INBOX")
    assert b"2 EXISTS" in examine
    found = curl(tern, "INBOX?UNSEEN")
    assert found.strip() == b"* SEARCH 1"
    body = curl(tern, "INBOX/;UID=2")
    assert b"Subject: curl two" in body and b"second body" in body
    message = tmp_path / "upload.eml"
    message.write_bytes(b"Subject: uploaded by curl\r\n\r\nhello from curl\r\n")
    curl(tern, "Drafts", "--upload-file", str(message))
    imap.select("Drafts")
    typ, data = imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"uploaded by curl" in data[0][1]
