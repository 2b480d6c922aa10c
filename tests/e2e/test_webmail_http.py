"""Webmail at the HTTP level: sessions and cookies, CSRF, security headers, cross-account
access, attachment downloads, autoconfig and autodiscover."""
import base64
import re

from webmail_client import WebClient, import_messages

ALICE = "alice@example.test"
BOB = "bob@example.test"
PASSWORD = "secret-pass"

PLAIN = (b"From: Ann <ann@example.net>\nTo: alice@example.test\nSubject: hello there\n"
         b"Date: Mon, 02 Oct 2023 10:00:00 +0000\nMessage-ID: <m1@example.net>\n\nHello Alice.\n")
WITH_HTML_ATTACHMENT = (
    b"From: bob@example.net\nTo: alice@example.test\nSubject: attached page\n"
    b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"XYZ\"\n\n"
    b"--XYZ\nContent-Type: text/plain\n\nSee attached.\n--XYZ\n"
    b"Content-Type: text/html; name=\"evil.html\"\nContent-Transfer-Encoding: base64\n"
    b"Content-Disposition: attachment; filename=\"evil.html\"\n\n"
    + base64.encodebytes(b"<script>alert(document.cookie)</script>") + b"--XYZ--\n")


def setup_users(tern, tmp_path):
    tern.add_user(ALICE, PASSWORD)
    tern.add_user(BOB, PASSWORD)
    import_messages(tern, tmp_path, ALICE, [PLAIN, WITH_HTML_ATTACHMENT])


def logged_in(tern, email=ALICE, https=False):
    client = WebClient(tern, https=https)
    response = client.login(email, PASSWORD)
    assert response.status == 303, response.text
    return client


def assert_security_headers(response, path):
    csp = response.header("Content-Security-Policy")
    assert "frame-ancestors" in csp, (path, csp)
    assert "default-src 'none'" in csp, (path, csp)
    assert "script-src" not in csp or "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert response.header("X-Content-Type-Options") == "nosniff", path
    assert response.header("Referrer-Policy") == "no-referrer", path


def test_login_sets_a_strict_session_cookie_and_logout_ends_it(tern, tmp_path):
    setup_users(tern, tmp_path)
    client = WebClient(tern)
    assert client.get("/").status == 303 and client.get("/").location() == "/login"
    response = client.login(ALICE, PASSWORD)
    assert response.status == 303 and response.location() == "/"
    session = [c for c in client.set_cookie_headers if c.startswith("tern_session=")][-1]
    assert "HttpOnly" in session and "SameSite=Strict" in session
    assert "Secure" not in session  # plain HTTP on loopback
    inbox = client.get(client.get("/").location())
    assert inbox.status == 200 and "hello there" in inbox.text
    # Logging out needs the CSRF token, then the session is gone.
    assert client.post("/logout", {}).status == 403
    assert client.post("/logout", {"csrf": inbox.csrf()}).status == 303
    assert client.get("/").location() == "/login"


def test_https_cookies_are_secure(tern, tmp_path):
    setup_users(tern, tmp_path)
    client = logged_in(tern, https=True)
    session = [c for c in client.set_cookie_headers if c.startswith("tern_session=")][-1]
    assert "; Secure" in session and "HttpOnly" in session and "SameSite=Strict" in session
    assert client.get("/").status == 303


def test_wrong_password_gets_a_clear_message_and_no_session(tern, tmp_path):
    setup_users(tern, tmp_path)
    client = WebClient(tern)
    response = client.login(ALICE, "wrong")
    assert response.status == 401
    assert "Wrong address or password." in response.text
    assert "tern_session" not in client.cookies


def test_login_without_the_form_token_is_refused(tern, tmp_path):
    setup_users(tern, tmp_path)
    client = WebClient(tern)
    response = client.post("/login", {"email": ALICE, "password": PASSWORD})
    assert response.status == 403
    assert "tern_session" not in client.cookies


def test_every_page_has_the_security_headers(tern, tmp_path):
    setup_users(tern, tmp_path)
    anonymous = WebClient(tern)
    assert_security_headers(anonymous.get("/login"), "/login")
    client = logged_in(tern)
    folders = client.folder_ids()
    inbox = folders["Inbox"]
    uid = client.uids(inbox)[0]
    for path in ["/", f"/folder/{inbox}", f"/message/{inbox}/{uid}", f"/message/{inbox}/{uid}/body",
                 f"/message/{inbox}/{uid}/source", "/settings", "/setup", "/folders", "/compose",
                 "/search?q=hello", "/static/app.css", "/nonexistent"]:
        assert_security_headers(client.get(path), path)
    # Pages may never be framed; only the message body may, by the webmail itself.
    assert "frame-ancestors 'none'" in client.get(f"/folder/{inbox}").header("Content-Security-Policy")
    body_csp = client.get(f"/message/{inbox}/{uid}/body").header("Content-Security-Policy")
    assert "frame-ancestors 'self'" in body_csp and "sandbox" in body_csp
    assert "script-src" not in body_csp


def test_state_changes_need_the_csrf_token(tern, tmp_path):
    setup_users(tern, tmp_path)
    client = logged_in(tern)
    inbox = client.folder_ids()["Inbox"]
    uids = client.uids(inbox)
    page = client.get(f"/folder/{inbox}")
    token = page.csrf()
    # Forged: no token, a wrong token, or another session's token.
    other = logged_in(tern, BOB)
    other_token = other.get(other.get("/").location()).csrf()
    for forged in [{}, {"csrf": "0" * 64}, {"csrf": other_token}]:
        response = client.post(f"/folder/{inbox}/actions",
                               {**forged, "action": "delete", "uid": uids})
        assert response.status == 403, forged
        response = client.post("/folders", {**forged, "op": "create", "name": "Forged"})
        assert response.status == 403
        response = client.post("/settings/password", {**forged, "old": PASSWORD, "new": "x" * 12,
                                                      "again": "x" * 12})
        assert response.status == 403
        response = client.post_multipart("/compose", [*forged.items(), ("to", BOB),
                                                      ("subject", "forged"), ("body", "x"),
                                                      ("intent", "send")])
        assert response.status == 403
    assert client.uids(inbox) == uids
    assert "Forged" not in client.folder_ids()
    # With the token the same request works.
    response = client.post(f"/folder/{inbox}/actions",
                           {"csrf": token, "action": "delete", "uid": uids[0]})
    assert response.status == 303
    assert uids[0] not in client.uids(inbox)


def test_one_account_can_never_reach_anothers_messages(tern, tmp_path):
    setup_users(tern, tmp_path)
    alice = logged_in(tern)
    inbox = alice.folder_ids()["Inbox"]
    uids = alice.uids(inbox)
    bob = logged_in(tern, BOB)
    bob_page = bob.get(bob.get("/").location())
    token = bob_page.csrf()
    for uid in uids:
        for path in [f"/message/{inbox}/{uid}", f"/message/{inbox}/{uid}/body",
                     f"/message/{inbox}/{uid}/source", f"/message/{inbox}/{uid}/part/2",
                     f"/message/{inbox}/{uid}/part/1", f"/compose?reply={inbox}:{uid}",
                     f"/compose?forward={inbox}:{uid}"]:
            response = bob.get(path)
            assert response.status == 404, (path, response.status)
            assert b"hello there" not in response.body and b"See attached" not in response.body
    assert bob.get(f"/folder/{inbox}").status == 404
    assert bob.get(f"/search?q=hello&folder={inbox}").status == 404
    for action in ["delete", "flag", "read", "move"]:
        response = bob.post(f"/folder/{inbox}/actions", {"csrf": token, "action": action,
                                                         "uid": uids, "target": inbox})
        assert response.status == 404, action
    assert bob.post(f"/folder/{inbox}/empty", {"csrf": token}).status == 404
    # Bob's own search finds nothing of Alice's.
    assert "hello there" not in bob.get("/search?q=hello").text
    # Moving into Alice's folder from Bob's is refused too.
    bob_inbox = bob.folder_ids()["Inbox"]
    response = bob.post(f"/folder/{bob_inbox}/actions", {"csrf": token, "action": "move",
                                                         "uid": [1], "target": inbox})
    assert response.status in (303, 404)
    # Alice still has everything, unchanged.
    assert alice.uids(inbox) == uids
    assert "unread" in alice.get(f"/folder/{inbox}").text


def test_attachments_download_and_never_render(tern, tmp_path):
    setup_users(tern, tmp_path)
    client = logged_in(tern)
    inbox = client.folder_ids()["Inbox"]
    uid = max(client.uids(inbox))  # the second message imported
    message = client.get(f"/message/{inbox}/{uid}")
    assert "evil.html" in message.text
    section = re.search(rf'/message/{inbox}/{uid}/part/([0-9.]+)"', message.text).group(1)
    download = client.get(f"/message/{inbox}/{uid}/part/{section}")
    assert download.status == 200
    assert download.header("Content-Type") == "application/octet-stream"
    assert download.header("Content-Disposition").startswith("attachment;")
    assert 'filename="evil.html"' in download.header("Content-Disposition")
    assert download.body == b"<script>alert(document.cookie)</script>"
    assert "sandbox" in download.header("Content-Security-Policy")
    source = client.get(f"/message/{inbox}/{uid}/source")
    assert source.header("Content-Type").startswith("text/plain")
    assert b"Subject: attached page" in source.body


def test_opening_a_message_marks_it_seen(tern, tmp_path):
    setup_users(tern, tmp_path)
    client = logged_in(tern)
    inbox = client.folder_ids()["Inbox"]
    before = client.get(f"/folder/{inbox}")
    assert before.text.count('class="unread') == 2
    uid = client.uids(inbox)[0]
    assert client.get(f"/message/{inbox}/{uid}").status == 200
    after = client.get(f"/folder/{inbox}")
    assert after.text.count('class="unread') == 1


def test_thunderbird_autoconfig(tern):
    client = WebClient(tern)
    for path in ["/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=u%40example.test",
                 "/mail/config-v1.1.xml?emailaddress=u%40example.test"]:
        response = client.get(path)
        assert response.status == 200
        assert response.header("Content-Type").startswith("application/xml")
        text = response.text
        assert '<emailProvider id="example.test">' in text
        assert f"<port>{tern.port('imaps')}</port>" in text
        assert f"<port>{tern.port('imap')}</port>" in text
        assert f"<port>{tern.port('submissions')}</port>" in text
        assert "<hostname>mail.test</hostname>" in text
        assert "<username>%EMAILADDRESS%</username>" in text
        assert '<incomingServer type="pop3">' in text


def test_outlook_autodiscover(tern):
    client = WebClient(tern)
    request = ('<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/'
               'exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>u@example.test'
               '</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/'
               'autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request>'
               '</Autodiscover>')
    response = client.request("POST", "/autodiscover/autodiscover.xml", body=request,
                              headers={"Content-Type": "text/xml"})
    assert response.status == 200
    text = response.text
    assert "<Type>IMAP</Type>" in text and "<Type>SMTP</Type>" in text
    assert f"<Port>{tern.port('imaps')}</Port>" in text
    assert "<LoginName>u@example.test</LoginName>" in text
    assert "<Server>mail.test</Server>" in text
    bad = client.request("POST", "/autodiscover/autodiscover.xml", body="<x/>")
    assert bad.status == 400


def test_apple_profile_and_setup_page_need_a_login(tern, tmp_path):
    setup_users(tern, tmp_path)
    assert WebClient(tern).get("/mobileconfig").location() == "/login"
    client = logged_in(tern)
    profile = client.get("/mobileconfig")
    assert profile.status == 200
    assert profile.header("Content-Type") == "application/x-apple-aspen-config"
    assert "attachment" in profile.header("Content-Disposition")
    assert "<string>alice@example.test</string>" in profile.text
    assert "com.apple.mail.managed" in profile.text
    setup = client.get("/setup")
    assert str(tern.port("imaps")) in setup.text and "STARTTLS" in setup.text


def test_sending_to_a_remote_address_goes_through_the_queue(tmp_path):
    """The webmail sends through the submission path SMTP submission uses: a remote
    recipient is queued (here towards a closed port, so it stays queued), and the copy lands
    in Sent."""
    from conftest import Tern
    tern = Tern(tmp_path / "server",
                extra_config='[queue.routes]\n"elsewhere.example" = "127.0.0.1:9"\n').start()
    try:
        setup_users(tern, tmp_path)
        client = logged_in(tern)
        token = client.get("/compose").csrf()
        response = client.post_multipart("/compose", [("csrf", token),
                                                      ("to", "someone@elsewhere.example"),
                                                      ("subject", "hi"), ("body", "x"),
                                                      ("intent", "send")])
        assert response.status in (200, 303), response.text
        listing = tern.cli("queue", "list").stdout
        assert "alice@example.test" in listing and "1 message(s) queued" in listing
        queue_id = listing.split("\t", 1)[0]
        assert "someone@elsewhere.example" in tern.cli("queue", "show", queue_id).stdout
        sent = client.folder_ids()["Sent"]
        assert len(client.uids(sent)) == 1
    finally:
        tern.stop()


def test_compose_delivers_to_a_local_user_with_a_copy_in_sent(tern, tmp_path):
    setup_users(tern, tmp_path)
    alice = logged_in(tern)
    token = alice.get("/compose").csrf()
    response = alice.post_multipart(
        "/compose",
        [("csrf", token), ("to", f"Bob <{BOB}>"), ("cc", ""), ("bcc", ""), ("subject", "Lunch?"),
         ("body", "Noon at the usual place."), ("intent", "send")],
        files=[("attachment", "menu.txt", "text/plain", b"soup\n")])
    assert response.status == 303, response.text
    assert alice.uids(alice.folder_ids()["Sent"]) == [1]
    bob = logged_in(tern, BOB)
    bob_inbox = bob.folder_ids()["Inbox"]
    listing = bob.get(f"/folder/{bob_inbox}").text
    assert "Lunch?" in listing
    message = bob.get(f"/message/{bob_inbox}/{bob.uids(bob_inbox)[0]}").text
    assert "Noon at the usual place." in message and "menu.txt" in message
    assert "alice@example.test" in message


def test_bad_addresses_are_refused_with_the_field_named(tern, tmp_path):
    setup_users(tern, tmp_path)
    client = logged_in(tern)
    token = client.get("/compose").csrf()
    response = client.post_multipart("/compose", [("csrf", token), ("to", "not an address"),
                                                  ("subject", "x"), ("body", "x"),
                                                  ("intent", "send")])
    assert response.status == 422
    assert "To: &#34;not an address&#34; is not a valid email address." in response.text or \
        "is not a valid email address" in response.text


def test_settings_give_the_display_name_and_signature_and_show_the_quota(tern, tmp_path):
    tern.add_user(ALICE, PASSWORD, quota="10M")
    tern.add_user(BOB, PASSWORD)
    client = logged_in(tern)
    page = client.get("/settings")
    assert 'id="quota-account"' in page.text and "of 10 MB" in page.text
    response = client.post("/settings", {"csrf": page.csrf(), "display_name": "Alice Liddell",
                                         "signature": "Alice\nWonderland Ltd"})
    assert response.status == 303
    compose = client.get("/compose")
    assert "\n\n-- \nAlice\nWonderland Ltd</textarea>" in compose.text
    response = client.post_multipart("/compose", [("csrf", compose.csrf()), ("to", BOB),
                                                  ("subject", "signed"), ("body", "hi"),
                                                  ("intent", "send")])
    assert response.status == 303
    bob = logged_in(tern, BOB)
    inbox = bob.folder_ids()["Inbox"]
    source = bob.get(f"/message/{inbox}/{bob.uids(inbox)[0]}/source").text
    assert '"Alice Liddell" <alice@example.test>' in source or \
        "Alice Liddell <alice@example.test>" in source


def test_password_change_needs_the_old_password(tern, tmp_path):
    tern.add_user(ALICE, PASSWORD)
    client = logged_in(tern)
    other_session = logged_in(tern)
    token = client.get("/settings").csrf()
    response = client.post("/settings/password", {"csrf": token, "old": "wrong", "new": "new-secret-1",
                                                  "again": "new-secret-1"})
    assert response.status == 422 and "The current password is wrong." in response.text
    response = client.post("/settings/password", {"csrf": token, "old": PASSWORD,
                                                  "new": "new-secret-1", "again": "new-secret-1"})
    assert response.status == 303
    # The other session ends; the new password works, the old one no longer does.
    assert other_session.get("/").location() == "/login"
    assert WebClient(tern).login(ALICE, PASSWORD).status == 401
    assert WebClient(tern).login(ALICE, "new-secret-1").status == 303


def test_the_list_pages_by_fifty_newest_first_and_sorts(tern, tmp_path):
    tern.add_user(ALICE, PASSWORD)
    messages = [(f"From: sender{i:02d}@example.net\nTo: {ALICE}\nSubject: number {59 - i:02d}\n"
                 f"Date: Mon, 02 Oct 2023 10:{i:02d}:00 +0000\n\n" + "x" * i + "\n").encode()
                for i in range(60)]
    import_messages(tern, tmp_path, ALICE, messages)
    client = logged_in(tern)
    inbox = client.folder_ids()["Inbox"]
    subjects = lambda path: re.findall(r'<a href="/message/\d+/\d+">([^<]+)</a>',
                                       client.get(path).text)
    first = client.get(f"/folder/{inbox}")
    assert "Page 1 of 2" in first.text and 'rel="next"' in first.text
    assert len(client.uids(inbox)) == 50
    second = subjects(f"/folder/{inbox}?page=2")
    assert len(second) == 10
    # Imported in order, so the last imported (the newest arrival) comes first.
    assert client.uids(inbox)[0] == 60
    assert subjects(f"/folder/{inbox}?sort=subject")[:3] == ["number 00", "number 01", "number 02"]
    assert subjects(f"/folder/{inbox}?sort=subject&order=desc")[:2] == ["number 59", "number 58"]
    assert subjects(f"/folder/{inbox}?sort=size")[0] == "number 00"  # the longest body
    assert subjects(f"/folder/{inbox}?sort=from&order=asc&page=2")[-1] == "number 00"
