"""The admin CLI, run as the real binary: domains, users, aliases, quotas, config."""
import json
import sqlite3
import subprocess

from conftest import tern_bin


def test_config_default_prints_a_commented_config_that_tern_accepts(tern_cli, tmp_path):
    printed = subprocess.run([tern_bin(), "config", "default"], capture_output=True, text=True,
                             check=True).stdout
    assert printed.startswith("# Tern configuration")
    assert 'data_dir = "tern-data"' in printed and "[limits]" in printed
    config = tmp_path / "default.toml"
    config.write_text(printed)
    proc = subprocess.run([tern_bin(), "--config", str(config), "--data-dir",
                           str(tmp_path / "d"), "domain", "list"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_a_bad_config_is_refused_with_the_key_named(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[limits]\nmax_mesage_size = "1M"\n')
    proc = subprocess.run([tern_bin(), "--config", str(config), "domain", "list"],
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "max_mesage_size" in proc.stderr


def test_domains_users_and_quotas(tern_cli):
    cli = tern_cli.cli
    assert "domain example.test added" in cli("domain", "add", "Example.TEST", "--quota", "2G").stdout
    assert cli("domain", "list").stdout.split("\t")[0] == "example.test"
    assert "0 / 2G" in cli("domain", "list").stdout
    dup = cli("domain", "add", "example.test", check=False)
    assert dup.returncode == 1 and "already exists" in dup.stderr

    out = cli("user", "add", "Alice@example.test", "--password-stdin", "--quota", "500M",
              input="s3cret\n").stdout
    assert "account alice@example.test added" in out and "password" not in out
    generated = cli("user", "add", "bob@example.test").stdout
    assert "password: " in generated and len(generated.split("password: ")[1].strip()) == 16
    listing = cli("user", "list").stdout.splitlines()
    assert listing[0].startswith("alice@example.test\t0 messages\t0 / 500M")
    assert listing[1].startswith("bob@example.test\t0 messages\t0 / unlimited")
    assert cli("user", "list", "example.test").stdout.count("\n") == 2

    missing_domain = cli("user", "add", "x@nowhere.test", "--password", "p", check=False)
    assert missing_domain.returncode == 1 and "domain not found" in missing_domain.stderr
    bad_size = cli("user", "quota", "alice@example.test", "lots", check=False)
    assert bad_size.returncode == 1 and "invalid size" in bad_size.stderr
    cli("user", "quota", "alice@example.test", "1G")
    assert "0 / 1G" in cli("user", "list").stdout
    cli("user", "quota", "alice@example.test", "none")
    assert "alice@example.test\t0 messages\t0 / unlimited" in cli("user", "list").stdout

    # The stored hash is Argon2id and changes with passwd; the password itself is never stored.
    db = sqlite3.connect(tern_cli.data_dir / "store.sqlite")
    before = db.execute("SELECT password_hash FROM accounts WHERE email='alice@example.test'").fetchone()[0]
    assert before.startswith("$argon2id$") and "s3cret" not in before
    cli("user", "passwd", "alice@example.test", "--password-stdin", input="n3w\n")
    after = db.execute("SELECT password_hash FROM accounts WHERE email='alice@example.test'").fetchone()[0]
    assert after != before
    db.close()

    cli("user", "remove", "bob@example.test")
    assert "bob@" not in cli("user", "list").stdout
    cli("domain", "remove", "example.test")
    assert cli("domain", "list").stdout == "" and cli("user", "list").stdout == ""


def test_aliases_and_catch_alls(tern_cli):
    cli = tern_cli.cli
    tern_cli.add_user("alice@example.test")
    cli("alias", "add", "sales@example.test", "alice@example.test", "partner@elsewhere.test")
    cli("alias", "add", "@example.test", "alice@example.test")
    rows = cli("alias", "list").stdout.splitlines()
    assert rows == ["@example.test\talice@example.test",
                    "sales@example.test\talice@example.test",
                    "sales@example.test\tpartner@elsewhere.test"]
    clash = cli("alias", "add", "alice@example.test", "x@example.test", check=False)
    assert clash.returncode == 1 and "already exists" in clash.stderr
    unhosted = cli("alias", "add", "x@nowhere.test", "alice@example.test", check=False)
    assert unhosted.returncode == 1
    cli("alias", "remove", "sales@example.test", "partner@elsewhere.test")
    cli("alias", "remove", "@example.test")
    assert cli("alias", "list").stdout.splitlines() == ["sales@example.test\talice@example.test"]


def test_admin_commands_work_while_the_server_runs(tern):
    tern.add_user("live@example.test")
    assert "live@example.test" in tern.cli("user", "list").stdout
    tern.cli("user", "remove", "live@example.test")
    assert tern.cli("user", "list").stdout == ""
    assert tern.proc.poll() is None, "server still running"


def test_a_store_from_a_newer_tern_is_refused(tern_cli):
    tern_cli.cli("domain", "list")
    db = sqlite3.connect(tern_cli.data_dir / "store.sqlite")
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    proc = tern_cli.cli("domain", "list", check=False)
    assert proc.returncode == 1
    assert "newer than this binary" in proc.stderr


def test_serve_demo_creates_an_account_once(tmp_path):
    from conftest import Tern
    server = Tern(tmp_path, services=("imap",), args=("--demo",)).start()
    try:
        log = server.read_log()
        assert "User:      demo@example.test\n  Password:  " in log
        assert f"IMAP:      127.0.0.1:{server.port('imap')} (STARTTLS)" in log
        assert "demo@example.test\t1 messages" in server.cli("user", "list").stdout
    finally:
        server.stop()
    server.start()
    try:
        assert "Password:  as shown when the account was made" in server.read_log()
        assert server.cli("user", "list").stdout.count("demo@") == 1
    finally:
        server.stop()


def test_logs_are_json_with_log_format_json(tmp_path):
    from conftest import Tern
    server = Tern(tmp_path, services=("imap",), global_args=("--log-format", "json")).start()
    server.stop()
    lines = server.read_log().splitlines()
    events = [json.loads(line) for line in lines]
    assert any(e["fields"].get("message") == "listening" and e["fields"].get("service") == "imap"
               for e in events), lines
