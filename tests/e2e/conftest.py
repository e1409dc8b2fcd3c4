"""Browser tests: the real console process (Reflex prod build) and Debian's Chromium."""

from pathlib import Path

import pytest

from tests.support.processes import free_port
from tests.support.receivers import Receiver, SmtpSink
from tests.support.servers import ROOT, GatewayProcess

ADMIN_EMAIL = "admin@console.test"
ADMIN_PASSWORD = "console-admin-pass-1"
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's chromium; never a downloaded browser."""
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def llama_port() -> int:
    """The port a local model may take (tests marked llm start it there): the console allows it."""
    return free_port()


@pytest.fixture(scope="session")
def console_db_env(request) -> dict:
    """DB_PROVIDER of the console: SQLite files, or (--db mongodb) databases on the session's wire server."""
    if request.config.getoption("--db") == "sqlite":
        return {}
    server = request.getfixturevalue("mongo_server")
    return {"DB_PROVIDER": "mongodb", "MONGODB_URI": server.uri, "MONGODB_DB_PREFIX": "console_"}


@pytest.fixture(scope="session")
def console_smtp():
    """The SMTP server the console's alert e-mails go to (aiosmtpd on loopback)."""
    sink = SmtpSink()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def console_hook():
    """The webhook receiver the console's alerts may be sent to."""
    receiver = Receiver(())
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def console(tmp_path_factory, upstream_server, llama_port, console_db_env, console_smtp, console_hook):
    """`python -m gateway_app serve` (what `make run` runs) on a free port with a fresh DATA_DIR; of the
    private addresses, only the fake upstream's, the local model's and the webhook receiver's ports are
    allowed; alert e-mail goes to the session's SMTP sink and the alert scheduler runs every 5 s. One per
    session: a second console would rebuild the shared frontend and point it at its own backend."""
    base = tmp_path_factory.mktemp("console")
    allowed = f"127.0.0.1:{upstream_server.port},127.0.0.1:{llama_port},127.0.0.1:{console_hook.server.server_port}"
    alerts = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(console_smtp.port), "SMTP_SECURITY": "none",
              "SMTP_FROM": "alerts@console.test", "ALERTS_INTERVAL_SECONDS": "5"}
    process = GatewayProcess.start(["serve", "--host", "127.0.0.1"], base / "data", base / "console.log",
                                   extra_env={"ADMIN_EMAIL": ADMIN_EMAIL, "ADMIN_PASSWORD": ADMIN_PASSWORD,
                                              "ALLOW_PRIVATE_UPSTREAMS": "false",
                                              "PROVIDER_ALLOWED_HOSTS": allowed, **alerts, **console_db_env})
    process.wait_ready(timeout=600)  # the first start builds the frontend
    yield process
    process.stop()


@pytest.fixture
def shot():
    """Save a full-page screenshot under test-output/screenshots."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> None:
        page.wait_for_timeout(300)  # let toasts and transitions settle
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take
