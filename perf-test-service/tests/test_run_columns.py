"""Reports and CSVs stay in the database until asked for: lists and status never load them."""

from __future__ import annotations

import re
import tracemalloc

import pytest
from sqlalchemy import event

from perf_test_service.models import Run, Scenario

pytestmark = pytest.mark.timeout(180)
API = "/api/v1/perf-test"
RUNS, REPORT_BYTES = 500, 20_000
# A column selected as such ("perf_runs.report_html AS ..."), not the length() the presence flags use.
LOADED = re.compile(r"perf_runs\.(report_html|stats_csv)(\s+AS\s|\s*,|\s+FROM\s)", re.IGNORECASE)


def test_a_list_of_500_runs_loads_no_report(app, client, auth_header):
    alice = auth_header("tester", "alice")
    with app.extensions["db"].session_factory() as session:
        scenario = Scenario(owner="alice", name="big", host="http://127.0.0.1:9", definition={})
        session.add(scenario)
        session.flush()
        for index in range(RUNS):
            session.add(Run(owner="alice", scenario_id=scenario.id, scenario_name="big", state="passed", priority=5,
                            attempts=1, params={}, report_html=f"<html>{index}" + "r" * REPORT_BYTES,
                            stats_csv="Name,Request Count\n" + "c" * REPORT_BYTES))  # fmt: skip
        session.commit()
        sid, first = scenario.id, session.query(Run.id).first()[0]
    statements: list[str] = []
    engine = app.extensions["db"].engine

    def remember(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", remember)
    tracemalloc.start()
    try:
        page = client.get(f"{API}/scenarios/{sid}/runs", query_string={"limit": RUNS}, headers=alice)
        status = client.get(f"{API}/scenarios/{sid}/status", headers=alice)
        one = client.get(f"{API}/runs/{first}", headers=alice)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        event.remove(engine, "before_cursor_execute", remember)
    assert page.status_code == 200 and len(page.json["items"]) == RUNS
    assert all(item["report_url"] and item["stats_csv_url"] for item in page.json["items"])
    assert status.json["report_url"] and one.json["report_url"]
    # The page's total counts a subquery that names every column; the database returns only the count.
    fetching = [statement for statement in statements if not statement.lstrip().lower().startswith("select count(")]
    loading = [statement for statement in fetching if LOADED.search(statement)]
    assert not loading, [LOADED.search(s).group(0) for s in loading]
    total = RUNS * 2 * REPORT_BYTES
    assert peak < total / 4, f"peak {peak / 1e6:.1f} MB for {total / 1e6:.0f} MB of reports"
    print(f"FIGURE runs list: {RUNS} runs with {total / 1e6:.0f} MB of reports and CSVs listed in "
          f"{len(statements)} queries, none loading them; peak Python memory {peak / 1e6:.1f} MB")  # fmt: skip
    # The report endpoint still serves the content.
    report = client.get(one.json["report_url"], headers=alice)
    assert report.status_code == 200 and report.data.startswith(b"<html>")
