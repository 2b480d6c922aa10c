"""Webmail redirects and transport security against the real binary: a client-supplied
`return_to` can only lead back into the webmail (no open redirect), the HTTP -> HTTPS redirect
names the configured hostname whatever the `Host:` header says, HSTS is sent on HTTPS only,
and off loopback nothing but autoconfig is served over plain HTTP (a session cookie sent there
is never honoured)."""
import http.client

from conftest import Tern
from webmail_client import WebClient, import_messages

ALICE = "alice@example.test"
PASSWORD = "secret-pass"
HOSTNAME = "mail.test"  # what conftest's Tern writes as `hostname`
MESSAGE = (b"From: Ann <ann@example.net>\nTo: alice@example.test\nSubject: hello there\n"
           b"Date: Mon, 02 Oct 2023 10:00:00 +0000\nMessage-ID: <m1@example.net>\n\n"
           b"Hello Alice.\n")

# Every one of these would, as a Location, lead a browser off the webmail's origin (or is no
# path at all); each must be refused before the action runs.
HOSTILE_RETURN_TO = [
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "\\evil.example/",
    "/\t/evil.example/",
    "/\r/evil.example/",
    "/\n/evil.example/",
    "/\x00/evil.example/",
    "/\x0b/evil.example/",
    "/\x7f/evil.example/",
    "/\u0085/evil.example/",
    " //evil.example/",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "evil.example",
    "/folder/1\r\nSet-Cookie: tern_session=x",
    "/" + "a" * 5000,
]


def logged_in(tern, https=False):
    client = WebClient(tern, https=https)
    response = client.login(ALICE, PASSWORD)
    assert response.status == 303, response.text
    return client


def unread_count(client, inbox):
    return client.get(f"/folder/{inbox}").text.count('class="unread')


def test_return_to_only_leads_back_into_the_webmail(tern, tmp_path):
    tern.add_user(ALICE, PASSWORD)
    import_messages(tern, tmp_path, ALICE, [MESSAGE])
    client = logged_in(tern)
    inbox = client.folder_ids()["Inbox"]
    uid = client.uids(inbox)[0]
    token = client.get(f"/folder/{inbox}").csrf()
    for hostile in HOSTILE_RETURN_TO:
        response = client.post(f"/folder/{inbox}/actions",
                               {"csrf": token, "action": "read", "uid": uid,
                                "return_to": hostile})
        assert response.status == 400, (hostile, response.status, response.location())
        assert response.location() == "", hostile
        # Refused before it acted: the message is still unread.
        assert unread_count(client, inbox) == 1, hostile
    # A same-origin path is followed as it is, an encoded slash included (it stays a path).
    for local in [f"/folder/{inbox}?page=1&sort=date", "/%2F/evil.example/", "/search?q=a%20b"]:
        response = client.post(f"/folder/{inbox}/actions",
                               {"csrf": token, "action": "flag", "uid": uid, "return_to": local})
        assert response.status == 303 and response.location() == local, (local, response.status)
    # No return_to, or an empty one: back to the list.
    for fields in [{}, {"return_to": ""}]:
        response = client.post(f"/folder/{inbox}/actions",
                               {"csrf": token, "action": "unflag", "uid": uid, **fields})
        assert response.status == 303 and response.location() == f"/folder/{inbox}"
    # The server is still there and the session still works.
    assert client.get(f"/folder/{inbox}").status == 200


def test_hsts_on_https_only(tern, tmp_path):
    tern.add_user(ALICE, PASSWORD)
    secure = WebClient(tern, https=True)
    for path in ["/login", "/static/app.css", "/nonexistent"]:
        assert secure.get(path).header("Strict-Transport-Security") == "max-age=31536000", path
    plain = WebClient(tern)
    for path in ["/login", "/static/app.css", "/nonexistent"]:
        assert plain.get(path).header("Strict-Transport-Security") == "", path


def off_loopback(tmp_path, test_host):
    """A server in the test host's namespace: its clients come from a non-loopback address."""
    server = Tern(tmp_path, services=("http", "https"), netns=test_host.name)
    config = server.config_path.read_text().replace('"127.0.0.1:0"', f'"{test_host.address}:0"')
    server.config_path.write_text(config)
    return server.start()


def remote_client(server, test_host, https=False):
    client = WebClient(server, https=https)
    client.host = test_host.address
    return client


def raw_get(address, port, path, headers):
    conn = http.client.HTTPConnection(address, port, timeout=30)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_the_https_redirect_names_the_configured_host_not_the_clients(tmp_path, test_host):
    server = off_loopback(tmp_path, test_host)
    try:
        https = server.port("https")
        for forged in ["evil.example", "evil.example:2096", "mail.test.evil.example",
                       "evil.example/x", ""]:
            response = raw_get(test_host.address, server.port("http"), "/login",
                               {"Host": forged})
            assert response.getheader("Location") == f"https://{HOSTNAME}:{https}/login", forged
            assert response.status == 301, (forged, response.status)
            assert response.getheader("Strict-Transport-Security") is None
    finally:
        server.stop()


def test_plain_http_off_loopback_serves_no_pages_and_ignores_session_cookies(tmp_path,
                                                                             test_host):
    server = off_loopback(tmp_path, test_host)
    try:
        server.add_user(ALICE, PASSWORD)
        import_messages(server, tmp_path, ALICE, [MESSAGE])
        secure = remote_client(server, test_host, https=True)
        assert secure.login(ALICE, PASSWORD).status == 303
        inbox = secure.folder_ids()["Inbox"]
        assert "hello there" in secure.get(f"/folder/{inbox}").text
        plain = remote_client(server, test_host)
        plain.cookies = dict(secure.cookies)  # the session cookie, sent in clear
        base = f"https://{HOSTNAME}:{server.port('https')}"
        for path in ["/", f"/folder/{inbox}?page=1", f"/message/{inbox}/1", "/settings",
                     "/mobileconfig", "/events", "/static/app.css"]:
            response = plain.get(path)
            assert response.location() == base + path, (path, response.status)
            assert response.status == 301, (path, response.status)
            assert b"hello there" not in response.body and b"alice@" not in response.body
        # A form posted in clear is not acted on, with or without a valid token.
        token = secure.get(f"/folder/{inbox}").csrf()
        response = plain.post(f"/folder/{inbox}/actions",
                              {"csrf": token, "action": "delete", "uid": 1})
        assert response.status == 303 and response.location().startswith(base + "/"), \
            response.status
        assert secure.uids(inbox) == [1]
        # Autoconfig stays plain: mail programs fetch it over HTTP on purpose.
        autoconfig = plain.get("/.well-known/autoconfig/mail/config-v1.1.xml"
                               "?emailaddress=u%40example.test")
        assert autoconfig.status == 200
        assert '<emailProvider id="example.test">' in autoconfig.text
    finally:
        server.stop()


BOB = "bob@example.test"
INJECTIONS = [
    # Item 1 of the security review: a real second From, DKIM-signed for the domain...
    "x@y>\r\nFrom: Bob <bob@example.test",
    # ...and a body of the attacker's own after an empty line.
    "x@y>\r\n\r\n<h1>owned</h1>",
]


def test_a_line_break_in_a_reply_header_adds_no_field_and_no_body(tern, tmp_path):
    from smtp_support import listing, message_bytes
    tern.add_user(ALICE, PASSWORD)
    tern.add_user(BOB, PASSWORD)
    client = WebClient(tern)
    assert client.login(ALICE, PASSWORD).status == 303
    for n, injected in enumerate(INJECTIONS):
        token = client.get("/compose").csrf()
        response = client.post_multipart("/compose", [
            ("csrf", token), ("mode", "reply"), ("in_reply_to", injected),
            ("references", injected), ("to", BOB), ("cc", ""), ("bcc", ""),
            ("subject", f"Re: plan {n}"), ("body", "The real body."), ("intent", "send")])
        assert response.status == 303, response.text
    rows = listing(tern, BOB)
    assert len(rows) == len(INJECTIONS)
    for uid, _, _ in rows:
        raw = message_bytes(tern, BOB, uid)
        header, body = raw.split(b"\r\n\r\n", 1)
        froms = [line for line in header.split(b"\r\n") if line.lower().startswith(b"from:")]
        assert len(froms) == 1 and b"alice@example.test" in froms[0], header
        assert b"bob@example.test" not in froms[0]
        assert b"<h1>" not in raw and b"The real body." in body


def test_the_message_page_shows_the_from_the_checks_read(tern, tmp_path):
    """Item 2: with two From fields (an old or imported message), the list showed the first
    and the message page the second. Both show the first, as IMAP's ENVELOPE does."""
    tern.add_user(ALICE, PASSWORD)
    two = (b"From: First Sender <first@example.net>\nFrom: Second <second@example.net>\n"
           b"To: alice@example.test\nSubject: two froms\n\nbody\n")
    import_messages(tern, tmp_path, ALICE, [two])
    client = WebClient(tern)
    assert client.login(ALICE, PASSWORD).status == 303
    inbox = client.folder_ids()["Inbox"]
    [uid] = client.uids(inbox)
    page = client.get(f"/message/{inbox}/{uid}").text
    assert "first@example.net" in page and "second@example.net" not in page
