"""The Grafana dashboard and the Prometheus rules against a running c9pay (see
k8s/monitoring/check, which installs Prometheus, builds c9pay and runs this).

Starts `c9pay up` and Prometheus on loopback, sends a little traffic through the router,
then asks Prometheus, through its HTTP API, for every panel query of c9pay-dashboard.json
and every expression of rules.yml. Each must return at least one series, and every
metric it names must exist. An alert's expression is evaluated twice: as written (it
must be valid; it may be empty, as an alert that does not fire is), and without its
final comparison (the value it compares must exist). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

MONITORING = Path(__file__).resolve().parent
DASHBOARD = MONITORING / "c9pay-dashboard.json"
RULES = MONITORING / "rules.yml"
# What Grafana puts in place of its variables when the check evaluates a panel.
RATE_INTERVAL = "1m"
PASSWORD = "c9pay-demo-password"

failures: list[str] = []
# True during the self-check, whose failures are the expected outcome.
expecting_failure = False


def say(message: str) -> None:
    print(message, flush=True)


def fail(message: str) -> None:
    failures.append(message)
    say(f"  {'refused, as it must be:' if expecting_failure else 'FAIL'} {message}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http(url: str, body: dict | None = None, headers: dict | None = None, timeout: float = 10) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_for(url: str, what: str, seconds: float, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{what} exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if http(url, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    sys.exit(f"{what} did not answer {url} within {seconds:.0f} s:\n{log.read_text()[-4000:]}")


class Router:
    def __init__(self, address: str):
        self.url = f"http://{address}/graphql"

    def graphql(self, name: str, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        status, text = http(self.url, {"operationName": name, "query": query, "variables": variables or {}}, headers)
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            sys.exit(f"{name}: HTTP {status}, not JSON: {text[:500]}")

    def data(self, name: str, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        answer = self.graphql(name, query, variables, token)
        if answer.get("errors") or not answer.get("data"):
            sys.exit(f"traffic: {name} failed: {json.dumps(answer)[:800]}")
        return answer["data"]

    def log_in(self, email: str) -> str:
        data = self.data("LogIn", "mutation LogIn($input: LogInInput!) { logIn(input: $input) { accessToken } }",
                         {"input": {"email": email, "password": PASSWORD}})
        return data["logIn"]["accessToken"]


def subscribe(router: Router, token: str, stop: threading.Event) -> threading.Thread:
    """A wallet subscription over server-sent events, open until `stop`."""

    def follow() -> None:
        body = json.dumps({"operationName": "WalletActivity",
                           "query": 'subscription WalletActivity { walletActivity(after: "0") { id kind amount } }'}).encode()
        request = urllib.request.Request(router.url, data=body, headers={
            "content-type": "application/json", "accept": "text/event-stream", "authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                while not stop.is_set() and response.readline():
                    pass
        except OSError:
            pass

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    return thread


def traffic(router: Router) -> None:
    """Log-ins, a top-up, a payment code and a sale, and a sale refused."""
    ada = router.log_in("ada@demo.c9pay")
    minsu = router.log_in("minsu@demo.c9pay")
    router.data("TopUp", "mutation TopUp($input: TopUpInput!) { topUp(input: $input) { __typename } }",
                {"input": {"amount": 100, "idempotencyKey": str(uuid.uuid4())}}, ada)
    router.data("Wallet", "query Wallet { me { displayName wallet { balance } } }", None, ada)
    code = router.data("IssuePaymentCode", "mutation IssuePaymentCode { issuePaymentCode { token } }", None, ada)
    stores = router.data("MyStores", "query MyStores { me { stores { id products { id } } } }", None, minsu)["me"]["stores"]
    if not stores or not stores[0]["products"]:
        sys.exit(f"traffic: the demo store or its products are missing: {stores}")
    sale = {"storeId": stores[0]["id"], "items": [{"productId": stores[0]["products"][0]["id"], "quantity": 1}],
            "paymentCode": code["issuePaymentCode"]["token"]}
    sell = "mutation Sell($input: SellInput!) { sell(input: $input) { __typename } }"
    router.data("Sell", sell, {"input": {**sale, "idempotencyKey": uuid.uuid4().hex}}, minsu)
    # The same code once more, as a new sale: refused (the code was used).
    refused = router.graphql("Sell", sell, {"input": {**sale, "idempotencyKey": uuid.uuid4().hex}}, minsu)
    codes = [error.get("extensions", {}).get("code") for error in refused.get("errors", [])]
    if not codes:
        sys.exit(f"traffic: a second sale with a used payment code was not refused: {json.dumps(refused)[:500]}")
    say(f"traffic: a sale, and a second sale with the same code refused with {codes[0]}")


def metrics_targets(log: Path) -> dict[str, str]:
    """Part -> host:port of its /metrics, from the line `c9pay up` prints."""
    for _ in range(100):
        found = dict(re.findall(r"(\w+) http://([0-9.]+:[0-9]+)/metrics", log.read_text()))
        if set(found) >= {"router", "auth", "users", "credit", "stores"}:
            return found
        time.sleep(0.1)
    sys.exit(f"c9pay up did not print every part's /metrics address:\n{log.read_text()[-2000:]}")


class Prometheus:
    def __init__(self, address: str):
        self.base = f"http://{address}"

    def query(self, expression: str) -> tuple[list | None, str]:
        url = f"{self.base}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
        status, text = http(url)
        answer = json.loads(text)
        if answer.get("status") != "success":
            return None, f"HTTP {status}: {answer.get('errorType')}: {answer.get('error')}"
        return answer["data"]["result"], ""


# Names in an expression that are metrics or recorded series: everything outside label
# matchers, strings, `by (…)` groupings and durations that is not PromQL's own word.
PROMQL_WORDS = {
    "sum", "avg", "min", "max", "count", "rate", "irate", "increase", "histogram_quantile", "by", "without",
    "or", "and", "unless", "on", "ignoring", "group_left", "group_right", "bool", "offset", "abs", "clamp_min",
    "clamp_max", "topk", "bottomk", "absent", "vector", "scalar", "time", "delta", "deriv", "avg_over_time",
    "max_over_time", "min_over_time", "sum_over_time", "label_replace", "le", "e", "inf", "nan",
}


def series_names(expression: str) -> set[str]:
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', "", expression)
    stripped = re.sub(r"\{[^}]*\}", "", stripped)
    stripped = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", stripped)
    stripped = re.sub(r"\[[^\]]*\]", "", stripped)
    tokens = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", stripped))
    return {token for token in tokens if token.lower() not in PROMQL_WORDS}


def check_expression(prometheus: Prometheus, where: str, expression: str, may_be_empty: bool = False) -> None:
    for name in sorted(series_names(expression)):
        result, error = prometheus.query(f'count({{__name__="{name}"}})')
        if not result:
            fail(f"{where}: names {name}, which no target exports and no rule records {error}")
    result, error = prometheus.query(expression)
    if result is None:
        fail(f"{where}: Prometheus refuses the expression: {error}\n       {expression}")
    elif not result and not may_be_empty:
        fail(f"{where}: no series\n       {expression}")
    else:
        say(f"  ok   {where}: {len(result)} series")


def dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {variable["name"]: variable.get("current", {}).get("value", variable.get("query"))
                 for variable in dashboard["templating"]["list"] if variable["type"] != "datasource"}
    queries = []
    ids = [panel["id"] for panel in dashboard["panels"]]
    if len(ids) != len(set(ids)):
        fail(f"dashboard: panel ids repeat: {ids}")
    for panel in dashboard["panels"]:
        if not panel.get("targets"):
            fail(f"dashboard: panel {panel['title']!r} has no query")
        for target in panel.get("targets", []):
            expression = target["expr"].replace("$__rate_interval", RATE_INTERVAL)
            for name, value in variables.items():
                expression = expression.replace(f"${{{name}}}", value).replace(f"${name}", value)
            if "$" in expression:
                fail(f"dashboard: panel {panel['title']!r} uses a variable the check does not know: {expression}")
            queries.append((f"panel {panel['title']!r} {target['refId']}", expression))
    return queries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--c9pay", required=True)
    parser.add_argument("--prometheus", required=True)
    arguments = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="c9pay-monitoring."))
    processes: list[subprocess.Popen] = []
    stop = threading.Event()
    started = time.monotonic()

    def stop_everything(*_: object) -> None:
        stop.set()
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(work, ignore_errors=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        router_address = f"127.0.0.1:{free_port()}"
        c9pay_log = work / "c9pay.log"
        processes.append(subprocess.Popen(
            [arguments.c9pay, "up", "--data-dir", str(work / "data"), "--listen", router_address],
            stdout=c9pay_log.open("w"), stderr=subprocess.STDOUT, env={**os.environ, "RUST_LOG": "warn"}))
        wait_for(f"http://{router_address}/health", "c9pay up", 180, processes[-1], c9pay_log)
        say(f"c9pay up: router on {router_address}")
        # Every part has its own /metrics (payments are counted by stores, event lag by
        # credit); `c9pay up` prints where, as a cluster's Prometheus finds every pod.
        targets = metrics_targets(c9pay_log)
        say(f"scraping {', '.join(f'{part} {address}' for part, address in sorted(targets.items()))}")

        prometheus_address = f"127.0.0.1:{free_port()}"
        config = work / "prometheus.yml"
        config.write_text(json.dumps({
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{"job_name": "c9pay", "static_configs": [{"targets": sorted(targets.values())}]}],
        }))
        prometheus_log = work / "prometheus.log"
        processes.append(subprocess.Popen(
            [arguments.prometheus, f"--config.file={config}", f"--storage.tsdb.path={work / 'tsdb'}",
             f"--web.listen-address={prometheus_address}", "--log.level=warn"],
            stdout=prometheus_log.open("w"), stderr=subprocess.STDOUT))
        wait_for(f"http://{prometheus_address}/-/ready", "Prometheus", 60, processes[-1], prometheus_log)
        prometheus = Prometheus(prometheus_address)
        say(f"Prometheus on {prometheus_address}, scraping every part every second, rules.yml loaded")

        router = Router(router_address)
        ada = router.log_in("ada@demo.c9pay")
        subscribe(router, ada, stop)
        # Two rounds a few scrapes apart, so that rates have an increase to show.
        traffic(router)
        time.sleep(3)
        traffic(router)
        time.sleep(6)

        # The traffic shows where the payments and event-lag panels look: a sale paid, a
        # sale refused, and a live event delivered to the open subscription.
        say("\n== traffic seen")
        for what, expression in [
            ("a paid sale counted", 'sum(c9pay_payments_total{outcome="paid"}) > 0'),
            ("a refused sale counted", 'sum(c9pay_payments_total{outcome="refused"}) > 0'),
            ("an event's delivery lag measured", "sum(c9pay_event_delivery_lag_seconds_count) > 0"),
        ]:
            check_expression(prometheus, what, expression)

        # The rules as Prometheus loaded them.
        status, text = http(f"http://{prometheus_address}/api/v1/rules")
        groups = json.loads(text)["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        if not rules:
            fail(f"Prometheus loaded no rules from {RULES}")
        say(f"\n== {len(rules)} rules of rules.yml")
        for rule in rules:
            if rule.get("health") not in ("ok", None):
                fail(f"rule {rule['name']}: Prometheus reports {rule.get('health')}: {rule.get('lastError')}")
            if rule["type"] == "recording":
                check_expression(prometheus, f"record {rule['name']}", rule["query"])
            else:
                check_expression(prometheus, f"alert {rule['name']} (as written)", rule["query"], may_be_empty=True)
                value = re.sub(r"\s*(==|!=|>=|<=|>|<)\s*(bool\s+)?[0-9.eE+-]+\s*$", "", rule["query"].strip())
                if value == rule["query"].strip():
                    fail(f"alert {rule['name']}: no final comparison with a number to strip: {rule['query']}")
                else:
                    check_expression(prometheus, f"alert {rule['name']} (its value)", value)

        # Self-check: a query naming a metric nobody exports must fail, or the checks
        # above prove nothing.
        say("\n== self-check")
        global expecting_failure
        before = len(failures)
        expecting_failure = True
        check_expression(prometheus, "canary", 'sum(rate(c9pay_no_such_metric_total[1m]))')
        expecting_failure = False
        if len(failures) == before:
            fail("self-check: a query naming a metric nobody exports was accepted")
        else:
            del failures[before:]
            say("  ok   a query naming a metric nobody exports fails")

        queries = dashboard_queries()
        say(f"\n== {len(queries)} queries of c9pay-dashboard.json")
        for where, expression in queries:
            check_expression(prometheus, where, expression)
    finally:
        stop_everything()

    elapsed = time.monotonic() - started
    if failures:
        say(f"\nk8s/monitoring/check: {len(failures)} FAILED in {elapsed:.0f} s")
        sys.exit(1)
    say(f"\nk8s/monitoring/check: every panel query and rule expression returns series ({elapsed:.0f} s)")


if __name__ == "__main__":
    main()
