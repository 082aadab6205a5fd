"""A shortened class (20 students, 20 s) against the production server process: not one error.

The full load (60 students, 2 minutes) is `tests/bench/load_students.py`; see docs/RELIABILITY.md.
"""
from __future__ import annotations

from tests.bench.load_students import load_against_server


def test_a_class_of_students_gets_no_errors(tmp_path):
    report = load_against_server(students=20, seconds=20, model_delay=0.3, workdir=tmp_path)
    assert report.errors == []
    assert report.runs_finished > 0 and report.status_ms
