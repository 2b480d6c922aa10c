"""Helpers for the webmail tests: a small HTTP client with cookies that does not follow
redirects (so tests see every status and header), and mail import through `tern import`."""
import html
import http.client
import re
import ssl
import urllib.parse


class Response:
    def __init__(self, resp):
        self.status = resp.status
        self.headers = resp.headers
        self.body = resp.read()
        self.text = self.body.decode("utf-8", "replace")

    def header(self, name):
        return self.headers.get(name) or ""

    def csrf(self):
        match = re.search(r'name="csrf" value="([0-9a-f]+)"', self.text)
        assert match, f"no CSRF token on the page:\n{self.text[:2000]}"
        return match.group(1)

    def location(self):
        return self.header("Location")


class WebClient:
    """One browser-like client: keeps cookies, sends forms, never follows redirects."""

    def __init__(self, tern, https=False):
        self.host = "127.0.0.1"
        self.port = tern.port("https" if https else "http")
        self.https = https
        self.cert = tern.cert
        self.cookies = {}
        self.set_cookie_headers = []

    def connect(self):
        if self.https:
            context = ssl.create_default_context(cafile=self.cert)
            context.check_hostname = False
            return http.client.HTTPSConnection(self.host, self.port, context=context, timeout=30)
        return http.client.HTTPConnection(self.host, self.port, timeout=30)

    def request(self, method, path, body=None, headers=None):
        conn = self.connect()
        all_headers = {"Host": f"{self.host}:{self.port}"}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        all_headers.update(headers or {})
        conn.request(method, path, body=body, headers=all_headers)
        response = Response(conn.getresponse())
        conn.close()
        for value in response.headers.get_all("Set-Cookie") or []:
            self.set_cookie_headers.append(value)
            name, _, rest = value.partition("=")
            cookie_value = rest.split(";", 1)[0]
            if "Max-Age=0" in value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = cookie_value
        return response

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, fields, headers=None):
        body = urllib.parse.urlencode(fields, doseq=True)
        all_headers = {"Content-Type": "application/x-www-form-urlencoded"}
        all_headers.update(headers or {})
        return self.request("POST", path, body=body, headers=all_headers)

    def post_multipart(self, path, fields, files=()):
        boundary = "----ternTestBoundary7MA4YWxkTrZu0gW"
        parts = []
        for name, value in fields:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                         .encode() + value.encode() + b"\r\n")
        for name, filename, content_type, data in files:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                         f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
                         + data + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request("POST", path, body=body, headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}"})

    def login(self, email, password):
        page = self.get("/login")
        token = re.search(r'name="login_token" value="([0-9a-f]+)"', page.text).group(1)
        return self.post("/login", {"login_token": token, "email": email, "password": password})

    def folder_ids(self):
        """{label: id} from the side bar of the mailbox page."""
        page = self.get(self.get("/").location())
        return {html.unescape(label).strip(): int(fid) for fid, label in re.findall(
            r'<a href="/folder/(\d+)" data-folder="\d+">([^<]*)', page.text)}

    def uids(self, folder_id):
        page = self.get(f"/folder/{folder_id}")
        return [int(u) for u in re.findall(r'data-uid="(\d+)"', page.text)]


def mbox(messages):
    out = b""
    for msg in messages:
        out += b"From sender@example.net Mon Oct  2 10:00:00 2023\n"
        for line in msg.replace(b"\r\n", b"\n").split(b"\n"):
            if line.lstrip(b">").startswith(b"From "):
                line = b">" + line
            out += line + b"\n"
        out += b"\n"
    return out


def import_messages(tern, tmp_path, email, messages, folder=None):
    path = tmp_path / f"import-{abs(hash((email, folder, len(messages))))}.mbox"
    path.write_bytes(mbox(messages))
    args = ["import", email, "--mbox", str(path)]
    if folder:
        args += ["--folder", folder]
    tern.cli(*args)
