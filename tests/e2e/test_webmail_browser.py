"""The webmail in a real headless Chromium: the everyday journey, live updates, and a corpus of
hostile HTML mail that must neither run script nor reach the network."""
import http.server
import imaplib
import pathlib
import smtplib
import threading
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.ui import Select, WebDriverWait

from webmail_browser import chromium, login, requested_urls, screenshot, settle, wait_for
from webmail_client import WebClient, import_messages

ALICE = "alice@example.test"
BOB = "bob@example.test"
PASSWORD = "secret-pass"


class Canary:
    """An HTTP server standing in for "the Internet": any request it gets is a leak."""

    def __init__(self):
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.end_headers()
                self.wfile.write(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def canary():
    server = Canary()
    yield server
    server.close()


@pytest.fixture
def browser():
    driver = chromium()
    yield driver
    driver.quit()


def html_mail(subject, html):
    return (f"From: Mallory <mallory@evil.example>\nTo: {ALICE}\nSubject: {subject}\n"
            f"MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n{html}\n").encode()


def hostile_corpus(c):
    """(name, HTML) pairs; `c` is the canary's URL. Each payload, if it worked, would call it."""
    return [
        ("script", f"<script>new Image().src='{c}/script'</script><p>hi</p>"),
        ("onerror", f"<img src=x onerror=\"new Image().src='{c}/onerror'\">"),
        ("onload-body", f"<body onload=\"fetch('{c}/body-onload')\">x</body>"),
        ("javascript-url", f"<a id=j href=\"javascript:fetch('{c}/js-url')\">click</a>"),
        ("data-url-frame", f"<iframe src=\"data:text/html,<script>fetch('{c}/data-frame')</script>\"></iframe>"),
        ("data-url-img", f"<img src=\"data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' onload=\\\"fetch('{c}/data-svg')\\\"/>\">"),
        ("svg-script", f"<svg><script>fetch('{c}/svg-script')</script><image href=\"{c}/svg-image\"/></svg>"),
        ("svg-onload", f"<svg onload=\"fetch('{c}/svg-onload')\"><rect/></svg>"),
        ("css-import", f"<style>@import url({c}/import.css); body{{background:url({c}/css-bg)}}</style>x"),
        ("css-inline-url", f"<div style=\"background-image:url({c}/inline-css)\">x</div>"),
        ("meta-refresh", f"<meta http-equiv=\"refresh\" content=\"0;url={c}/meta-refresh\">x"),
        ("form", f"<form action=\"{c}/form\" method=post><input name=a autofocus onfocus=\"fetch('{c}/autofocus')\"><button>go</button></form>"),
        ("base", f"<base href=\"{c}/base/\"><img src=\"relative.png\"><a href=\"rel\">r</a>"),
        ("iframe", f"<iframe src=\"{c}/iframe\"></iframe>"),
        ("object-embed", f"<object data=\"{c}/object\"></object><embed src=\"{c}/embed\">"),
        ("link-stylesheet", f"<link rel=stylesheet href=\"{c}/link.css\">x"),
        ("mxss-noscript", f"<noscript><p title=\"</noscript><img src=x onerror=fetch('{c}/mxss1')>\"></noscript>"),
        ("mxss-math", f"<math><mtext><table><mglyph><style><img src=x onerror=fetch('{c}/mxss2')></style></mglyph></table></mtext></math>"),
        ("mxss-svg-style", f"<svg></p><style><a id=\"</style><img src=1 onerror=fetch('{c}/mxss3')>\">"),
        ("media", f"<video poster=\"{c}/poster\" src=\"{c}/video\"></video><audio src=\"{c}/audio\"></audio>"),
        ("srcset-background", f"<img srcset=\"{c}/srcset 1x\"><table background=\"{c}/table-bg\"><tr><td>x</td></tr></table>"),
        ("ping", f"<a href=\"{c}/link\" ping=\"{c}/ping\">link</a>"),
        ("remote-image", f"<p>Tracker below</p><img src=\"{c}/remote.png\" alt=\"remote\">"),
    ]


def test_hostile_html_runs_no_script_and_reaches_no_remote_address(tern, tmp_path, canary, browser):
    tern.add_user(ALICE, PASSWORD)
    corpus = hostile_corpus(canary.url)
    import_messages(tern, tmp_path, ALICE, [html_mail(name, body) for name, body in corpus])
    base = f"http://127.0.0.1:{tern.port('http')}"
    login(browser, base, ALICE, PASSWORD)
    inbox = browser.current_url.rsplit("/", 1)[1].split("?")[0]
    requested_urls(browser)  # start the network log afresh
    for uid, (name, _) in enumerate(corpus, start=1):
        browser.get(f"{base}/message/{inbox}/{uid}")
        assert browser.find_element(By.CSS_SELECTOR, "h1.subject").text == name
        frame = browser.find_element(By.ID, "body-frame")
        assert frame.get_attribute("sandbox") == "allow-popups allow-popups-to-escape-sandbox"
        settle()
        # Clicking a javascript: link inside the frame must not run it either.
        if name == "javascript-url":
            browser.switch_to.frame(frame)
            links = browser.find_elements(By.ID, "j")
            if links:
                links[0].click()
            browser.switch_to.default_content()
            settle()
        # data: loads never leave the machine; chrome: URLs are the browser's own pages.
        leaked = [u for u in requested_urls(browser)
                  if not u.startswith((base + "/", "data:", "about:", "chrome:"))]
        assert leaked == [], (name, leaked)
        assert canary.hits == [], (name, canary.hits)
        # Nothing replaced or navigated the page itself.
        assert browser.current_url == f"{base}/message/{inbox}/{uid}", name
    # The test can see a leak: asking for remote images does load the tracker.
    uid = len(corpus)
    browser.get(f"{base}/message/{inbox}/{uid}")
    browser.find_element(By.ID, "show-images").click()
    wait_for(browser, lambda d: canary.hits)
    assert canary.hits == ["/remote.png"]


def test_cid_images_show_inline(tern, tmp_path, browser):
    tern.add_user(ALICE, PASSWORD)
    gif = b"R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
    mail = (f"From: ann@example.net\nTo: {ALICE}\nSubject: logo\nMIME-Version: 1.0\n"
            "Content-Type: multipart/related; boundary=\"R\"\n\n--R\n"
            "Content-Type: text/html\n\n<p>Logo:</p><img id=logo src=\"cid:logo@x\">\n--R\n"
            "Content-Type: image/gif\nContent-ID: <logo@x>\nContent-Transfer-Encoding: base64\n\n"
            f"{gif.decode()}\n--R--\n").encode()
    import_messages(tern, tmp_path, ALICE, [mail])
    base = f"http://127.0.0.1:{tern.port('http')}"
    login(browser, base, ALICE, PASSWORD)
    inbox = browser.current_url.rsplit("/", 1)[1].split("?")[0]
    browser.get(f"{base}/message/{inbox}/1")
    browser.switch_to.frame(browser.find_element(By.ID, "body-frame"))
    image = browser.find_element(By.TAG_NAME, "img")  # ammonia drops id attributes
    wait_for(browser, lambda d: d.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth", image) == 1)


def send(browser, to, subject, body, attachment=None):
    browser.find_element(By.ID, "to").clear()
    browser.find_element(By.ID, "to").send_keys(to)
    if subject is not None:
        browser.find_element(By.ID, "subject").clear()
        browser.find_element(By.ID, "subject").send_keys(subject)
    browser.find_element(By.ID, "body").send_keys(body)
    if attachment:
        browser.find_element(By.ID, "attachments").send_keys(str(attachment))
    go(browser, browser.find_element(By.ID, "send"))
    wait_for(browser, lambda d: "notice=sent" in d.current_url)


def open_by_subject(browser, subject):
    go(browser, browser.find_element(By.LINK_TEXT, subject))
    wait_for(browser, lambda d: "/message/" in d.current_url)


def go(browser, element, submit=False):
    """Clicks something that loads a new page, and waits until the new page is there.

    The old page is marked with a window variable, which a new document does not have.
    (Selenium's staleness_of on the old <html> was flaky: while the old document is torn down,
    ChromeDriver can answer "Node with given id does not belong to the document", which is not
    the StaleElementReferenceException that staleness_of waits for.)"""
    browser.execute_script("window.ternOldPage = true")
    if submit:
        element.submit()
    else:
        element.click()
    WebDriverWait(browser, 15).until(new_page_loaded)


def new_page_loaded(browser):
    try:
        return browser.execute_script(
            "return window.ternOldPage === undefined && document.readyState === 'complete'")
    except WebDriverException:
        return False  # mid-navigation: no document to run the script in yet


def folder_link(browser, label):
    for link in browser.find_elements(By.CSS_SELECTOR, "#folders a[data-folder]"):
        if link.text.split("\n")[0].strip().rsplit(" ", 1)[0] == label or link.text.strip() == label \
                or link.text.strip().startswith(label + " "):
            return link
    raise AssertionError(f"no folder {label}")


def test_everyday_journey(tern, tmp_path, browser):
    tern.add_user(ALICE, PASSWORD)
    tern.add_user(BOB, PASSWORD)
    welcome = (f"From: Ann <ann@example.net>\nTo: {ALICE}\nSubject: Welcome aboard\n"
               "Date: Mon, 02 Oct 2023 10:00:00 +0000\nMessage-ID: <welcome@example.net>\n"
               "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"B\"\n\n--B\n"
               "Content-Type: text/plain\n\nGlad to have you here.\n--B\n"
               "Content-Type: text/plain; name=\"notes.txt\"\nContent-Disposition: attachment; "
               "filename=\"notes.txt\"\n\nremember the milk\n--B--\n").encode()
    import_messages(tern, tmp_path, ALICE, [welcome])
    base = f"http://127.0.0.1:{tern.port('http')}"
    b = browser
    login(b, base, ALICE, PASSWORD)
    assert "Welcome aboard" in b.page_source
    screenshot(b, "inbox")

    # Read a message, open its attachment.
    open_by_subject(b, "Welcome aboard")
    assert "Glad to have you here." in b.find_element(By.ID, "text-body").text
    href = b.find_element(By.LINK_TEXT, "notes.txt").get_attribute("href")
    content = b.execute_async_script(
        "fetch(arguments[0]).then(r => r.text()).then(arguments[1])", href)
    assert content.strip() == "remember the milk"
    screenshot(b, "message")

    # Compose with an attachment to a local user.
    b.get(base + "/compose")
    screenshot(b, "compose")
    attachment = tmp_path / "plan.txt"
    attachment.write_text("step one\n")
    send(b, BOB, "The plan", "Here is the plan.", attachment)

    # Bob sees it, with the attachment, and replies; Alice then forwards the reply.
    bob = WebClient(tern)
    assert bob.login(BOB, PASSWORD).status == 303
    bob_inbox = bob.folder_ids()["Inbox"]
    [uid] = bob.uids(bob_inbox)
    page = bob.get(f"/message/{bob_inbox}/{uid}").text
    assert "Here is the plan." in page and "plan.txt" in page
    # The same message over IMAP, with its attachment.
    imap = imaplib.IMAP4("127.0.0.1", tern.port("imap"))
    imap.login(BOB, PASSWORD)
    imap.select("INBOX", readonly=True)
    _, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[])")
    raw = data[0][1]
    assert b"Subject: The plan" in raw and b"plan.txt" in raw
    imap.logout()

    # Reply to the welcome message: the original gets \Answered.
    b.get(base + "/")
    open_by_subject(b, "Welcome aboard")
    go(b, b.find_element(By.ID, "reply"))
    assert b.find_element(By.ID, "subject").get_attribute("value") == "Re: Welcome aboard"
    assert "> Glad to have you here." in b.find_element(By.ID, "body").get_attribute("value")
    b.find_element(By.ID, "to").clear()
    send(b, BOB, None, "Thanks!")
    assert b.find_elements(By.CSS_SELECTOR, "tr .mark.answered")
    bob_messages = bob.get(f"/folder/{bob_inbox}").text
    assert "Re: Welcome aboard" in bob_messages

    # Forward the welcome message: its attachment goes along.
    open_by_subject(b, "Welcome aboard")
    go(b, b.find_element(By.ID, "forward"))
    assert b.find_element(By.ID, "subject").get_attribute("value") == "Fwd: Welcome aboard"
    send(b, BOB, None, "FYI")
    forwarded = [u for u in bob.uids(bob_inbox)]
    page = bob.get(f"/message/{bob_inbox}/{max(forwarded)}").text
    assert "Fwd: Welcome aboard" in page and "notes.txt" in page

    # Save a draft, reopen it and continue.
    b.get(base + "/compose")
    b.find_element(By.ID, "to").send_keys(BOB)
    b.find_element(By.ID, "subject").send_keys("Unfinished thoughts")
    b.find_element(By.ID, "body").send_keys("First line")
    go(b, b.find_element(By.ID, "save-draft"))
    wait_for(b, lambda d: "notice=draft" in d.current_url)
    open_by_subject(b, "Unfinished thoughts")
    go(b, b.find_element(By.LINK_TEXT, "Continue editing"))
    assert b.find_element(By.ID, "subject").get_attribute("value") == "Unfinished thoughts"
    assert b.find_element(By.ID, "to").get_attribute("value") == BOB
    assert "First line" in b.find_element(By.ID, "body").get_attribute("value")
    b.find_element(By.ID, "body").send_keys(" and the second.")
    go(b, b.find_element(By.ID, "send"))
    wait_for(b, lambda d: "notice=sent" in d.current_url)
    go(b, folder_link(b, "Drafts"))
    assert "Unfinished thoughts" not in b.find_element(By.ID, "listing").text

    # Search (the header's search looks in the current folder).
    go(b, folder_link(b, "Inbox"))
    search = b.find_element(By.CSS_SELECTOR, "header .search input[type=search]")
    search.send_keys("glad to have")
    go(b, search, submit=True)
    wait_for(b, lambda d: "/search" in d.current_url)
    assert "Welcome aboard" in b.page_source

    # Create and rename a folder, move a message into it.
    b.get(base + "/folders")
    b.find_element(By.ID, "new-folder").send_keys("Projects")
    go(b, b.find_element(By.ID, "create-folder"))
    rename = wait_for(b, lambda d: d.find_elements(
        By.CSS_SELECTOR, "input[aria-label='New name for Projects']"))[0]
    rename.clear()
    rename.send_keys("Archive 2026")
    go(b, rename, submit=True)
    wait_for(b, lambda d: "Archive 2026" in d.find_element(By.ID, "folders").text)
    b.get(base + "/")
    row = b.find_element(By.XPATH, "//tr[.//a[text()='Welcome aboard']]")
    row.find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
    Select(b.find_element(By.NAME, "target")).select_by_visible_text("Archive 2026")
    go(b, b.find_element(By.CSS_SELECTOR, "button[value=move]"))
    assert "Welcome aboard" not in b.find_element(By.ID, "listing").text
    go(b, folder_link(b, "Archive 2026"))
    assert "Welcome aboard" in b.find_element(By.ID, "listing").text

    # Delete (to Trash), then empty Trash.
    row = b.find_element(By.XPATH, "//tr[.//a[text()='Welcome aboard']]")
    row.find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
    go(b, b.find_element(By.CSS_SELECTOR, "button[value=delete]"))
    go(b, folder_link(b, "Trash"))
    assert "Welcome aboard" in b.find_element(By.ID, "listing").text
    go(b, b.find_element(By.CSS_SELECTOR, ".empty-form button"))
    assert "Welcome aboard" not in b.find_element(By.ID, "listing").text
    assert "No messages." in b.page_source

    # Change the password, log out, log in with the new one.
    b.get(base + "/settings")
    b.find_element(By.ID, "old-password").send_keys(PASSWORD)
    b.find_element(By.ID, "new-password").send_keys("a-new-secret")
    b.find_element(By.ID, "again-password").send_keys("a-new-secret")
    go(b, b.find_element(By.CSS_SELECTOR, "#password-form button"))
    assert "Password changed." in b.find_element(By.ID, "settings-notice").text
    b.find_element(By.CSS_SELECTOR, "form[action='/logout'] button").click()
    wait_for(b, lambda d: d.current_url.endswith("/login"))
    b.find_element(By.NAME, "email").send_keys(ALICE)
    b.find_element(By.NAME, "password").send_keys(PASSWORD)
    # The refusal may come after the throttle's delay: wait for the new page.
    go(b, b.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "Wrong address or password." in b.find_element(By.ID, "login-error").text
    login(b, base, ALICE, "a-new-secret")


def test_new_mail_appears_without_a_reload(tern, tmp_path, browser):
    tern.add_user(ALICE, PASSWORD)
    tern.add_user(BOB, PASSWORD)
    base = f"http://127.0.0.1:{tern.port('http')}"
    login(browser, base, ALICE, PASSWORD)
    browser.execute_script("window.__no_reload_marker = 42")
    time.sleep(0.5)  # the event stream connects
    # Delivered from outside, by SMTP into the MX.
    with smtplib.SMTP("127.0.0.1", tern.port("smtp"), timeout=30) as smtp:
        smtp.sendmail("someone@example.net", [ALICE],
                      f"From: someone@example.net\r\nTo: {ALICE}\r\nSubject: Live one\r\n\r\nhi\r\n")
    wait_for(browser, lambda d: "Live one" in d.find_element(By.ID, "listing").text)
    assert browser.execute_script("return window.__no_reload_marker") == 42
    assert "1" in folder_link(browser, "Inbox").text
